package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// arpNDSuppression: in an EVPN zone the node answers ARP/ND for addresses it
// learned through type-2 routes, so a guest's request for a remote guest
// never crosses the underlay. With disable-arp-nd-suppression it floods.
type arpNDSuppression struct{}

func newARPNDSuppression() Scenario { return arpNDSuppression{} }

func (arpNDSuppression) Name() string { return "arp-nd-suppression" }
func (arpNDSuppression) Description() string {
	return "ARP/ND for known addresses is answered on the local node; nothing crosses the underlay"
}
func (arpNDSuppression) Params() []Param {
	return []Param{{Name: "guest", Default: "", Kind: KindGuest, Help: "the asking guest (default: first guest with a peer on another node)"}}
}

func (s arpNDSuppression) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	// One pair of guests on different nodes per EVPN VNet: every zone's
	// setting is checked.
	byVNet, vnets, err := v.overlayGuests()
	if err != nil {
		return r.Errorf("%v", err)
	}
	names := make([]string, 0, len(byVNet))
	for k := range byVNet {
		names = append(names, k)
	}
	sort.Strings(names)
	tested := 0
	for _, name := range names {
		vn := vnets[name]
		if vn.Zone.Type != "evpn" {
			continue
		}
		a, b, ok := pairIn(byVNet[name], env.Params["guest"])
		if !ok {
			continue
		}
		if bad := s.checkPair(ctx, env, r, v, a, b, vn); bad != nil {
			return bad
		}
		tested++
	}
	if tested == 0 {
		return r.Skipf("no EVPN VNet with two guests on different nodes: ARP/ND suppression is an EVPN feature")
	}
	return r.Finish()
}

// pairIn picks two guests on different nodes (the first one named prefer,
// when given).
func pairIn(gs []Guest, prefer string) (Guest, Guest, bool) {
	for _, a := range gs {
		if prefer != "" && a.Name != prefer {
			continue
		}
		for _, b := range gs {
			if b.Node != a.Node {
				return a, b, true
			}
		}
	}
	return Guest{}, Guest{}, false
}

