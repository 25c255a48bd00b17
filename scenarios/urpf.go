package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// urpf: (1) strict rp_filter on the underlay routers passes overlay traffic,
// because the outer source is always a VTEP address routed back the same
// way; (2) with several exit nodes, strict rp_filter on the exit nodes drops
// asymmetric return traffic — detected by the traffic and by the kernel's
// IPReversePathFilter counter, and explained.
type urpf struct{}

func newURPF() Scenario { return urpf{} }

func (urpf) Name() string { return "urpf" }
func (urpf) Description() string {
	return "strict rp_filter on underlay routers passes the overlay; on several exit nodes it drops asymmetric returns"
}
func (urpf) Params() []Param {
	return []Param{
		{Name: "routers-strict", Default: "true", Kind: KindBool, Help: "set strict rp_filter on every underlay router for the test"},
		{Name: "exit-rp-filter", Default: "", Choices: []string{"", "0", "1", "2"}, Help: "set rp_filter on the exit nodes for the test (1 strict, 2 loose; empty: as deployed)"},
	}
}

// rpKeys are the sysctls that decide rp_filter on an interface: the kernel
// uses max(all, iface).
func rpKeys(ifaces []string) []string {
	keys := []string{"net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"}
	for _, i := range ifaces {
		keys = append(keys, "net/ipv4/conf/"+i+"/rp_filter")
	}
	return keys
}

// setRP sets rp_filter on all and the interfaces; it returns a restore func.
func setRP(ns string, ifaces []string, val string) (func(), error) {
	old := map[string]string{}
	for _, k := range rpKeys(ifaces) {
		o, err := nsutil.ReadSysctl(ns, k)
		if err != nil {
			continue // an interface without IPv4 conf
		}
		old[k] = o
		if err := nsutil.Sysctl(ns, k, val); err != nil {
			return nil, err
		}
	}
	return func() {
		for k, o := range old {
			_ = nsutil.Sysctl(ns, k, o)
		}
	}, nil
}

// effectiveRP is max(all, iface) over the interfaces.
func effectiveRP(ns string, ifaces []string) string {
	all, _ := nsutil.ReadSysctl(ns, "net/ipv4/conf/all/rp_filter")
	var parts []string
	for _, i := range ifaces {
		v, _ := nsutil.ReadSysctl(ns, "net/ipv4/conf/"+i+"/rp_filter")
		parts = append(parts, fmt.Sprintf("%s=%s", i, max(v, all)))
	}
	return "all=" + all + " " + strings.Join(parts, " ")
}

