package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// vlanIsolation: guests of vlan and qinq zones reach the guests of their
// own VNet (and VLAN, on a VLAN-aware VNet) on other nodes, their frames
// cross the underlay with exactly the tags the zone prescribes (the VNet's
// 802.1Q tag; for QinQ the service tag with the zone's TPID, then the
// customer tag; then the guest NIC's own tag on a VLAN-aware VNet), guests
// of other VNets, VLANs or zones do not reach them, and a QinQ zone's VNets leave 4 bytes of the
// underlay MTU for the second tag.
type vlanIsolation struct{}

func newVLANIsolation() Scenario { return vlanIsolation{} }

func (vlanIsolation) Name() string { return "vlan-isolation" }
func (vlanIsolation) Description() string {
	return "vlan/qinq guests reach their own VNet across nodes with the right 802.1Q/802.1ad tags on the wire, not other VNets or zones; QinQ leaves 4 bytes of MTU"
}
func (vlanIsolation) Params() []Param { return nil }

// vlanGuest is a guest of a vlan or qinq zone with what its frames carry.
type vlanGuest struct {
	Guest
	zone *plan.ZonePlan
	tags []capture.VLANTag // expected on the underlay, outermost first
	dst  netip.Addr        // the address others ping
}

func tagsString(ts []capture.VLANTag) string {
	if len(ts) == 0 {
		return "untagged"
	}
	var s []string
	for _, t := range ts {
		s = append(s, t.String())
	}
	return strings.Join(s, " + ")
}

// wireTags are the tags a guest's frames carry on the underlay: the VNet's
// VLAN (vlan zone), or the service tag with the zone's TPID and then the
// VNet's customer tag (qinq; none for a VNet without tag).
func wireTags(z *plan.ZonePlan, vn *plan.VNetPlan) []capture.VLANTag {
	switch z.Type {
	case "vlan":
		return []capture.VLANTag{{TPID: 0x8100, VID: uint16(vn.Tag)}}
	case "qinq":
		tpid := uint16(0x8100)
		if z.VlanProtocol == "802.1ad" {
			tpid = 0x88a8
		}
		out := []capture.VLANTag{{TPID: tpid, VID: uint16(z.ServiceTag)}}
		if vn.Tag != 0 {
			out = append(out, capture.VLANTag{TPID: 0x8100, VID: uint16(vn.Tag)})
		}
		return out
	}
	return nil
}

func sameTags(a, b []capture.VLANTag) bool {
	return slices.EqualFunc(a, b, func(x, y capture.VLANTag) bool { return x.TPID == y.TPID && x.VID == y.VID })
}

type vlanPair struct {
	from, to *vlanGuest
	same     bool // same VNet: must reach
	res      probe.PingResult
	err      error
}

