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
// other guest of the VNet exactly once, and go nowhere else.
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
	if !g.IPv4.IsValid() {
		return r.Skipf("guest %s has no IPv4 address to send a broadcast from", g.Name)
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
	points := uplinkPoints(v.Nodes())
	for _, o := range others {
		points = append(points, guestPoint(o))
	}
	marker := []byte("sdnlab-bum-" + nonce())
	frame, err := probe.UDPFrame(g.MAC, probe.Broadcast, g.IPv4.Addr(), netip.MustParseAddr("255.255.255.255"), 9, marker)
	if err != nil {
		return r.Errorf("%v", err)
	}
	env.progress("%s (on %s) broadcasts into VNI %d; remote VTEPs %s", g.Name, sender.Name, vni, addrsString(remotes))
	res, err := captureDuring(ctx, env, r, "broadcast", points, func() error {
		if err := probe.SendFrames(g.NS, g.Iface, frame); err != nil {
			return err
		}
		time.Sleep(150 * time.Millisecond) // let every copy land
		return nil
	})
	if err != nil {
		return r.Errorf("%v", err)
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
	r.Figure("remote VTEPs", float64(len(remotes)), "")
	r.Figure("copies sent", float64(copies), "")
	r.ExpectAbsent(fmt.Sprintf("head-end replication in VNI %d from %s", vni, sender.Name), res.BroadcastReplicatedOnce(vni, remotes, ours, out),
		fmt.Sprintf("exactly one copy to each of %v (%s) and none elsewhere", remoteNames, addrsString(remotes)),
		"the flood list of the VNI on "+sender.Name+" is wrong: a vxlan zone's peers list (or the EVPN IMET routes) must name every node of the zone once and nothing else")

	// Any copy in another VNI is a leak.
	leaked := 0
	for _, p := range res.Frames(capture.Outer()) {
		if p.VXLAN != nil && p.VXLAN.VNI != vni && p.VXLAN.Inner != nil && ours(p.VXLAN.Inner) {
			leaked++
		}
	}
	r.ExpectNone(res, "no copy in another VNI", leaked, "0", fmt.Sprint(leaked), "VNIs mapped to the wrong bridge")

	// Each other guest of the VNet sees the broadcast exactly once.
	for _, o := range others {
		n := 0
		for _, p := range res.Frames(capture.AtPoint(guestPoint(o).Label), capture.Incoming()) {
			if p.Depth == 0 && ours(p) {
				n++
			}
		}
		r.Expect(fmt.Sprintf("%s (on %s) receives the broadcast once", o.Name, o.Node), n == 1, "1 copy", fmt.Sprintf("%d copies", n),
			dupCause(n, o.Node, sender.Name, remoteNames))
	}
	return r.Finish()
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