func (s urpf) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	var restore []func()
	defer func() {
		for _, f := range restore {
			f()
		}
	}()

	// Part 1: the underlay routers (not the upstream: its interfaces face
	// the external network, part 2's business).
	var routers []Host
	for _, h := range v.Routers() {
		if !h.Upstream {
			routers = append(routers, h)
		}
	}
	if len(routers) > 0 && env.Params["routers-strict"] == "true" {
		for _, h := range routers {
			f, err := setRP(h.NS, h.Ifaces, "1")
			if err != nil {
				return r.Errorf("rp_filter on %s: %v", h.Name, err)
			}
			restore = append(restore, f)
			f, err = setRPF6(h.NS, h.Ifaces)
			if err != nil {
				return r.Errorf("IPv6 reverse path check on %s: %v", h.Name, err)
			}
			restore = append(restore, f)
		}
	}
	var rpState []string
	for _, h := range routers {
		rpState = append(rpState, h.Name+": "+effectiveRP(h.NS, h.Ifaces)+"; IPv6: "+rpf6State(h.NS))
	}
	r.Text("router rp_filter", orNone(rpState))
	if len(routers) > 0 {
		a, b, err := v.pairAcrossSegments("")
		if err == nil {
			before, err := rpDrops(routers)
			if err != nil {
				return r.Errorf("%v", err)
			}
			// The overlay in each family the pair shares; the outer
			// packets are of the underlay's family, and both families'
			// drop counters are read.
			var obs []string
			okAll := true
			for _, f := range ipFams {
				if !f.Guest(a).IsValid() || !f.Guest(b).IsValid() {
					continue
				}
				pr, err := v.guestPing(ctx, a, f.Guest(b).Addr(), probe.PingOpts{Count: 3, Interval: 100 * time.Millisecond, Timeout: time.Second})
				if err != nil {
					return r.Errorf("%v", err)
				}
				okAll = okAll && pr.Transmitted > 0 && pr.Received == pr.Transmitted
				obs = append(obs, f.Tag()+" "+pr.String())
			}
			after, err := rpDrops(routers)
			if err != nil {
				return r.Errorf("%v", err)
			}
			drops := dropsText(before, after)
			r.Figure("router rp_filter drops v4", float64(familyDrops(before, after, false)), "")
			r.Figure("router uRPF drops v6", float64(familyDrops(before, after, true)), "")
			// Every probe answered and not one uRPF drop (either family):
			// a lost reply or a dropped packet is what strict uRPF does wrong.
			r.Expect(fmt.Sprintf("overlay %s -> %s through strict-uRPF routers", a.Name, b.Name),
				len(obs) > 0 && okAll && drops == "none",
				"every probe answered, no rp_filter (v4) or fib reverse path (v6) drop on the routers",
				strings.Join(obs, "; ")+"; rp_filter drops: "+drops,
				"a router's strict uRPF dropped packets whose source it would not route back through the interface they arrived on (a VTEP address not routed back the same way: a loopback VTEP not announced into the underlay?)")
		} else {
			r.Text("underlay", err.Error()+": overlay through the routers not tested")
		}
	} else {
		r.Text("underlay", "the lab has no underlay router")
	}

	// Part 2: the exit nodes.
	ext, hasExt := v.External()
	byVNet, vnets, err := v.overlayGuests()
	if err != nil {
		return r.Errorf("%v", err)
	}
	if !hasExt {
		r.Text("exit nodes", "the lab has no external host: exit-node uRPF not tested")
		if len(r.Checks) == 0 {
			return r.Skipf("nothing to check: no underlay router between nodes of different segments and no external host")
		}
		return r.Finish()
	}
	zonesDone := map[string]bool{}
	names := make([]string, 0, len(byVNet))
	for k := range byVNet {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, vnName := range names {
		z := vnets[vnName].Zone
		if z.Type != "evpn" || zonesDone[z.ID] {
			continue
		}
		exits, _, err := v.exitNodes(z.ID)
		if err != nil {
			return r.Errorf("%v", err)
		}
		if len(exits) == 0 {
			continue
		}
		zonesDone[z.ID] = true
		var exitHosts []Host
		var states []string
		for _, n := range exits {
			// The node's namespace and the zone's VRF namespace: routed
			// guest traffic enters the VRF, the return enters the node.
			spaces := []Host{{Name: n.Name, NS: n.NS, Ifaces: n.Uplinks}}
			if vrf, err := v.VNetNS(n.Name, vnName); err == nil && vrf != n.NS {
				ifs, _ := probe.LinkNames(vrf)
				spaces = append(spaces, Host{Name: n.Name + "/vrf", NS: vrf, Ifaces: ifs})
			}
			for _, h := range spaces {
				exitHosts = append(exitHosts, h)
				if val := env.Params["exit-rp-filter"]; val != "" {
					f, err := setRP(h.NS, h.Ifaces, val)
					if err != nil {
						return r.Errorf("rp_filter on %s: %v", h.Name, err)
					}
					restore = append(restore, f)
				}
				states = append(states, h.Name+": "+effectiveRP(h.NS, h.Ifaces))
			}
		}
		r.Text("exit node rp_filter", strings.Join(states, "\n")+"\n(rp_filter is IPv4 only: Linux has none for IPv6, so the exit nodes' IPv6 returns are not filtered)")
		for _, f := range ipFams {
			extAddr, ok := f.HostAddr(ext)
			if !ok {
				continue
			}
			if err := urpfExits(ctx, r, v, z.ID, names, byVNet, vnets, exits, exitHosts, extAddr, f, &restore); err != nil {
				return r.Errorf("%v", err)
			}
		}
	}
	if len(zonesDone) == 0 {
		r.Text("exit nodes", "no EVPN zone with exit nodes")
	}
	if len(r.Checks) == 0 {
		return r.Skipf("nothing to check: no underlay router between nodes of different segments and no EVPN zone with exit nodes")
	}
	return r.Finish()
}