func (s vlanIsolation) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	var guests []*vlanGuest
	for _, g := range v.Guests() {
		z, vn, err := v.zoneOf(g)
		if err != nil {
			return r.Errorf("%v", err)
		}
		if z.Type != "vlan" && z.Type != "qinq" {
			continue
		}
		vg := &vlanGuest{Guest: g, zone: z, tags: wireTags(z, vn)}
		if g.Tag != 0 {
			// A tagged NIC on a VLAN-aware VNet: its VLAN rides inside.
			vg.tags = append(vg.tags, capture.VLANTag{TPID: 0x8100, VID: uint16(g.Tag)})
		}
		if g.IPv4.IsValid() {
			vg.dst = g.IPv4.Addr()
		} else if g.IPv6.IsValid() {
			vg.dst = g.IPv6.Addr()
		} else {
			continue
		}
		guests = append(guests, vg)
	}
	sort.Slice(guests, func(i, j int) bool { return guests[i].Name < guests[j].Name })
	var pairs []*vlanPair
	for _, a := range guests {
		for _, b := range guests {
			if a == b || a.dst.Is4() != b.dst.Is4() {
				continue
			}
			same := a.VNet == b.VNet && a.Tag == b.Tag
			if same && a.Node == b.Node {
				continue // nothing crosses the underlay
			}
			pairs = append(pairs, &vlanPair{from: a, to: b, same: same})
		}
	}
	nSame, nOther := 0, 0
	for _, p := range pairs {
		if p.same {
			nSame++
		} else {
			nOther++
		}
	}
	if nSame == 0 || nOther == 0 {
		return r.Skipf("needs guests of one vlan/qinq VNet on two nodes and a guest of another VNet; the lab has %d such pairs and %d other pairs", nSame, nOther)
	}
	env.progress("%d guests in vlan/qinq zones, %d pairs", len(guests), len(pairs))

	res, err := captureDuring(ctx, env, r, "pings", uplinkPoints(v.Nodes()), func() error {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, p := range pairs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				p.res, p.err = probe.Ping(ctx, p.from.NS, p.to.dst, probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second})
			}()
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		return r.Errorf("%v", err)
	}
	reached := map[string]bool{} // guests that reached a peer on another node
	leaks := 0
	for _, p := range pairs {
		if p.err != nil {
			return r.Errorf("ping %s -> %s: %v", p.from.Name, p.to.Name, p.err)
		}
		name := fmt.Sprintf("%s (%s, %s) -> %s (%s, %s)", p.from.Name, p.from.VNet, tagsString(p.from.tags), p.to.Name, p.to.VNet, tagsString(p.to.tags))
		other := "another VNet"
		if p.from.VNet == p.to.VNet {
			other = "another VLAN of the VLAN-aware VNet"
		}
		if p.same {
			if p.res.OK() {
				reached[p.from.Name] = true
			}
			r.Expect("reachable "+name, p.res.OK(), "a reply (same VNet, another node)", p.res.String(),
				"the VNet's VLAN does not cross the underlay: a node's VLAN device, its host bridge or the underlay NIC is not where the zone says")
			continue
		}
		if p.res.OK() {
			leaks++
		}
		cause := "frames cross between VLANs"
		if sameTags(p.from.tags, p.to.tags) {
			cause = fmt.Sprintf("VNets %s and %s put the same tags on the wire (%s): they are one L2 network; give each zone its own service VLAN or each VNet its own tag",
				p.from.VNet, p.to.VNet, tagsString(p.from.tags))
		}
		r.Expect("isolated "+name, !p.res.OK(), "no reply ("+other+")", p.res.String(), cause)
	}
	r.Figure("guests that reached their VNet on another node", float64(len(reached)), "")
	r.Figure("pairs across VNets that got a reply", float64(leaks), "")

	// On the wire: every frame of a guest carries the zone's tags.
	var bad, unseen []string
	seenGuests := 0
	for _, g := range guests {
		// Every frame the guest sent (ARP, ND, IP) counts: its MAC is its own.
		mine := capture.FromMAC(g.MAC.String())
		n := 0
		var wrong []string
		for _, p := range res.Packets {
			if p.Depth != 0 || !mine(p) {
				continue
			}
			n++
			if !sameTags(p.VLANs, g.tags) && !slices.Contains(wrong, tagsString(p.VLANs)) {
				wrong = append(wrong, tagsString(p.VLANs))
			}
		}
		if n > 0 {
			seenGuests++
		}
		if reached[g.Name] && n == 0 {
			unseen = append(unseen, g.Name)
		}
		if len(wrong) > 0 {
			bad = append(bad, fmt.Sprintf("%s: %s (expected %s)", g.Name, strings.Join(wrong, ", "), tagsString(g.tags)))
		}
	}
	r.Figure("guests seen on the underlay", float64(seenGuests), "")
	r.Expect("the capture saw the guests' frames on the underlay", len(reached) > 0 && len(unseen) == 0,
		fmt.Sprintf("frames of each of the %d guests that reached a peer on another node", len(reached)),
		"not seen: "+orNone(unseen),
		"no guest reached its VNet on another node, or the capture on the underlay NICs missed them: the tag check would prove nothing")
	r.Expect("each guest's frames carry its zone's tags", len(bad) == 0,
		"the VNet's 802.1Q tag; for QinQ the service tag with the zone's TPID, then the customer tag", orNone(bad),
		"a guest's frames leave the node with other tags than the zone's (or none): the underlay NIC is plugged into a VLAN bridge untagged, or a VLAN device sits on the wrong device")

	s.qinqMTU(ctx, env, v, r, guests)
	return r.Finish()
}

