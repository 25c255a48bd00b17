package topology

// Fabrics in the lab: the routing protocol of each OpenFabric, OSPF or BGP
// fabric runs on its member nodes over the lab's point-to-point links. FRR
// nodes run it in their own FRR (the rendered frr.conf has it); agent
// nodes run FRR beside the agent with only the fabric part of that
// frr.conf (zebra, staticd and fabricd or ospfd: no bgpd or bfdd, whose
// ports the agent holds).

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/render"
	"github.com/sdnlab/sdnlab/topology/frrnode"
)

// DefaultFabricWait is how long up waits for the fabrics to converge.
const DefaultFabricWait = 60 * time.Second

// fabricsOf lists the fabrics node is an internal member of, in ID order.
func fabricsOf(cfg *config.Config, node string) []*config.Fabric {
	if cfg == nil {
		return nil
	}
	var out []*config.Fabric
	for _, f := range cfg.SortedFabrics() {
		if n := f.Nodes[node]; n != nil && n.Internal() {
			out = append(out, f)
		}
	}
	return out
}

// checkFabrics refuses, before anything is built, what the lab cannot run:
// a WireGuard fabric (no wireguard module here, and no WireGuard in the
// lab yet) and a BGP fabric on an agent node (bgpd and the agent would
// both need port 179 in one namespace; an FRR node's bgpd does both).
func checkFabrics(lab *Lab) error {
	var probs []string
	for _, n := range lab.Nodes {
		for _, f := range fabricsOf(lab.Config, n.Name) {
			switch {
			case f.Protocol == "wireguard" && !lab.Caps.WireGuard:
				probs = append(probs, fmt.Sprintf("%s: fabric %s (wireguard) on node %s: this kernel has no wireguard module: WireGuard fabrics are rendered (sdnlab render) but not realized", f.Pos, f.ID, n.Name))
			case f.Protocol == "wireguard":
				probs = append(probs, fmt.Sprintf("%s: fabric %s (wireguard) on node %s: running WireGuard fabrics in the lab is not done yet: they are rendered (sdnlab render) but not realized", f.Pos, f.ID, n.Name))
			case f.Protocol == "bgp" && n.EngineOf() == EngineAgent:
				probs = append(probs, fmt.Sprintf("%s: fabric %s (bgp) on node %s: a BGP fabric runs only on FRR nodes (engine: frr): on an agent node bgpd and the agent would both need port 179", f.Pos, f.ID, n.Name))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("lab %s: cannot run its fabrics:\n  %s", lab.Name, strings.Join(probs, "\n  "))
	}
	return nil
}

// needsFabricFRR tells whether an agent node runs FRR beside the agent
// for its fabrics (OpenFabric or OSPF).
func needsFabricFRR(lab *Lab, n *Node) bool {
	if n.EngineOf() != EngineAgent {
		return false
	}
	for _, f := range fabricsOf(lab.Config, n.Name) {
		if f.Protocol == "openfabric" || f.Protocol == "ospf" {
			return true
		}
	}
	return false
}

// fabricOnly is p with the routing configuration of its fabrics alone: no
// BGP instance, VRF or static route (the agent speaks the EVPN part).
func fabricOnly(p *plan.NodePlan) *plan.NodePlan {
	c := *p
	f := *p.FRR
	f.BGP = frr.BGP{}
	f.IPRoutes = nil
	f.ProtocolRouteMaps = map[string]frr.ProtocolRouteMap{}
	for k, v := range p.FRR.ProtocolRouteMaps {
		if k != "bgp" {
			f.ProtocolRouteMaps[k] = v
		}
	}
	c.FRR = &f
	return &c
}

// fabricInstance is an agent node's FRR for its fabrics.
func fabricInstance(lab *Lab, n *Node, dir string) *frrnode.Instance {
	version, root := HostFRRVersion, ""
	if n.FRRRelease == "10" {
		version, root = FRR10Version, FRR10Root
	}
	conf := render.FRR(fabricOnly(lab.Plans[n.Name]), version)
	var ds []string
	for _, d := range frrnode.DaemonsFor(conf) {
		if d != "bgpd" && d != "bfdd" {
			ds = append(ds, d)
		}
	}
	return &frrnode.Instance{Node: n.Name, NS: n.NS, Dir: FRRDir(dir, n.Name), Conf: conf, Root: root, Daemons: ds,
		Additions: fabricAdditions(lab, lab.Plans[n.Name])}
}

// fabricAdditions is the lab file's fabric tuning for a node's FRR: the
// LSP generation interval of each OpenFabric router. FRR's default (30 s,
// what a Proxmox node runs) throttles the LSP a node regenerates when an
// adjacency comes or goes, so a mesh takes up to that long to converge
// at start and to reroute around a cut link.
func fabricAdditions(lab *Lab, p *plan.NodePlan) []string {
	if lab.LSPGenInterval == 0 || p == nil || p.FRR == nil {
		return nil
	}
	var ids []string
	for id := range p.FRR.OpenFabric.Routers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []string
	for _, id := range ids {
		out = append(out, "router openfabric "+id, fmt.Sprintf(" lsp-gen-interval %d", lab.LSPGenInterval), "exit")
	}
	return out
}

// fabricOnlyRunning tells whether the FRR running in dir is an agent
// node's fabric instance (its daemons file enables no bgpd).
func fabricOnlyRunning(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "etc", "daemons"))
	return err == nil && !strings.Contains(string(b), "bgpd=yes")
}

