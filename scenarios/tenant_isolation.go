package scenarios

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// tenantIsolation: guests of different zones cannot reach each other, and
// every frame of a guest on the wire carries only its own VNet's VNI (or
// its zone's L3VNI for routed traffic).
type tenantIsolation struct{}

func newTenantIsolation() Scenario { return tenantIsolation{} }

func (tenantIsolation) Name() string { return "tenant-isolation" }
func (tenantIsolation) Description() string {
	return "guests in different zones cannot reach each other; the wire carries only their own VNIs"
}
func (tenantIsolation) Params() []Param { return nil }

type pingPair struct {
	from, to Guest
	fam      ipFam
	same     bool // same zone: must reach; other zone: must not
	res      probe.PingResult
	err      error
}

func (s tenantIsolation) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	byVNet, vnets, err := v.overlayGuests()
	if err != nil {
		return r.Errorf("%v", err)
	}
	var guests []Guest
	zoneOf := map[string]string{}
	allowed := map[string][]uint32{}  // guest -> VNIs its own frames may appear in
	zoneVNIs := map[string][]uint32{} // zone -> its VNIs and L3VNI
	for vn, gs := range byVNet {
		z := vnets[vn].Zone
		if !slices.Contains(zoneVNIs[z.ID], uint32(vnets[vn].VNet.Tag)) {
			zoneVNIs[z.ID] = append(zoneVNIs[z.ID], uint32(vnets[vn].VNet.Tag))
		}
		if z.L3VNI > 0 && !slices.Contains(zoneVNIs[z.ID], uint32(z.L3VNI)) {
			zoneVNIs[z.ID] = append(zoneVNIs[z.ID], uint32(z.L3VNI))
		}
		for _, g := range gs {
			if !g.IPv4.IsValid() && !g.IPv6.IsValid() {
				continue
			}
			guests = append(guests, g)
			zoneOf[g.Name] = z.ID
			allowed[g.Name] = []uint32{uint32(vnets[vn].VNet.Tag)}
			if z.L3VNI > 0 {
				allowed[g.Name] = append(allowed[g.Name], uint32(z.L3VNI))
			}
		}
	}
	for _, vs := range zoneVNIs {
		slices.Sort(vs)
	}
	sort.Slice(guests, func(i, j int) bool { return guests[i].Name < guests[j].Name })
	zones := map[string]bool{}
	for _, z := range zoneOf {
		zones[z] = true
	}
	if len(zones) < 2 {
		return r.Skipf("needs guests in two overlay zones; the lab has %d", len(zones))
	}
	var pairs []*pingPair
	for _, a := range guests {
		for _, b := range guests {
			if a.Name == b.Name {
				continue
			}
			same := zoneOf[a.Name] == zoneOf[b.Name]
			if same && a.VNet == b.VNet && a.Node == b.Node {
				continue // nothing crosses the overlay
			}
			// Each family both guests have: a dual-stack lab is isolated
			// (and reachable) over IPv4 and over IPv6, reported apart.
			for _, fam := range ipFams {
				if fam.Guest(a).IsValid() && fam.Guest(b).IsValid() {
					pairs = append(pairs, &pingPair{from: a, to: b, fam: fam, same: same})
				}
			}
		}
	}
	// Without a pair across zones sharing a family (one zone IPv4 only,
	// the other IPv6 only) no isolation check would be made, and the
	// same-zone controls alone would pass.
	if !slices.ContainsFunc(pairs, func(p *pingPair) bool { return !p.same }) {
		return r.Errorf("no two guests of different zones share an address family: isolation between the zones cannot be observed")
	}
	env.progress("%d guests in %d zones, %d pairs", len(guests), len(zones), len(pairs))
	// Every guest talks to its gateways first, as a running VM does: its
	// node learns (and advertises) its address. A guest that just moved
	// has announced only its MAC (RARP), and a node that routes to it
	// without its MAC+IP route cannot resolve it (its answer goes to the
	// anycast MAC, which its own node keeps).
	var wg sync.WaitGroup
	for _, g := range guests {
		for _, fam := range ipFams {
			if gw := fam.GW(g); gw.IsValid() && fam.Guest(g).IsValid() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = probe.Ping(ctx, g.NS, gw, probe.PingOpts{Count: 1, Timeout: 500 * time.Millisecond})
				}()
			}
		}
	}
	wg.Wait()
	res, err := captureDuring(ctx, env, r, "pings", uplinkPoints(v.Nodes()), func() error {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, p := range pairs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				p.res, p.err = probe.Ping(ctx, p.from.NS, p.fam.Guest(p.to).Addr(), probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second})
			}()
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		return r.Errorf("%v", err)
	}
	crossOK, sameOK, cross := map[ipFam]int{}, map[ipFam]int{}, map[ipFam]int{}
	for _, p := range pairs {
		if p.err != nil {
			return r.Errorf("ping %s -> %s: %v", p.from.Name, p.to.Name, p.err)
		}
		name := fmt.Sprintf("%s (%s) -> %s (%s) %s", p.from.Name, zoneOf[p.from.Name], p.to.Name, zoneOf[p.to.Name], p.fam.Tag())
		if p.same {
			if p.res.OK() {
				sameOK[p.fam]++
			}
			// A control: isolation means nothing if nothing works at all.
			r.Expect("reachable "+name, p.res.OK(), "a reply (same zone)", p.res.String(), "the zone's overlay does not work, so isolation cannot be judged")
			continue
		}
		cross[p.fam]++
		if p.res.OK() {
			crossOK[p.fam]++
		}
		cause := "traffic leaks between zones: overlapping VNIs, a route-target imported across zones, or a route between the VRFs"
		if shared := sharedExits(v, zoneOf[p.from.Name], zoneOf[p.to.Name]); len(shared) > 0 {
			cause = fmt.Sprintf("traffic leaks between zones: zones %s and %s share exit nodes %v, whose default routing table holds both zones' routes (the VRF route leak of exit nodes) and routes between them",
				zoneOf[p.from.Name], zoneOf[p.to.Name], shared)
		}
		r.Expect("isolated "+name, !p.res.OK(), "no reply (different zones)", p.res.String(), cause)
	}
	for _, fam := range ipFams {
		if cross[fam] > 0 || sameOK[fam] > 0 {
			r.Figure("cross-zone pairs "+fam.Tag(), float64(cross[fam]), "")
			r.Figure("cross-zone replies "+fam.Tag(), float64(crossOK[fam]), "")
			r.Figure("same-zone pairs reachable "+fam.Tag(), float64(sameOK[fam]), "")
		}
	}

	// On the wire each guest's frames carry only its own VNIs.
	// Positive control: a guest that reached a same-zone peer on another
	// node must have been seen inside VXLAN, or "no foreign VNI" below was
	// judged on a capture that missed the overlay.
	mustSee := map[string]bool{}
	for _, p := range pairs {
		if p.same && p.from.Node != p.to.Node && p.res.OK() {
			mustSee[p.from.Name] = true
		}
	}
	var bad, unseen []string
	for _, g := range guests {
		// The guest's own frames (its MAC) stay in its VNet's VNI or go
		// routed in the L3VNI; a packet of its address that a gateway
		// routed (another source MAC) may be bridged into any VNet of the
		// same zone (asymmetric routing where no MAC+IP route is known).
		own := capture.FromMAC(g.MAC.String())
		routed := func(p *capture.Packet) bool {
			return !own(p) && p.SrcIP.IsValid() && (p.SrcIP == g.IPv4.Addr() || p.SrcIP == g.IPv6.Addr())
		}
		inner := func(f capture.Filter) capture.Filter {
			return func(p *capture.Packet) bool { return p.VXLAN != nil && p.VXLAN.Inner != nil && f(p.VXLAN.Inner) }
		}
		seen := res.VNIsSeen(inner(capture.Any(own, routed)))
		for _, vni := range res.VNIsSeen(inner(own)) {
			if !slices.Contains(allowed[g.Name], vni) {
				bad = append(bad, fmt.Sprintf("%s in VNI %d (allowed %v)", g.Name, vni, allowed[g.Name]))
			}
		}
		for _, vni := range res.VNIsSeen(inner(routed)) {
			if z := zoneOf[g.Name]; !slices.Contains(zoneVNIs[z], vni) {
				bad = append(bad, fmt.Sprintf("%s routed in VNI %d (zone %s has %v)", g.Name, vni, z, zoneVNIs[z]))
			}
		}
		if mustSee[g.Name] && len(seen) == 0 {
			unseen = append(unseen, g.Name)
		}
	}
	r.Figure("guests seen inside VXLAN", float64(len(mustSee)-len(unseen)), "")
	r.Expect("the capture saw the guests' overlay traffic", len(mustSee) > 0 && len(unseen) == 0,
		fmt.Sprintf("frames of each of the %d guests that reached a peer on another node, inside VXLAN", len(mustSee)),
		"not seen inside VXLAN: "+orNone(unseen),
		"no same-zone pair across nodes answered, or the uplink capture missed the overlay: the VNI check below would prove nothing")
	r.ExpectNone(res, "each guest's frames carry only its own VNIs", len(bad), "no frame of a guest in a foreign VNI", orNone(bad),
		"a VNet bridge is attached to another zone's VXLAN device, or VNIs overlap between zones")
	return r.Finish()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

// sharedExits lists the nodes that are exit nodes of both zones.
func sharedExits(v labView, a, b string) []string {
	ea, _, _ := v.exitNodes(a)
	eb, _, _ := v.exitNodes(b)
	var out []string
	for _, x := range ea {
		for _, y := range eb {
			if x.Name == y.Name {
				out = append(out, x.Name)
			}
		}
	}
	return out
}