// urpfExits checks one family of a zone's exit path: every guest of the
// zone with an address and gateway of the family pings the external host
// while the upstream routes returns through another exit node.
func urpfExits(ctx context.Context, r *Result, v labView, zone string, names []string, byVNet map[string][]Guest, vnets map[string]*overlayVNet,
	exits []Node, exitHosts []Host, extAddr netip.Addr, f ipFam, restore *[]func()) error {
	// Every guest of the zone with a gateway talks to the external host:
	// flows from several nodes make any asymmetry show.
	var guests []Guest
	for _, vn2 := range names {
		if vnets[vn2].Zone.ID == zone {
			for _, g := range byVNet[vn2] {
				if f.Routed(g) {
					guests = append(guests, g)
				}
			}
		}
	}
	if len(guests) == 0 {
		// Without a guest to probe from, "every probe answered, no drop"
		// would hold with nothing sent.
		r.Text("exit nodes "+f.Tag(), fmt.Sprintf("zone %s has no guest with an %s address and gateway: exit-node uRPF not tested for %s", zone, f.Name(), f.Name()))
		return nil
	}
	// An upstream with routes through every exit node hashes each flow
	// to one of them; whether a given probe comes back the way it left
	// is luck. Make it certain: return traffic to a guest that sits on
	// an exit node is routed through another exit node, as the hash
	// does to some flows.
	undo, forced := forceReturnViaOtherExit(v, guests, exits, f)
	*restore = append(*restore, undo)
	r.Text("return path "+f.Tag(), orNone(forced))
	before, err := rpDrops(exitHosts)
	if err != nil {
		return err
	}
	var failed []string
	sent, got := 0, 0
	for _, g := range guests {
		pr, err := probe.Ping(ctx, g.NS, extAddr, probe.PingOpts{Count: 3, Interval: 50 * time.Millisecond, Timeout: time.Second})
		if err != nil {
			return err
		}
		sent += pr.Transmitted
		got += pr.Received
		// A ping that could not send (no route: "connect: Network is
		// unreachable") answered nothing: a failure, not an empty pass.
		if pr.Transmitted == 0 || pr.Received < pr.Transmitted {
			failed = append(failed, fmt.Sprintf("%s (on %s): %s", g.Name, g.Node, pr.String()))
		}
	}
	after, err := rpDrops(exitHosts)
	if err != nil {
		return err
	}
	total := familyDrops(before, after, f.v6)
	r.Figure("exit-node rp_filter drops "+f.Tag(), float64(total), "")
	r.Figure("guest -> external replies "+f.Tag(), float64(got), "")
	cause := "the path out through the exit nodes is broken"
	if total > 0 {
		cause = fmt.Sprintf("strict rp_filter on the exit nodes dropped %d packets (%s): with %d exit nodes a flow leaves through one and its return arrives at another, which has no route back the way it came; Proxmox's documentation says to disable rp_filter on exit nodes (net.ipv4.conf.all.rp_filter=0 and per interface)",
			total, dropsText(before, after), len(exits))
	}
	r.Expect(fmt.Sprintf("%s: zone %s: guests reach the external host through %d exit nodes", f.Tag(), zone, len(exits)), len(failed) == 0 && total == 0,
		"every probe answered, no rp_filter drop on the exit nodes",
		fmt.Sprintf("%d/%d answered; %s; rp_filter drops %s", got, sent, orNone(failed), dropsText(before, after)), cause)
	return nil
}

