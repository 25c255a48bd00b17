package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/sdn/evpn"
)

// evpnControlPlane: every EVPN node, whatever its engine (agent or FRR),
// has a session with every other, installs every other node's type 3 (a
// flood entry per shared VNI), type 2 (an FDB entry for each remote guest
// MAC) and imports its type 5 routes (route targets that match its own),
// and guests reach each other across nodes. It reads each node's state
// through `show` (the one place a scenario reads the control plane), so a
// mixed lab shows whether the engines understand each other.
type evpnControlPlane struct{}

func newEVPNControlPlane() Scenario { return evpnControlPlane{} }

func (evpnControlPlane) Name() string { return "evpn-control-plane" }
func (evpnControlPlane) Description() string {
	return "every EVPN node (agent or FRR) peers with every other and installs its type 2, 3 and 5 routes; guests reach each other across nodes"
}
func (evpnControlPlane) Params() []Param {
	return []Param{{Name: "within", Default: "15s", Kind: KindDuration, Help: "how long the state may take to converge"}}
}

func (s evpnControlPlane) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	within, err := time.ParseDuration(env.Params["within"])
	if err != nil || within <= 0 {
		return r.Errorf("within %q: want a duration", env.Params["within"])
	}
	vnets, err := v.overlayVNets()
	if err != nil {
		return r.Errorf("%v", err)
	}
	// The EVPN nodes and the VNIs each has.
	vnis := map[string]map[uint32]bool{}
	var nodes []Node
	for _, vn := range vnets {
		if vn.Zone.Type != "evpn" {
			continue
		}
		for _, n := range vn.Nodes {
			if !n.Agent {
				continue
			}
			if vnis[n.Name] == nil {
				vnis[n.Name] = map[uint32]bool{}
				nodes = append(nodes, n)
			}
			vnis[n.Name][uint32(vn.VNet.Tag)] = true
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	if len(nodes) < 2 {
		return r.Skipf("needs two EVPN nodes with a running engine")
	}
	var engines []string
	for _, n := range nodes {
		engines = append(engines, n.Name+": "+n.Engine)
	}
	r.Text("engines", strings.Join(engines, ", "))
	// The namespaces of each node's IP-VRFs (L3VNI zones): their routes
	// must lead to VTEPs whose router MACs are installed.
	vrfNS := map[string][]vrfSpace{}
	for id, vn := range vnets {
		if vn.Zone.Type != "evpn" || vn.Zone.L3VNI == 0 {
			continue
		}
		for _, n := range vn.Nodes {
			if !n.Agent {
				continue
			}
			ns, err := v.VNetNS(n.Name, id)
			if err != nil {
				return r.Errorf("%v", err)
			}
			if sp := (vrfSpace{ns: ns, bridge: vn.Zone.L3Bridge}); !slices.Contains(vrfNS[n.Name], sp) {
				vrfNS[n.Name] = append(vrfNS[n.Name], sp)
			}
		}
	}
	// Nodes whose inbound route-map refuses the peers' default routes
	// (Proxmox's exit nodes): FRR 10 keeps them out of its table.
	refusesDefault := map[string]bool{}
	for _, n := range nodes {
		p, err := v.Plan(n.Name)
		if err != nil {
			return r.Errorf("%v", err)
		}
		refusesDefault[n.Name] = p.FRR.EVPNRefusesDefault()
	}
	guests := v.allGuests() // VM guests too: their MACs and pings are theirs

	evaluate := func() ([]cpObs, map[string]*evpn.Snapshot, error) {
		snaps := map[string]*evpn.Snapshot{}
		for _, n := range nodes {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			sn, err := env.Lab.Show(sctx, n.Name)
			cancel()
			if err != nil {
				return nil, nil, fmt.Errorf("node %s (%s): show: %w", n.Name, n.Engine, err)
			}
			snaps[n.Name] = sn
		}
		var out []cpObs
		for _, a := range nodes {
			sa := snaps[a.Name]
			// A node whose peers are route reflectors has no session with
			// the other nodes: its sessions with the reflectors must be up,
			// and the routes checks below see what they reflect.
			direct := 0
			var reflectors []string
			allUp := len(sa.Peers) > 0
			for _, p := range sa.Peers {
				addr, err := netip.ParseAddr(p.Addr)
				isNode := false
				for _, b := range nodes {
					if err == nil && slices.Contains(b.Addrs, addr) {
						isNode = true
					}
				}
				if isNode {
					direct++
					continue
				}
				reflectors = append(reflectors, p.Addr+" "+p.State)
				allUp = allUp && p.State == "Established"
			}
			if direct == 0 && len(reflectors) > 0 {
				out = append(out, cpObs{name: fmt.Sprintf("%s has its sessions with its peers (route reflectors)", a.Name),
					ok: allUp, expected: "every session Established", observed: strings.Join(reflectors, ", "),
					cause: "a session with a route reflector does not come up or flaps"})
			}
			if o, ok, err := routerMACsOf(a, vrfNS[a.Name]); err != nil {
				return nil, nil, err
			} else if ok {
				out = append(out, o)
			}
			for _, b := range nodes {
				if a.Name == b.Name {
					continue
				}
				sb := snaps[b.Name]
				first := len(out)
				// Session.
				state, bfdState := "no such neighbour", ""
				for _, p := range sa.Peers {
					if addr, err := netip.ParseAddr(p.Addr); err == nil && slices.Contains(b.Addrs, addr) {
						state, bfdState = p.State, p.BFD
					}
				}
				if direct > 0 || len(reflectors) == 0 {
					out = append(out, cpObs{name: fmt.Sprintf("%s has a session with %s", a.Name, b.Name),
						ok: state == "Established", expected: "Established", observed: state,
						cause: "the BGP session does not come up or flaps: see the other engine's log (a malformed or refused UPDATE closes it)"})
				}
				// BFD, where the session asks for it: up, or a failure of b
				// is noticed only by the hold timer.
				if bfdState != "" {
					out = append(out, cpObs{name: fmt.Sprintf("%s's BFD session with %s is up", a.Name, b.Name),
						ok: strings.EqualFold(bfdState, "up"), expected: "up", observed: bfdState,
						cause: "BFD does not run or its packets do not arrive (a socket bound elsewhere, a port held by another daemon): a failure of " + b.Name + " would be noticed only when the hold timer expires"})
				}
				// Type 3: one flood entry towards b per shared VNI.
				shared := 0
				for vni := range vnis[a.Name] {
					if vnis[b.Name][vni] {
						shared++
					}
				}
				floods := 0
				for _, e := range sa.Kernel {
					if e.Kind == "flood" && sameAddr(e.VTEP, b.VTEP) {
						floods++
					}
				}
				if shared > 0 {
					out = append(out, cpObs{name: fmt.Sprintf("%s installs %s's type 3 routes", a.Name, b.Name),
						ok: floods >= shared, expected: fmt.Sprintf("a flood entry to %s for each of the %d shared VNIs", b.VTEP, shared),
						observed: fmt.Sprintf("%d flood entries to %s", floods, b.VTEP),
						cause:    "the IMET routes are not imported: route targets differ between the engines, or the PMSI attribute is refused"})
				}
				// Type 2: an FDB entry for each guest behind b in a VNet a has.
				var want, missing []string
				for _, g := range guests {
					vn := vnets[g.VNet]
					if g.Node != b.Name || vn == nil || !vnis[a.Name][uint32(vn.VNet.Tag)] {
						continue
					}
					want = append(want, g.Name)
					found := false
					for _, e := range sa.Kernel {
						if e.Kind == "fdb" && strings.EqualFold(e.MAC, g.MAC.String()) && sameAddr(e.VTEP, b.VTEP) {
							found = true
						}
					}
					if !found {
						missing = append(missing, g.Name+" "+g.MAC.String())
					}
				}
				if len(want) > 0 {
					out = append(out, cpObs{name: fmt.Sprintf("%s installs %s's type 2 routes", a.Name, b.Name),
						ok: len(missing) == 0, expected: fmt.Sprintf("FDB entries to %s for %s", b.VTEP, strings.Join(want, ", ")),
						observed: "missing: " + orNone(missing),
						cause:    "the MAC/IP routes are not imported: route targets differ between the engines"})
				}
				// Type 5: b's prefixes are in a's table with a route target
				// a uses itself: the L3VNI's, which a's own MAC/IP and
				// prefix routes carry (auto-derived or configured).
				imports := map[string]bool{}
				for _, rt := range sa.Routes {
					if rt.Peer == "" && (rt.Type == evpn.TypePrefix || rt.Type == evpn.TypeMACIP && rt.L3VNI != 0) {
						for _, x := range rt.RTs {
							imports[x] = true
						}
					}
				}
				var bPrefixes, got []string
				for _, rt := range sb.Routes {
					if rt.Peer != "" || rt.Type != evpn.TypePrefix || refusesDefault[a.Name] && rt.Prefix.Bits() == 0 {
						continue
					}
					bPrefixes = append(bPrefixes, rt.Prefix.String())
					for _, x := range sa.Routes {
						if x.Type == evpn.TypePrefix && x.Prefix == rt.Prefix && x.Peer != "" && sameAddr(x.NextHop.String(), b.VTEP) {
							for _, t := range x.RTs {
								if imports[t] {
									got = append(got, rt.Prefix.String())
									break
								}
							}
						}
					}
				}
				if len(bPrefixes) > 0 {
					sort.Strings(bPrefixes)
					got = slices.Compact(sortedCopy(got))
					refused := ""
					if refusesDefault[a.Name] {
						refused = " (not its default routes: " + a.Name + "'s MAP_VTEP_IN refuses them)"
					}
					cause := "the IP prefix routes are missing or carry a route target the node does not import"
					if why := hiddenInstanceRT(b, sb); why != "" {
						cause = why
					}
					out = append(out, cpObs{name: fmt.Sprintf("%s imports %s's type 5 routes", a.Name, b.Name),
						ok: len(got) == len(slices.Compact(bPrefixes)), expected: fmt.Sprintf("%s from %s with a route target %s imports%s", strings.Join(slices.Compact(bPrefixes), ", "), b.Name, a.Name, refused),
						observed: "imported: " + orNone(got),
						cause:    cause})
				}
				for i := first; i < len(out); i++ {
					out[i].noV6 = noIPv6VTEP(a, b)
				}
			}
		}
		return out, snaps, nil
	}
	deadline := time.Now().Add(within)
	var last []cpObs
	var snaps map[string]*evpn.Snapshot
	for {
		var err error
		last, snaps, err = evaluate()
		if err != nil {
			return r.Errorf("%v", err)
		}
		all := true
		for _, o := range last {
			all = all && o.ok
		}
		if all || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, o := range last {
		if !o.ok && o.noV6 != "" {
			o.cause = o.noV6
		}
		r.Expect(o.name, o.ok, o.expected, o.observed, o.cause)
	}
	for _, n := range nodes {
		var lines []string
		for _, p := range snaps[n.Name].Peers {
			lines = append(lines, fmt.Sprintf("%s %s received %d", p.Addr, p.State, p.Received))
		}
		r.Text(n.Name+" ("+n.Engine+") sessions", orNone(lines))
	}
	// Guests reach each other across nodes (IPv4 and IPv6).
	pairs := 0
	for _, a := range guests {
		va := vnets[a.VNet]
		if va == nil || va.Zone.Type != "evpn" {
			continue
		}
		for _, b := range guests {
			vb := vnets[b.VNet]
			if b.Node == a.Node || vb == nil || vb.Zone.ID != va.Zone.ID {
				continue
			}
			for _, f := range ipFams {
				dst := f.Guest(b)
				if !dst.IsValid() || !f.Guest(a).IsValid() {
					continue
				}
				pr, err := v.guestPing(ctx, a, dst.Addr(), probe.PingOpts{Count: 2, Timeout: time.Second})
				if err != nil {
					return r.Errorf("%s (%s) -> %s: %v", a.Name, a.Node, dst.Addr(), err)
				}
				pairs++
				r.Expect(fmt.Sprintf("%s (%s) reaches %s (%s) at %s", a.Name, a.Node, b.Name, b.Node, dst.Addr()), pr.OK(),
					"a reply", pr.String(), "the overlay between the two engines does not carry traffic")
			}
			break // one partner on another node per guest
		}
	}
	if pairs == 0 {
		// The description promises guests reaching each other: without a
		// pair that claim was not observed.
		r.Unproven("guests reach each other across nodes", "a reply between guests of one EVPN zone on different nodes",
			"the lab has no two guests of one EVPN zone on different nodes with an address family in common")
	}
	r.Figure("nodes", float64(len(nodes)), "")
	r.Figure("guest pairs pinged", float64(pairs), "")
	return r.Finish()
}

// sameAddr compares an address as text with an address.
func sameAddr(s string, a netip.Addr) bool {
	x, err := netip.ParseAddr(s)
	return err == nil && x.Unmap() == a.Unmap()
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// frrIPv6VTEPSince is the first FRR release with IPv6 VTEPs ("BGP IPv6
// VTEP support", FRR 10.6; upstream PR 19721, single-homed EVPN over an
// IPv6 underlay).
const frrIPv6VTEPSince = "10.6"

// noIPv6VTEP explains a failure between a and b when one of them runs an
// FRR release without IPv6 VTEPs and a VTEP of the pair is IPv6; "" else.
// Up to 10.5 bgpd accepts an ingress-replication PMSI tunnel attribute of
// 9 bytes only (bgp_attr_pmsi_tunnel: an IPv4 endpoint; the 21-byte IPv6
// one is malformed: the route is withdrawn or the session reset) and zebra
// holds VTEPs as IPv4 addresses (its local VTEP on an IPv6 underlay is
// 0.0.0.0).
func noIPv6VTEP(a, b Node) string {
	if !a.VTEP.Is6() && !b.VTEP.Is6() {
		return ""
	}
	for _, n := range []Node{a, b} {
		if n.Engine == "frr" && n.FRRVersion != "" && versionLess(n.FRRVersion, frrIPv6VTEPSince) {
			return fmt.Sprintf("%s runs FRR %s, which has no IPv6 VTEP (FRR has them from %s): its bgpd refuses an ingress-replication PMSI tunnel attribute with an IPv6 endpoint (21 bytes; up to 10.5 only the 9-byte IPv4 form is accepted) and its zebra keeps VTEPs as IPv4 addresses (the local VTEP here is 0.0.0.0). Debian 12's FRR 8.4 and Debian 13's FRR 10.3 (frr: 10) both lack it: an FRR node needs an IPv4 underlay",
				n.Name, n.FRRVersion, frrIPv6VTEPSince)
		}
	}
	return ""
}

// vrfSpace is an IP-VRF of a node: its namespace and L3VNI bridge.
type vrfSpace struct{ ns, bridge string }

// cpObs is one observation of evpn-control-plane.
type cpObs struct {
	name, expected, observed, cause string
	ok                              bool
	noV6                            string // the pair's FRR node has no IPv6 VTEP
}

// routerMACsOf: every IPv4 route of node a's IP-VRFs that leads to a VTEP
// has that VTEP's router MAC installed (a neighbour entry, and an FDB
// entry sending the MAC to the VTEP), as symmetric IRB (RFC 9135) needs;
// a route without it black-holes what it carries. ok is false when the
// node has no IP-VRF routes through a VTEP (nothing to observe).
func routerMACsOf(a Node, spaces []vrfSpace) (cpObs, bool, error) {
	var hops []netip.Addr
	var missing []string
	for _, sp := range spaces {
		ns := sp.ns
		routes, err := probe.Routes(ns, 4)
		if err != nil {
			return cpObs{}, false, fmt.Errorf("node %s: %w", a.Name, err)
		}
		neighs, err := probe.Neigh(ns)
		if err != nil {
			return cpObs{}, false, fmt.Errorf("node %s: %w", a.Name, err)
		}
		fdb, err := probe.FDB(ns)
		if err != nil {
			return cpObs{}, false, fmt.Errorf("node %s: %w", a.Name, err)
		}
		// Routes over the L3VNI bridge (ECMP ones name no device); not the
		// exit node's way out to its own default namespace.
		overL3 := func(rt probe.Route) bool { return rt.Dev == sp.bridge || rt.Dev == "" && len(rt.Via) > 1 }
		h, m := routerMACsMissing(routes, neighs, fdb, overL3)
		hops, missing = append(hops, h...), append(missing, m...)
	}
	if len(hops) == 0 {
		return cpObs{}, false, nil
	}
	slices.SortFunc(hops, func(x, y netip.Addr) int { return x.Compare(y) })
	return cpObs{name: a.Name + " has the router MAC of every VTEP its IP-VRF routes lead to", ok: len(missing) == 0,
		expected: "for each next hop (" + orNone(addrStrings(slices.Compact(hops))) + "): a neighbour entry with its router MAC and an FDB entry sending that MAC to it",
		observed: "missing: " + orNone(slices.Compact(missing)), cause: "a route leads to a VTEP without its router MAC: what it carries is black-holed" + frr84RouterMACBug(a)}, true, nil
}

// hiddenInstanceRT names an FRR bug when node b exports its IP-VRF routes
// with a route target of AS 1 although its ASN is another: the exit node's
// `import vrf X` in the default instance comes first in Proxmox's frr.conf
// and makes X's BGP instance hidden, with AS_UNSPECIFIED (1); `router bgp
// ASN vrf X` then takes that instance over without its AS, and the L3VNI's
// auto-derived route target becomes 1:VNI. Seen with Debian 13's FRR 10.3.
func hiddenInstanceRT(b Node, sb *evpn.Snapshot) string {
	if b.Engine != "frr" || sb == nil || sb.ASN == 1 {
		return ""
	}
	var bad []string
	for _, rt := range sb.Routes {
		if rt.Peer != "" || rt.Type != evpn.TypePrefix {
			continue
		}
		for _, x := range rt.RTs {
			if strings.HasPrefix(x, "1:") && !slices.Contains(bad, x) {
				bad = append(bad, x)
			}
		}
	}
	if len(bad) == 0 {
		return ""
	}
	release := b.FRRVersion
	if release == "" {
		release = "release unknown"
	}
	return fmt.Sprintf("%s (FRR %s, AS %d) exports its IP-VRF routes with route target %s: an FRR bug. The default instance's `import vrf` (an exit node's, first in frr.conf) made the VRF's BGP instance hidden with AS 1, and `router bgp %d vrf ...` took it over without its AS, so the L3VNI's route target was derived from AS 1 (upstream pull requests 17861 and 18081). Nodes that derive AS:VNI do not import these routes; on a Proxmox cluster on this FRR, an explicit route target in frr.conf.local works around it",
		b.Name, release, sb.ASN, strings.Join(bad, ", "), sb.ASN)
}

// versionLess compares dotted release numbers ("8.4.4" < "10.6").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}
