package topology

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/render"
	"github.com/sdnlab/sdnlab/topology/frrnode"
)

// The SDN engines a node can run.
const (
	EngineAgent = "agent" // sdnlab's EVPN agent (embedded GoBGP)
	EngineFRR   = "frr"   // Debian's FRR with the rendered frr.conf
)

// SetEngine gives every node the engine e (test --engine overrides the
// lab file). "" leaves the lab file's choice.
func (l *Lab) SetEngine(e string) error {
	switch e {
	case "":
		return nil
	case EngineAgent, EngineFRR:
	default:
		return fmt.Errorf("%q is not an engine: want agent or frr", e)
	}
	for _, n := range l.Nodes {
		n.Engine = e
	}
	for _, rt := range l.Routers {
		if rt.Reflector != nil {
			rt.Engine = e
		}
	}
	return nil
}

// SetFRR makes every node run FRR release rel ("" as the lab file says,
// 8 the host's Debian 12 FRR 8.4, 10 Debian 13's FRR 10.3 from the private
// root), as the lab file's frr: would. FRR 10 needs that root.
func (l *Lab) SetFRR(rel string) error {
	if rel == "" {
		return nil
	}
	r, ok := frrRelease(rel)
	if !ok {
		return fmt.Errorf("%q is not an FRR release sdnlab runs: want 8 or 10", rel)
	}
	if rel = r; rel == "10" {
		if _, err := os.Stat(filepath.Join(FRR10Root, "usr/lib/frr/zebra")); err != nil {
			return fmt.Errorf("FRR 10 runs from %s, which has no FRR: build it once with sudo make frr10", FRR10Root)
		}
	}
	for _, n := range l.Nodes {
		n.FRRRelease = rel
	}
	for _, rt := range l.Routers {
		rt.FRRRelease = rel
	}
	return nil
}

// frrRelease reads an FRR release as the lab file's frr: and --frr name it
// (8, 8.4, 10, 10.3) as a Node.FRRRelease ("" the host's 8.4, or "10").
func frrRelease(v string) (rel string, ok bool) {
	switch v {
	case "8", "8.4":
		return "", true
	case "10", "10.3":
		return "10", true
	}
	return "", false
}

// EngineOf is a node's engine (EngineAgent for labs saved before engines).
func (n *Node) EngineOf() string {
	if n.Engine == "" {
		return EngineAgent
	}
	return n.Engine
}

// FRR10Root is the private Debian 13 root that `frr: 10` runs FRR 10.3
// from (built once by `make frr10`: debootstrap plus Debian's frr, never
// installed over the host's packages).
const FRR10Root = "/var/cache/sdnlab/frr10-root"

// FRR10Version is the version frr.conf says for FRR 10 nodes (Debian 13's).
const FRR10Version = "10.3"

// FRRDir is the directory of a node's FRR instance in the lab's state
// directory (etc/, run/ with the pid files, vty sockets and logs).
func FRRDir(stateDir, node string) string {
	return filepath.Join(stateDir, "nodes", node, "frr")
}

// EnginePIDs are the processes of a node's SDN engine: its agent, or its
// FRR daemons (watchfrr first); none when it is not running.
func EnginePIDs(lab *Lab, stateDir, node string) []int {
	n := lab.Node(node)
	if n == nil {
		return nil
	}
	if n.EngineOf() == EngineFRR {
		return frrnode.PIDs(FRRDir(stateDir, node), n.NS)
	}
	if pid := AgentPID(lab, stateDir, node); pid != 0 {
		return []int{pid}
	}
	return nil
}

// EngineRunning tells whether a node's engine runs (its agent, or FRR's
// zebra), with a short description for status.
func EngineRunning(lab *Lab, stateDir, node string) (bool, string) {
	n := lab.Node(node)
	if n == nil {
		return false, "no such node"
	}
	if n.EngineOf() == EngineFRR {
		pids := frrnode.PIDs(FRRDir(stateDir, node), n.NS)
		if frrnode.PID(FRRDir(stateDir, node), n.NS) == 0 {
			return false, "frr not running"
		}
		return true, fmt.Sprintf("frr %d daemons", len(pids))
	}
	if pid := AgentPID(lab, stateDir, node); pid != 0 {
		return true, fmt.Sprintf("agent pid %d", pid)
	}
	return false, "no agent"
}