// checkPair makes a resolve b (ARP, and ND when both have IPv6) with an empty
// cache and watches the underlay; it returns a non-nil result only when the
// scenario cannot go on.
func (s arpNDSuppression) checkPair(ctx context.Context, env *Env, r *Result, v labView, a, b Guest, vn *overlayVNet) *Result {
	vni := uint32(vn.VNet.Tag)
	env.progress("%s (on %s) resolves %s (on %s) in VNI %d", a.Name, a.Node, b.Name, b.Node, vni)

	type fam struct {
		name     string
		family   ipFam
		src      netip.Addr
		target   netip.Addr
		gw       netip.Addr
		question func(netip.Addr) capture.Filter
	}
	var fams []fam
	for _, f := range ipFams {
		if f.Guest(a).IsValid() && f.Guest(b).IsValid() {
			fams = append(fams, fam{pick(f, "ARP", "ND"), f, f.Guest(a).Addr(), f.Guest(b).Addr(), f.GW(b), pick(f, capture.ARPRequestFor, capture.NeighborSolicitFor)})
		}
	}
	if len(fams) == 0 {
		r.Text("VNet "+vn.VNet.ID, fmt.Sprintf("%s and %s share no address family", a.Name, b.Name))
		return nil
	}
	suppress := vn.Zone.ARPNDSuppress
	r.Text("zone "+vn.Zone.ID, fmt.Sprintf("zone %s: arp/nd suppression %v", vn.Zone.ID, suppress))
	for _, f := range fams {
		// The target talks first so its node learns (and advertises) its
		// MAC/IP binding, as a running VM would have.
		if f.gw.IsValid() {
			if _, err := probe.Ping(ctx, b.NS, f.gw, probe.PingOpts{Count: 1, Timeout: 500 * time.Millisecond}); err != nil {
				return r.Errorf("%s pings its gateway: %v", b.Name, err)
			}
		}
		if err := s.waitKnown(ctx, v, a, b, f.target); err != nil {
			r.Text(f.name+" binding", err.Error())
		}
		if err := probe.FlushNeigh(a.NS, f.target); err != nil {
			return r.Errorf("%v", err)
		}
		var pr probe.PingResult
		res, err := captureDuring(ctx, env, r, strings.ToLower(f.name), uplinkPoints(v.Nodes()), func() error {
			var err error
			pr, err = probe.Ping(ctx, a.NS, f.target, probe.PingOpts{Count: 1, Timeout: time.Second})
			time.Sleep(50 * time.Millisecond)
			return err
		})
		if err != nil {
			return r.Errorf("%v", err)
		}
		r.Expect(fmt.Sprintf("%s ping %s -> %s", f.name, a.Name, f.target), pr.OK(), "a reply", pr.String(),
			"no overlay path between the guests")
		// Positive control: "no request crossed" means something only if
		// the capture points saw this very exchange cross the underlay in
		// the VNI (else the points, or the path, are not what we claim).
		carried := res.CountMatching(capture.InVXLAN(vni), capture.IPBetween(f.src, f.target))
		r.Expect(fmt.Sprintf("%s ping %s -> %s seen inside VXLAN VNI %d", f.name, a.Name, f.target, vni), carried > 0,
			"the echo crossing the underlay in VNI "+fmt.Sprint(vni), fmt.Sprintf("%d frames between %s and %s inside VNI %d", carried, f.src, f.target, vni),
			"the capture on the nodes' uplinks did not see the guests' traffic: it did not take the overlay path, so the absence of requests proves nothing")
		q := capture.All(capture.InVXLAN(), f.question(f.target))
		crossed := res.Frames(q)
		// ARP (v4) and ND (v6) under one name: the summary sets them side by side.
		r.Figure(vn.VNet.ID+" requests on the underlay "+f.family.Tag(), float64(len(crossed)), "")
		obs := "none"
		if len(crossed) > 0 {
			var lines []string
			for i, p := range crossed {
				if i == 5 {
					lines = append(lines, fmt.Sprintf("... %d more", len(crossed)-5))
					break
				}
				lines = append(lines, p.Evidence())
			}
			obs = fmt.Sprintf("%d requests crossed the underlay: %s", len(crossed), strings.Join(lines, "; "))
		}
		cause := fmt.Sprintf("the request was flooded to the remote VTEPs although %s's node knew %s", a.Node, f.target)
		if !suppress {
			cause = fmt.Sprintf("zone %s sets disable-arp-nd-suppression: the vxlan ports have no neigh_suppress, so requests are flooded", vn.Zone.ID)
		}
		r.ExpectNone(res, fmt.Sprintf("%s request for %s answered locally on %s", f.name, f.target, a.Node), len(crossed),
			"no "+f.name+" request for "+f.target.String()+" inside VXLAN", obs, cause)
		e, ok, err := probe.NeighFor(a.NS, f.target)
		if err != nil {
			return r.Errorf("%v", err)
		}
		obsMAC := "no entry"
		if ok {
			obsMAC = e.String()
		}
		r.Expect(fmt.Sprintf("%s learned %s", a.Name, f.target), ok && strings.EqualFold(e.MAC, b.MAC.String()),
			b.MAC.String(), obsMAC, "the answer carried the wrong MAC")
	}
	return nil
}

// waitKnown waits until a's node has a neighbour entry for the target (the
// installed type-2 MAC/IP route) so the test does not race the control plane.
func (arpNDSuppression) waitKnown(ctx context.Context, v labView, a, b Guest, ip netip.Addr) error {
	ns, err := v.VNetNS(a.Node, a.VNet)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		e, ok, err := probe.NeighFor(ns, ip)
		if err != nil {
			return err
		}
		if ok && strings.EqualFold(e.MAC, b.MAC.String()) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never learned %s -> %s (last: %v)", a.Node, ip, b.MAC, e)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
