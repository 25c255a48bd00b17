package scenarios

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// Which exit node carries a guest's flows is the ECMP hash's choice (its
// seed is random per boot), so the two engines' runs fail different exit
// nodes. The checks and figures the cross-check compares by name must not
// name the failed node, or the same outcome reads as an engine divergence.
func TestExitNodeFailoverNamesIndependentOfVictim(t *testing.T) {
	run := func(victim string) *Result {
		r := NewResult("exit-node-failover")
		fo := &foRun{r: r, victim: Node{Name: victim}}
		fo.reportWithdrawal(foFam{f: ipFams[0]}, time.Second)
		flows := []foFlow{{name: "out1", port: foOutPort, via: victim, recs: mkRecords(time.Now(), 10, func(int) bool { return false })}}
		su := foSetup{fams: []foFam{{f: ipFams[0]}}, exits: []Node{{Name: "node1"}, {Name: "node2"}}}
		exitNodeFailover{}.direction(r, nil, nil, flows, 0, false, Node{Name: victim}, time.Now(), su)
		r.Verdict = reports.Fail
		return r
	}
	a, f := run("node1"), run("node2")
	names := func(r *Result) []string {
		var out []string
		for _, c := range r.Checks {
			out = append(out, "check "+c.Name)
		}
		for _, x := range r.Figures {
			if x.Text == "" {
				out = append(out, "figure "+x.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	if na, nf := names(a), names(f); !slices.Equal(na, nf) {
		t.Errorf("check and figure names depend on the failed node:\nnode1: %q\nnode2: %q", na, nf)
	}
	if c := Compare([]*Result{a}, []*Result{f}); c.Verdict != reports.Pass {
		t.Errorf("same outcome on two exit nodes compared as %s:\n%s", c.Verdict, c.Explain())
	}
}

// Each ECMP next hop of the default route needs its router MAC: a
// neighbour entry and an FDB entry to that VTEP (what FRR 8.4 loses).
func TestRouterMACsMissing(t *testing.T) {
	a, b := netip.MustParseAddr("192.168.0.1"), netip.MustParseAddr("192.168.0.2")
	routes := []probe.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: []netip.Addr{a, b}},
		{Dst: netip.MustParsePrefix("10.0.1.11/32"), Via: []netip.Addr{a}}}
	neighs := []probe.NeighEntry{{IP: a, MAC: "82:49:a8:7c:41:0a"}, {IP: b, MAC: "66:7f:b3:6d:a6:a5"}}
	fdb := []probe.FDBEntry{{MAC: "82:49:a8:7c:41:0a", Dst: a}, {MAC: "66:7f:b3:6d:a6:a5", Dst: b}}
	if hops, missing := routerMACsMissing(routes, neighs, fdb, isDefault); len(hops) != 2 || len(missing) != 0 {
		t.Errorf("complete: hops %v, missing %v", hops, missing)
	}
	// FRR 8.4's state: both next hops, one router MAC in the FDB.
	if _, missing := routerMACsMissing(routes, neighs, fdb[:1], isDefault); len(missing) != 1 || !strings.Contains(missing[0], "192.168.0.2: router MAC 66:7f:b3:6d:a6:a5 has no FDB entry") {
		t.Errorf("one FDB entry lost: %v", missing)
	}
	if _, missing := routerMACsMissing(routes, neighs[:1], fdb, isDefault); len(missing) != 1 || !strings.Contains(missing[0], "192.168.0.2: no neighbour entry") {
		t.Errorf("one neighbour lost: %v", missing)
	}
	// An FDB entry of the MAC towards another VTEP does not count.
	wrong := []probe.FDBEntry{fdb[0], {MAC: "66:7f:b3:6d:a6:a5", Dst: a}}
	if _, missing := routerMACsMissing(routes, neighs, wrong, isDefault); len(missing) != 1 {
		t.Errorf("router MAC to the wrong VTEP: %v", missing)
	}
	// Every route (evpn-control-plane): a host route via a VTEP with no
	// router MAC at all counts, once however many routes use it.
	c := netip.MustParseAddr("192.168.0.3")
	more := append(routes, probe.Route{Dst: netip.MustParsePrefix("10.0.2.21/32"), Via: []netip.Addr{c}},
		probe.Route{Dst: netip.MustParsePrefix("10.0.2.22/32"), Via: []netip.Addr{c}})
	all := func(probe.Route) bool { return true }
	if hops, missing := routerMACsMissing(more, neighs, fdb, all); len(hops) != 3 || len(missing) != 1 || !strings.Contains(missing[0], "192.168.0.3: no neighbour entry") {
		t.Errorf("every route: hops %v, missing %v", hops, missing)
	}
	if hops, missing := routerMACsMissing(more, neighs, fdb, isDefault); len(hops) != 2 || len(missing) != 0 {
		t.Errorf("default route only: hops %v, missing %v", hops, missing)
	}
}

func isDefault(rt probe.Route) bool { return rt.Dst.Bits() == 0 }