// qinqMTU checks the QinQ MTU rule per qinq zone with guests on two nodes:
// the VNet MTU leaves 4 bytes of the underlay MTU for the second tag, and a
// packet of the guest's MTU, DF set, reaches the other node with at most
// the underlay MTU after the outer tag.
func (vlanIsolation) qinqMTU(ctx context.Context, env *Env, v labView, r *Result, guests []*vlanGuest) {
	done := map[string]bool{}
	for _, a := range guests {
		if a.zone.Type != "qinq" || done[a.zone.ID] || !a.dst.Is4() {
			continue
		}
		var b *vlanGuest
		for _, o := range guests {
			if o.VNet == a.VNet && o.Node != a.Node && o.dst.Is4() {
				b = o
				break
			}
		}
		if b == nil {
			continue
		}
		done[a.zone.ID] = true
		node, err := v.node(a.Node)
		if err != nil || len(node.Uplinks) == 0 {
			r.Errorf("node of %s: %v", a.Name, err)
			return
		}
		guestMTU, err1 := ifaceMTU(v, a.NS, a.Iface)
		underMTU, err2 := ifaceMTU(v, node.NS, node.Uplinks[0])
		if err1 != nil || err2 != nil {
			r.Errorf("read MTUs: %v %v", err1, err2)
			return
		}
		zone := a.zone.ID
		r.Figure("zone "+zone+" guest MTU", float64(guestMTU), "bytes")
		r.Figure("zone "+zone+" underlay MTU", float64(underMTU), "bytes")
		rule := fmt.Sprintf("QinQ needs 4 bytes for the second tag: set zone %s's mtu to %d (the underlay's %d minus 4)", zone, underMTU-4, underMTU)
		r.Expect(fmt.Sprintf("zone %s: guest MTU leaves 4 bytes for the second tag", zone), guestMTU <= underMTU-4,
			fmt.Sprintf("at most %d", underMTU-4), fmt.Sprint(guestMTU), rule)
		// A full-size packet of the guest, DF set, and what the wire carried.
		size := guestMTU - 28
		var pr probe.PingResult
		var perr error
		res, err := captureDuring(ctx, env, r, "qinq-mtu-"+zone, uplinkPoints(v.Nodes()), func() error {
			pr, perr = probe.Ping(ctx, a.NS, b.dst, probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second, Size: size, DF: true})
			return perr
		})
		if err != nil {
			r.Errorf("%v", err)
			return
		}
		r.Expect(fmt.Sprintf("zone %s: %d-byte packet %s -> %s", zone, guestMTU, a.Name, b.Name), pr.OK(),
			"a reply (DF set, the guest's full MTU)", pr.String(), rule)
		largest := 0
		for _, p := range res.Packets {
			if p.Depth == 0 && p.SrcIP == a.dst && len(p.VLANs) > 0 && p.ICMP != nil {
				largest = max(largest, p.Len-18) // after the MAC addresses, outer tag and its type field
			}
		}
		if pr.OK() {
			r.Figure("zone "+zone+" largest payload after the outer tag", float64(largest), "bytes")
			r.Expect(fmt.Sprintf("zone %s: payload after the outer tag fits the underlay", zone), largest > 0 && largest <= underMTU,
				fmt.Sprintf("seen on the underlay, at most %d bytes", underMTU), fmt.Sprintf("%d bytes", largest), rule)
		}
	}
}

// ifaceMTU reads an interface's MTU inside a namespace.
func ifaceMTU(v labView, ns, ifname string) (int, error) {
	var mtu int
	err := v.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mtu = ifi.MTU
		return nil
	})
	return mtu, err
}