// KillEngine sends SIGKILL to a node's engine: the agent, or every FRR
// daemon (watchfrr first, so nothing restarts them). A node crash.
func KillEngine(lab *Lab, stateDir, node string) error {
	if err := proc.Kill(EnginePIDs(lab, stateDir, node)); err != nil {
		return fmt.Errorf("engine of %s: %w", node, err)
	}
	return nil
}

// HostFRRVersion is the FRR release of the host's Debian 12 packages, which
// FRR nodes run unless the lab file says frr: 10.
const HostFRRVersion = "8.4.4"

// FRRVersion is the FRR release an FRR node runs (the host's, or Debian
// 13's with frr: 10); "" for an agent node.
func (n *Node) FRRVersion() string {
	switch {
	case n.EngineOf() != EngineFRR:
		return ""
	case n.FRRRelease == "10":
		return FRR10Version
	}
	return HostFRRVersion
}

// frrInstance is a node's FRR: the frr.conf render writes for its plan,
// and its VRF namespaces under the VRF names of frr.conf.
func frrInstance(lab *Lab, n *Node, dir string) *frrnode.Instance {
	p := lab.Plans[n.Name]
	// The "frr version" line names the release that runs it, as Proxmox
	// writes its own FRR's version.
	version, root := n.FRRVersion(), ""
	if n.FRRRelease == "10" {
		root = FRR10Root
	}
	conf := render.FRR(p, version)
	in := &frrnode.Instance{Node: n.Name, NS: n.NS, Dir: FRRDir(dir, n.Name), Conf: conf, Root: root,
		Daemons: frrnode.DaemonsFor(conf), VRFs: map[string]string{}, Additions: fabricAdditions(lab, p)}
	for _, z := range p.Zones {
		if z.Type != "evpn" {
			continue
		}
		if ns := VRFNS(lab.Name, n.Name, z.ID); nsutil.Exists(ns) {
			in.VRFs[plan.EVPNVRF(z.ID)] = ns
		}
		if !strings.Contains(conf, "\n  import vrf "+plan.EVPNVRF(z.ID)+"\n") {
			continue
		}
		// An exit node leaks the zone into the default instance.
		for _, v := range z.VNets {
			for _, sn := range v.Subnets {
				in.Leaked = append(in.Leaked, sn.Prefix)
			}
		}
		in.Leaked = append(in.Leaked, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"))
	}
	return in
}

// startFRR starts FRR on the lab's FRR nodes that have a routing
// configuration, or reloads the running ones whose frr.conf changed.
func startFRR(ctx context.Context, lab *Lab, dir string, workers int, pr *progress) error {
	var nodes []*Node
	for _, n := range lab.Nodes {
		if n.EngineOf() == EngineFRR && lab.Plans[n.Name] != nil && lab.Plans[n.Name].FRR != nil {
			nodes = append(nodes, n)
		}
	}
	return runFRR(ctx, nodes, workers, pr, "", "frr.conf",
		func(n *Node) *frrnode.Instance { return frrInstance(lab, n, dir) },
		func(n *Node, in *frrnode.Instance) string {
			vrf := "no VRFs"
			if len(in.VRFs) > 0 {
				vrf = fmt.Sprintf("%d VRFs as namespaces (zebra -n; %s)", len(in.VRFs), vrfModelWhy(lab.Caps))
			}
			rel := "FRR 8.4 (host)"
			if in.Root != "" {
				rel = "FRR " + FRR10Version + " (" + in.Root + ")"
			}
			return fmt.Sprintf("%s started (%d daemons, %s)", rel, len(frrnode.PIDs(in.Dir, n.NS)), vrf)
		})
}

// runFRR brings up the FRR instance that instance builds for each node (in
// parallel: frrinit takes about a second): a running one is reloaded (and
// the reload reported when its conf, what, changed), any other started
// clean and reported with started's words. role ("" or e.g. "fabric")
// names the instance in errors.
func runFRR(ctx context.Context, nodes []*Node, workers int, pr *progress, role, what string,
	instance func(*Node) *frrnode.Instance, started func(*Node, *frrnode.Instance) string) error {
	return parallel(ctx, len(nodes), workers, func(i int) error {
		n := nodes[i]
		who := "node " + n.Name
		if role != "" {
			who += ": " + role
		}
		in := instance(n)
		reloaded, changed, err := in.Ensure(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", who, err)
		case changed:
			pr.printf("node %s: %s changed: reloaded (frr-reload.py)", n.Name, what)
		case !reloaded:
			pr.printf("node %s: %s", n.Name, started(n, in))
		}
		return nil
	})
}

// Show asks a node's engine for its state in the agent's schema: the
// agent over its control socket, FRR through vtysh JSON and the kernel.
// req is the agent request (Show "all", or Clear "dup").
func Show(ctx context.Context, lab *Lab, stateDir, node string, req evpn.Request) (*evpn.Snapshot, error) {
	n := lab.Node(node)
	if n == nil {
		for _, rt := range lab.Routers {
			if rt.Name == node && rt.Reflector != nil {
				if rt.Engine == EngineFRR {
					return frrnode.Snapshot(ctx, node, rt.NS, FRRDir(stateDir, node), nil)
				}
				return evpn.Call(ctx, filepath.Join(stateDir, "nodes", node, "agent.sock"), req)
			}
		}
		return nil, fmt.Errorf("lab %s has no node %s", lab.Name, node)
	}
	if n.EngineOf() != EngineFRR {
		return evpn.Call(ctx, filepath.Join(stateDir, "nodes", node, "agent.sock"), req)
	}
	dir := FRRDir(stateDir, node)
	cleared := 0
	if req.Clear == "dup" {
		c, err := frrnode.ClearDup(ctx, n.NS, dir, req.VNI, req.MAC)
		if err != nil {
			return nil, err
		}
		cleared = c
	}
	s, err := frrnode.Snapshot(ctx, node, n.NS, dir, lab.vrfNamespaces(node))
	if err != nil {
		return nil, err
	}
	s.Cleared = cleared
	return s, nil
}

// vrfNamespaces are the VRF namespaces of a node that exist.
func (l *Lab) vrfNamespaces(node string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range l.VNets {
		if v.ZoneType != "evpn" || seen[v.Zone] {
			continue
		}
		seen[v.Zone] = true
		if ns := VRFNS(l.Name, node, v.Zone); nsutil.Exists(ns) {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// stopOtherEngines stops what a node no longer runs, before any engine
// starts: the agent of a node that moved to FRR (or lost its controller),
// the FRR of a node that moved to the agent. `up` after editing engine:.
func stopOtherEngines(lab *Lab, dir string, pr *progress) error {
	for _, n := range lab.Nodes {
		hasPlan := lab.Plans[n.Name] != nil && lab.Plans[n.Name].FRR != nil
		if (!hasPlan || n.EngineOf() != EngineAgent) && AgentPID(lab, dir, n.Name) != 0 {
			if err := proc.Stop(context.Background(), agentProc(lab.Name, dir, n, ""), 2*time.Second); err != nil {
				return err
			}
			pr.printf("node %s: agent stopped (engine %s)", n.Name, n.EngineOf())
		}
		fd := FRRDir(dir, n.Name)
		// An agent node's FRR for its fabrics stays; an FRR node's whole
		// FRR replaces a fabric-only one.
		keep := needsFabricFRR(lab, n) && fabricOnlyRunning(fd)
		if n.EngineOf() == EngineFRR && hasPlan && fabricOnlyRunning(fd) {
			keep = false
		} else if n.EngineOf() == EngineFRR && hasPlan {
			keep = true
		}
		if !keep && len(frrnode.PIDs(fd, n.NS)) > 0 {
			if err := frrnode.Kill(fd, n.NS); err != nil {
				return err
			}
			pr.printf("node %s: frr stopped (engine %s)", n.Name, n.EngineOf())
		}
	}
	return nil
}

// vrfModelWhy says why FRR nodes take namespaces as VRFs. Without vrf
// devices there is no other way; with them the lab still does, so that
// both engines see the same VRF namespaces (realize builds them for the
// agent, zebra -n adopts them) and a scenario reads one layout.
func vrfModelWhy(c nsutil.Caps) string {
	if c.VRF {
		return "this kernel has vrf devices, but the lab's VRFs are namespaces on both engines"
	}
	return "this kernel has no vrf devices"
}