// rpDrops reads each host's uRPF drop counters: IPv4's
// IPReversePathFilter (key "<host> v4") and, where the host has the IPv6
// reverse path check (nsutil.SetRPF6), its counter (key "<host> v6"). A
// counter that cannot be read is an error: a missing one would read as "no
// drop".
func rpDrops(hosts []Host) (map[string]int64, error) {
	m := map[string]int64{}
	for _, h := range hosts {
		st, err := probe.Netstat(h.NS)
		if err != nil {
			return nil, fmt.Errorf("rp_filter counter of %s: %w", h.Name, err)
		}
		n, ok := st["IPReversePathFilter"]
		if !ok {
			return nil, fmt.Errorf("%s: no IPReversePathFilter counter in /proc/net/netstat", h.Name)
		}
		m[h.Name+" v4"] = n
		_, d6, present, err := nsutil.RPF6(h.NS)
		if err != nil {
			return nil, fmt.Errorf("IPv6 reverse path counter of %s: %w", h.Name, err)
		}
		if present {
			m[h.Name+" v6"] = d6
		}
	}
	return m, nil
}

// familyDrops sums the drops of one family between two rpDrops readings.
func familyDrops(before, after map[string]int64, v6 bool) int64 {
	suffix := " v4"
	if v6 {
		suffix = " v6"
	}
	var n int64
	for k, a := range after {
		if strings.HasSuffix(k, suffix) {
			n += a - before[k]
		}
	}
	return n
}

// setRPF6 puts the IPv6 reverse path check on ifaces of a namespace (as
// strict rp_filter does for IPv4); the restore puts back what was there.
func setRPF6(ns string, ifaces []string) (func(), error) {
	old, _, _, err := nsutil.RPF6(ns)
	if err != nil {
		return nil, err
	}
	if err := nsutil.SetRPF6(ns, ifaces); err != nil {
		return nil, err
	}
	return func() { _ = nsutil.SetRPF6(ns, old) }, nil
}

// rpf6State says which interfaces the IPv6 reverse path check covers.
func rpf6State(ns string) string {
	strict, _, present, err := nsutil.RPF6(ns)
	switch {
	case err != nil:
		return err.Error()
	case !present || len(strict) == 0:
		return "no reverse path check"
	}
	return "strict on " + strings.Join(strict, " ")
}

func dropsText(before, after map[string]int64) string {
	var parts []string
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if d := after[k] - before[k]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, d))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// forceReturnViaOtherExit installs, on the upstream router, a host route
// for each guest that runs on an exit node via a different exit node's
// underlay address. It returns the undo and a line per forced route. Routes
// that cannot be installed (the exit nodes are not on the upstream's
// segment) are left out: the probes then show whatever the lab's routing
// does.
func forceReturnViaOtherExit(v labView, guests []Guest, exits []Node, f ipFam) (func(), []string) {
	var up *Host
	for _, h := range v.Routers() {
		if h.Upstream {
			h := h
			up = &h
		}
	}
	if up == nil || len(exits) < 2 {
		return func() {}, nil
	}
	h, err := nsutil.Handle(up.NS)
	if err != nil {
		return func() {}, []string{fmt.Sprintf("%s: %v", up.Name, err)}
	}
	var added []*netlink.Route
	var lines []string
	for _, g := range guests {
		if !f.Guest(g).IsValid() {
			continue
		}
		for _, other := range exits {
			oa := f.NodeAddrs(other)
			if other.Name == g.Node || len(oa) == 0 {
				continue
			}
			onExit := false
			for _, e := range exits {
				onExit = onExit || e.Name == g.Node
			}
			if !onExit {
				break
			}
			rt := &netlink.Route{
				Dst: &net.IPNet{IP: f.Guest(g).Addr().AsSlice(), Mask: net.CIDRMask(f.Guest(g).Addr().BitLen(), f.Guest(g).Addr().BitLen())},
				Gw:  oa[0].AsSlice(),
			}
			if err := h.RouteReplace(rt); err != nil {
				lines = append(lines, fmt.Sprintf("%s: return via %s not forced: %v", g.Name, other.Name, err))
				break
			}
			added = append(added, rt)
			lines = append(lines, fmt.Sprintf("%s (on %s): %s routes the return via %s", g.Name, g.Node, up.Name, other.Name))
			break
		}
	}
	return func() {
		for _, rt := range added {
			_ = h.RouteDel(rt)
		}
		h.Close()
	}, lines
}