// startFabricFRR starts (or reloads) the fabric FRR of the agent nodes.
func startFabricFRR(ctx context.Context, lab *Lab, dir string, workers int, pr *progress) error {
	var nodes []*Node
	for _, n := range lab.Nodes {
		if lab.Plans[n.Name] != nil && lab.Plans[n.Name].FRR != nil && needsFabricFRR(lab, n) {
			nodes = append(nodes, n)
		}
	}
	return runFRR(ctx, nodes, workers, pr, "fabric", "fabric configuration",
		func(n *Node) *frrnode.Instance { return fabricInstance(lab, n, dir) },
		func(_ *Node, in *frrnode.Instance) string {
			return "FRR for its fabrics started beside the agent (" + strings.Join(in.Daemons, ", ") + ")"
		})
}

// fabricTargets are, per node, the router IPs of the other members of its
// fabrics: what the node must have a route to once the fabric converged.
func fabricTargets(lab *Lab) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	if lab.Config == nil {
		return out
	}
	for _, f := range lab.Config.SortedFabrics() {
		if f.Protocol == "wireguard" {
			continue
		}
		for _, n := range lab.Nodes {
			me := f.Nodes[n.Name]
			if me == nil || !me.Internal() {
				continue
			}
			for name, o := range f.Nodes {
				if name == n.Name || !o.Internal() || lab.Node(name) == nil {
					continue
				}
				for _, a := range []netip.Addr{o.IP, o.IP6} {
					if a.IsValid() {
						out[n.Name] = append(out[n.Name], a)
					}
				}
			}
		}
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool { return l[i].Less(l[j]) })
	}
	return out
}

// fabricMissing lists, per node, the router IPs of targets (fabricTargets)
// its kernel has no route to ("node1: 10.0.0.2, fd00::2").
func fabricMissing(lab *Lab, targets map[string][]netip.Addr) ([]string, error) {
	var out []string
	for _, n := range lab.Nodes {
		want := targets[n.Name]
		if len(want) == 0 {
			continue
		}
		have, err := hostRoutes(n.NS)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		var miss []string
		for _, a := range want {
			if !have[a] {
				miss = append(miss, a.String())
			}
		}
		if len(miss) > 0 {
			out = append(out, n.Name+": "+strings.Join(miss, ", "))
		}
	}
	return out, nil
}

// hostRoutes are the host routes (/32, /128) of a namespace's main table.
func hostRoutes(ns string) (map[netip.Addr]bool, error) {
	h, err := nsutil.Handle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	rs, err := h.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]bool{}
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		ones, bits := r.Dst.Mask.Size()
		if ones != bits {
			continue
		}
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			out[a.Unmap()] = true
		}
	}
	return out, nil
}

// waitFabrics waits until every fabric member has a route to every other
// member's router IP, and prints how long that took from t0 (the first
// fabric daemon's start). A fabric that does not converge in max is a
// warning, not a failure: a lab may be broken on purpose (a cut mesh, a
// route filter that drops the loopbacks) for a check that must fail.
func waitFabrics(ctx context.Context, lab *Lab, t0 time.Time, max time.Duration, pr *progress) error {
	targets := fabricTargets(lab)
	if len(targets) == 0 {
		return nil
	}
	if max <= 0 {
		max = DefaultFabricWait
	}
	deadline := time.Now().Add(max)
	for {
		miss, err := fabricMissing(lab, targets)
		if err != nil {
			return err
		}
		if len(miss) == 0 {
			lab.FabricConverged = time.Since(t0)
			pr.printf("fabrics converged: every member routes to every other's router IP, %.2fs after the fabric daemons started", lab.FabricConverged.Seconds())
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			w := fmt.Sprintf("fabrics did not converge within %s: no route to %s", max, strings.Join(miss, "; "))
			lab.Warnings = append(lab.Warnings, w)
			pr.printf("warning: %s", w)
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
}
