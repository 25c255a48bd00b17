package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// bumReplication: a broadcast sent by a guest into its VNet must leave its
// node once per remote VTEP of that VNI (head-end replication), reach every
// other guest of the VNet exactly once, and go nowhere else. IPv6 has no
// broadcast: its frame goes to the all-nodes group ff02::1, which a VNet
// floods the same way. A dual-stack guest sends both, checked apart.
type bumReplication struct{}

func newBUMReplication() Scenario { return bumReplication{} }

func (bumReplication) Name() string { return "bum-replication" }
func (bumReplication) Description() string {
	return "a broadcast in a VNI reaches every remote VTEP of that VNI exactly once and no other"
}
func (bumReplication) Params() []Param {
	return []Param{{Name: "guest", Default: "", Kind: KindGuest, Help: "the sending guest (default: the first guest of an overlay VNet spanning several nodes)"}}
}

func (s bumReplication) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	byVNet, vnets, err := v.overlayGuests()
	if err != nil {
		return r.Errorf("%v", err)
	}
	var g Guest
	found := false
	// Prefer a guest whose VNet spans several nodes: in a one-node VNet
	// nothing is replicated and the check would hold vacuously.
	spans := func(c Guest) bool { return len(vnets[c.VNet].Nodes) > 1 }
	for _, gs := range byVNet {
		for _, c := range gs {
			if env.Params["guest"] != "" && c.Name != env.Params["guest"] {
				continue
			}
			if !found || spans(c) && !spans(g) || spans(c) == spans(g) && c.Name < g.Name {
				g, found = c, true
			}
		}
	}
	if !found {
		if env.Params["guest"] != "" {
			return r.Errorf("guest %s is not in a VXLAN/EVPN VNet", env.Params["guest"])
		}
		return r.Skipf("the lab has no guest in a VXLAN/EVPN VNet")
	}
	vn := vnets[g.VNet]
	vni := uint32(vn.VNet.Tag)
	if !g.IPv4.IsValid() && !g.IPv6.IsValid() {
		return r.Skipf("guest %s has no IP address to send a broadcast from", g.Name)
	}
	sender, err := v.node(g.Node)
	if err != nil {
		return r.Errorf("%v", err)
	}
	// Remote VTEPs: every other node that has the VNet.
	var remotes []netip.Addr
	var remoteNames []string
	for _, n := range vn.Nodes {
		if n.Name != sender.Name {
			remotes = append(remotes, n.VTEP)
			remoteNames = append(remoteNames, n.Name)
		}
	}
	if len(remotes) == 0 {
		return r.Skipf("VNet %s of guest %s exists on %s only: there is no remote VTEP to replicate to", g.VNet, g.Name, sender.Name)
	}
	var others []Guest // guests of the VNet behind other nodes, and behind the same node
	for _, o := range byVNet[g.VNet] {
		if o.Name != g.Name {
			others = append(others, o)
		}
	}
	r.Figure("remote VTEPs", float64(len(remotes)), "")
	for _, fam := range ipFams {
		if fam.Guest(g).IsValid() {
			if err := s.flood(ctx, env, r, fam, g, vni, sender, remotes, remoteNames, others); err != nil {
				return r.Errorf("%v", err)
			}
		}
	}
	return r.Finish()
}

// flood sends one broadcast (IPv4) or all-nodes multicast (IPv6) frame
// from g and checks where its copies went; check and figure names carry the
// family.
func (bumReplication) flood(ctx context.Context, env *Env, r *Result, fam ipFam, g Guest, vni uint32, sender Node, remotes []netip.Addr, remoteNames []string, others []Guest) error {
	v := labView{env.Lab}
	tag := fam.Tag()
	points := uplinkPoints(v.Nodes())
	for _, o := range others {
		points = append(points, guestPoint(o))
	}
	marker := []byte("sdnlab-bum-" + nonce())
	dstMAC, dstIP, what := probe.Broadcast, netip.MustParseAddr("255.255.255.255"), "broadcast"
	if fam.v6 {
		dstMAC, dstIP, what = probe.MulticastMAC(probe.AllNodes), probe.AllNodes, "all-nodes multicast ("+probe.AllNodes.String()+")"
	}
	frame, err := probe.UDPFrame(g.MAC, dstMAC, fam.Guest(g).Addr(), dstIP, 9, marker)
	if err != nil {
		return err
	}
	env.progress("%s (on %s) sends a %s %s into VNI %d; remote VTEPs %s", g.Name, sender.Name, tag, what, vni, addrsString(remotes))
	res, err := captureDuring(ctx, env, r, "broadcast-"+tag, points, func() error {
		if err := probe.SendFrames(g.NS, g.Iface, frame); err != nil {
			return err
		}
		time.Sleep(150 * time.Millisecond) // let every copy land
		return nil
	})
	if err != nil {
		return err
	}
	ours := func(p *capture.Packet) bool { return bytes.Contains(p.Data(), marker) }

	// On the wire: head-end replication out of the sender's uplinks.
	out := capture.All(capture.AtPoint(uplinkLabels(sender)...), capture.Outgoing())
	copies := 0
	for _, p := range res.Frames(out, capture.HasVXLAN(vni)) {
		if p.VXLAN.Inner != nil && ours(p.VXLAN.Inner) {
			copies++
		}
	}
	r.Figure("copies sent "+tag, float64(copies), "")
	r.ExpectAbsent(fmt.Sprintf("head-end replication of a %s %s in VNI %d from %s", tag, what, vni, sender.Name), res.BroadcastReplicatedOnce(vni, remotes, ours, out),
		fmt.Sprintf("exactly one copy to each of %v (%s) and none elsewhere", remoteNames, addrsString(remotes)),
		"the flood list of the VNI on "+sender.Name+" is wrong: a vxlan zone's peers list (or the EVPN IMET routes) must name every node of the zone once and nothing else")

	// Any copy in another VNI is a leak.
	leaked := 0
	for _, p := range res.Frames(capture.Outer()) {
		if p.VXLAN != nil && p.VXLAN.VNI != vni && p.VXLAN.Inner != nil && ours(p.VXLAN.Inner) {
			leaked++
		}
	}
	r.ExpectNone(res, "no copy in another VNI ("+tag+")", leaked, "0", fmt.Sprint(leaked), "VNIs mapped to the wrong bridge")

	// Each other guest of the VNet sees the frame exactly once.
	for _, o := range others {
		n := 0
		for _, p := range res.Frames(capture.AtPoint(guestPoint(o).Label), capture.Incoming()) {
			if p.Depth == 0 && ours(p) {
				n++
			}
		}
		r.Expect(fmt.Sprintf("%s (on %s) receives the %s %s once", o.Name, o.Node, tag, what), n == 1, "1 copy", fmt.Sprintf("%d copies", n),
			dupCause(n, o.Node, sender.Name, remoteNames))
	}
	return nil
}

func dupCause(n int, node, sender string, remotes []string) string {
	switch {
	case n == 0 && node != sender && !slices.Contains(remotes, node):
		return node + " is not in the VNet's node list"
	case n == 0:
		return node + " was left out of the flood list"
	default:
		return "the frame was replicated more than once (a VTEP listed twice, or a loop between nodes)"
	}
}
