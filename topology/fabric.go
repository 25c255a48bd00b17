package topology

// Fabrics in the lab: the routing protocol of each OpenFabric, OSPF or BGP
// fabric runs on its member nodes over the lab's point-to-point links. FRR
// nodes run it in their own FRR (the rendered frr.conf has it); agent
// nodes run FRR beside the agent with only the fabric part of that
// frr.conf (zebra, staticd and fabricd or ospfd; for a BGP fabric also
// bgpd and bfdd with the fabric's sessions alone, sharing ports 179, 3784
// and 4784 with the agent: see evpn.SharedPorts).

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/evpn"
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
// a WireGuard fabric without userspace WireGuard (wireguard-go).
func checkFabrics(lab *Lab) error {
	var probs []string
	for _, n := range lab.Nodes {
		for _, f := range fabricsOf(lab.Config, n.Name) {
			if f.Protocol != "wireguard" {
				continue
			}
			if why := WireGuardMissing(); why != "" {
				probs = append(probs, fmt.Sprintf("%s: fabric %s (wireguard) on node %s: %s", f.Pos, f.ID, n.Name, why))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("lab %s: cannot run its fabrics:\n  %s", lab.Name, strings.Join(probs, "\n  "))
	}
	return nil
}

// needsFabricFRR tells whether an agent node runs FRR beside the agent
// for its fabrics (OpenFabric, OSPF or BGP).
func needsFabricFRR(lab *Lab, n *Node) bool {
	if n.EngineOf() != EngineAgent {
		return false
	}
	for _, f := range fabricsOf(lab.Config, n.Name) {
		switch f.Protocol {
		case "openfabric", "ospf", "bgp":
			return true
		}
	}
	return false
}

// fabricGroups are the peer groups of a BGP fabric in a default BGP
// instance: the unnumbered ones (a fabric's sessions run over its
// interfaces; the EVPN and bgp controllers' peers are addresses).
func fabricGroups(r *frr.BGPRouter) map[string]bool {
	out := map[string]bool{}
	if r == nil {
		return out
	}
	for _, g := range r.NeighborGroups {
		if len(g.Interfaces) > 0 {
			out[g.Name] = true
		}
	}
	return out
}

// fabricOnly is p with the routing configuration of its fabrics alone: no
// VRF, static route or BGP but a BGP fabric's sessions in the default
// instance (the agent speaks the EVPN and bgp controller parts).
func fabricOnly(p *plan.NodePlan) *plan.NodePlan {
	c := *p
	f := *p.FRR
	f.BGP = frr.BGP{}
	f.IPRoutes = nil
	groups := fabricGroups(p.FRR.DefaultRouter())
	if len(groups) > 0 {
		r := *p.FRR.DefaultRouter()
		r.NeighborGroups = slices.DeleteFunc(slices.Clone(r.NeighborGroups), func(g frr.NeighborGroup) bool { return !groups[g.Name] })
		r.IPv4Unicast = fabricAF(r.IPv4Unicast, groups)
		r.IPv6Unicast = fabricAF(r.IPv6Unicast, groups)
		r.L2VPNEVPN, r.Custom = nil, nil
		f.BGP = frr.BGP{Routers: map[string]*frr.BGPRouter{frr.DefaultVRF: &r}}
	}
	f.ProtocolRouteMaps = map[string]frr.ProtocolRouteMap{}
	for k, v := range p.FRR.ProtocolRouteMaps {
		if k != "bgp" || len(groups) > 0 {
			f.ProtocolRouteMaps[k] = v
		}
	}
	c.FRR = &f
	return &c
}

// fabricAF is a unicast address family with only the fabric groups
// activated; nil when none is.
func fabricAF(af *frr.UnicastAF, groups map[string]bool) *frr.UnicastAF {
	if af == nil {
		return nil
	}
	out := *af
	out.Neighbors, out.ImportVRF, out.Custom = nil, nil, nil
	for _, n := range af.Neighbors {
		if groups[n.Name] {
			out.Neighbors = append(out.Neighbors, n)
		}
	}
	if len(out.Neighbors) == 0 {
		return nil
	}
	return &out
}

// sharedPorts are the ports an agent shares with the bgpd and bfdd of its
// node's BGP fabric (nil without one): the agent listens on the addresses
// of its EVPN sessions only, as the user that FRR runs as (the owner of
// its frr.conf, which differs between the host's FRR and a private root's).
func sharedPorts(dir, node string, p *plan.NodePlan, cfg *evpn.Config) (*evpn.SharedPorts, error) {
	if p == nil || len(fabricGroups(p.FRR.DefaultRouter())) == 0 {
		return nil, nil
	}
	conf := filepath.Join(FRRDir(dir, node), "etc", "frr.conf")
	fi, err := os.Stat(conf)
	if err != nil {
		return nil, fmt.Errorf("the FRR of the node's BGP fabric, whose ports the agent shares: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%s: no owner", conf)
	}
	sp := &evpn.SharedPorts{UID: int(st.Uid)}
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if a.IsValid() && !a.IsUnspecified() && !seen[a] {
			seen[a] = true
			sp.Addrs = append(sp.Addrs, a)
		}
	}
	add(cfg.LocalVTEP)
	add(cfg.RouterID)
	for _, n := range cfg.Neighbors {
		add(n.UpdateSource)
	}
	return sp, nil
}

// fabricInstance is an agent node's FRR for its fabrics.
func fabricInstance(lab *Lab, n *Node, dir string) *frrnode.Instance {
	version, root := HostFRRVersion, ""
	if n.FRRRelease == "10" {
		version, root = FRR10Version, FRR10Root
	}
	conf := render.FRR(fabricOnly(lab.Plans[n.Name]), version)
	// bgpd and bfdd only for a BGP fabric's sessions: the agent holds the
	// EVPN and bgp controller ones (and every BFD session of an OpenFabric
	// or OSPF node).
	bgpFabric := len(fabricGroups(lab.Plans[n.Name].FRR.DefaultRouter())) > 0
	var ds []string
	for _, d := range frrnode.DaemonsFor(conf) {
		if bgpFabric || (d != "bgpd" && d != "bfdd") {
			ds = append(ds, d)
		}
	}
	return &frrnode.Instance{Node: n.Name, NS: n.NS, Dir: FRRDir(dir, n.Name), Conf: conf, Root: root,
		Daemons: ds, Role: frrnode.RoleFabricOnly, Additions: fabricAdditions(lab, lab.Plans[n.Name])}
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
// node's fabric instance.
func fabricOnlyRunning(dir string) bool {
	return frrnode.RoleOf(dir) == frrnode.RoleFabricOnly
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
