package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// vxlanInjection: a host on the underlay that is not a VTEP sends VXLAN
// into a VNI. Linux accepts VXLAN from any source, so as deployed a guest
// usually receives it: a security finding. The scenario then applies the
// remedy (drop UDP 4789 unless from a known VTEP) on every node, injects
// again, and checks that the injection is blocked while the overlay works.
// The underlay may be IPv4 or IPv6 (the VTEPs' family); the injected inner
// frames carry each IP family the guest has, counted apart.
type vxlanInjection struct{}

func newVXLANInjection() Scenario { return vxlanInjection{} }

func (vxlanInjection) Name() string { return "vxlan-injection" }
func (vxlanInjection) Description() string {
	return "a non-VTEP underlay host injects VXLAN into a VNI; finding, remedy (filter UDP 4789 to known VTEPs) verified"
}
func (vxlanInjection) Params() []Param {
	return []Param{
		{Name: "from", Default: "", Kind: KindHost, Help: "the injecting host: a router or external (default: the first router)"},
		{Name: "strict", Default: "false", Kind: KindBool, Help: "fail (not warn) when the lab as deployed accepts the injection"},
	}
}

func (s vxlanInjection) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	g, peer, vn, err := v.pairOnTwoNodes("")
	if err != nil {
		return r.Skipf("%v", err)
	}
	var fams []ipFam
	for _, fam := range ipFams {
		if fam.Guest(g).IsValid() {
			fams = append(fams, fam)
		}
	}
	if len(fams) == 0 {
		return r.Skipf("guest %s has no IP address", g.Name)
	}
	// The overlay check pings over a family both guests have.
	var probeFam ipFam
	found := false
	for _, fam := range fams {
		if !found && fam.Guest(peer).IsValid() {
			probeFam, found = fam, true
		}
	}
	if !found {
		return r.Skipf("guests %s and %s share no IP family", g.Name, peer.Name)
	}
	node, err := v.node(g.Node)
	if err != nil {
		return r.Errorf("%v", err)
	}
	var intruder Host
	hosts := v.Routers()
	if e, ok := v.External(); ok {
		hosts = append(hosts, e)
	}
	for _, h := range hosts {
		if env.Params["from"] == "" || env.Params["from"] == h.Name {
			intruder = h
			break
		}
	}
	if intruder.Name == "" {
		return r.Skipf("no router or external host to inject from")
	}
	// Where the VNI is terminated and which VTEPs are legitimate: a vxlan
	// zone's peers list, or the nodes' own VTEPs for EVPN.
	var legit []netip.Addr
	for _, n := range vn.Nodes {
		if !slices.Contains(legit, n.VTEP) {
			legit = append(legit, n.VTEP)
		}
		if p, err := v.Plan(n.Name); err == nil {
			for _, z := range p.Zones {
				if z.ID == vn.Zone.ID {
					// A controller's peers are BGP speakers: a route
					// reflector among them is no VTEP, but any other peer
					// would be let in by a filter built from the list.
					peers := slices.DeleteFunc(slices.Clone(z.Peers), func(a netip.Addr) bool {
						return slices.ContainsFunc(v.Routers(), func(h Host) bool { return h.Reflector && slices.Contains(h.Addrs, a) })
					})
					for _, a := range append(peers, z.LocalVTEP) {
						if a.IsValid() && !slices.Contains(legit, a) {
							legit = append(legit, a)
						}
					}
				}
			}
		}
	}
	port := uint16(vn.Zone.VxlanPort)
	if port == 0 {
		port = 4789
	}
	vni := uint32(vn.VNet.Tag)
	// A fabric's VTEP is a loopback routed only inside the mesh: an
	// intruder on the underlay segment aims at the node's address there
	// (the VXLAN socket listens on every address).
	dst := node.VTEP
	if !routable(env, intruder.NS, dst) {
		for _, a := range node.Addrs {
			if a != node.VTEP && routable(env, intruder.NS, a) {
				dst = a
				break
			}
		}
	}
	env.progress("%s injects VXLAN VNI %d to %s:%d for %s", intruder.Name, vni, dst, port, g.Name)

	// inject sends 3 VXLAN packets per family of the guest and returns, per
	// family, how many of the injected frames reached the guest.
	inject := func(tag string) (map[ipFam]int, *capture.Result, error) {
		src := net.HardwareAddr{0x02, 0xba, 0xd0, 0x00, 0x00, 0x01}
		markers := map[ipFam][]byte{}
		var payloads [][]byte
		for _, fam := range fams {
			markers[fam] = []byte("sdnlab-inject-" + nonce())
			fake := fam.Guest(g).Masked().Addr().Next().Next() // an address of the subnet
			inner, err := probe.UDPFrame(src, g.MAC, fake, fam.Guest(g).Addr(), 9, markers[fam])
			if err != nil {
				return nil, nil, err
			}
			payloads = append(payloads, probe.VXLANPayload(vni, inner))
		}
		// The node's uplinks are captured too: the positive control that
		// the injected packets did reach the VTEP, so "0 delivered" means
		// dropped there and not lost (or misaddressed) on the way.
		points := append([]capture.Point{guestPoint(g)}, uplinkPoints([]Node{node})...)
		res, err := captureDuring(ctx, env, r, tag, points, func() error {
			for _, pl := range payloads {
				for i := 0; i < 3; i++ {
					if err := probe.SendUDP(intruder.NS, netip.AddrPortFrom(dst, port), pl); err != nil {
						return err
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		got := map[ipFam]int{}
		for _, fam := range fams {
			m := markers[fam]
			ours := func(p *capture.Packet) bool { return bytes.Contains(p.Data(), m) }
			arrived := res.CountMatching(capture.AtPoint(uplinkLabels(node)...), capture.Incoming(), capture.HasVXLAN(vni), ours)
			r.Expect(fmt.Sprintf("%s: injected VXLAN (%s inside) reaches %s's uplink", tag, fam.Tag(), node.Name), arrived > 0,
				fmt.Sprintf("the packets for VNI %d arrive at %s", vni, dst), fmt.Sprintf("%d arrived", arrived),
				fmt.Sprintf("%s has no underlay path to %s: the injection was never tested", intruder.Name, dst))
			got[fam] = res.CountMatching(capture.AtPoint(guestPoint(g).Label), capture.Outer(), ours)
		}
		return got, res, nil
	}

	// The overlay must work before, or "still works with the filter" means nothing.
	if pr, err := probe.Ping(ctx, peer.NS, probeFam.Guest(g).Addr(), probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second}); err != nil || !pr.OK() {
		return r.Errorf("%s cannot reach %s before any filter (%s): the overlay does not work", peer.Name, g.Name, pr.String())
	}
	got, deployed, err := inject("as-deployed")
	if err != nil {
		return r.Errorf("inject: %v", err)
	}
	saddr := "ip"
	if node.VTEP.Is6() {
		saddr = "ip6"
	}
	for _, fam := range fams {
		tag := fam.Tag()
		exposed := got[fam] > 0
		if exposed {
			r.Finding("as deployed ("+tag+" inside)", fmt.Sprintf("EXPOSED: %s received %d injected frames", g.Name, got[fam]))
		} else {
			r.Finding("as deployed ("+tag+" inside)", "injection not delivered")
		}
		r.Text("finding ("+tag+" inside)", fmt.Sprintf("%s (%s, not a VTEP) sent 3 VXLAN packets for VNI %d to %s:%d, carrying %s frames; guest %s received %d.\nRemedy: on every node drop UDP %d unless the source is a known VTEP (%s), e.g. nft add rule inet filter input udp dport %d %s saddr != { %s } drop",
			intruder.Name, addrsString(intruder.Addrs), vni, dst, port, tag, g.Name, got[fam], port, addrsString(legit), port, saddr, addrsString(legit)))
		// Proxmox deploys this (the kernel takes VXLAN from anyone): a
		// warning the team must read, a failure with strict (or --strict).
		name, expected := "as deployed, injected VXLAN is not delivered ("+tag+" inside)", "0 frames reach the guest"
		cause := fmt.Sprintf("the nodes accept VXLAN on UDP %d from any source (as Proxmox deploys them): anyone on the underlay can put frames into VNI %d; remedy: drop UDP %d unless from a known VTEP (%s)", port, vni, port, addrsString(legit))
		switch {
		case !exposed && deployed.Lost() != "":
			r.Unproven(name, expected, "the capture lost frames ("+deployed.Lost()+"): absence cannot be shown")
		case env.Params["strict"] == "true":
			r.Expect(name, !exposed, expected, fmt.Sprintf("%d frames", got[fam]), cause)
		default:
			r.ExpectWarn(name, !exposed, expected, fmt.Sprintf("%d frames", got[fam]), cause)
		}
	}

	// The remedy, on every node of the VNet.
	var removes []func() error
	defer func() {
		for _, rm := range removes {
			if err := rm(); err != nil {
				r.Text("remove filter", err.Error())
			}
		}
	}()
	for _, n := range vn.Nodes {
		rm, err := probe.GuardVXLAN(n.NS, port, legit)
		if err != nil {
			return r.Errorf("install the remedy on %s: %v", n.Name, err)
		}
		removes = append(removes, rm)
	}
	got2, filtered, err := inject("with-remedy")
	if err != nil {
		return r.Errorf("inject: %v", err)
	}
	inList := slices.ContainsFunc(intruder.Addrs, func(a netip.Addr) bool { return slices.Contains(legit, a) })
	cause := "the filter did not stop it"
	if inList {
		cause = fmt.Sprintf("the injecting host's address is in the zone's VTEP list (%s): a peers entry that is not a node lets anyone on that address into the VNI", addrsString(legit))
	}
	for _, fam := range fams {
		r.ExpectNone(filtered, "with UDP "+fmt.Sprint(port)+" filtered to known VTEPs, the injection is dropped ("+fam.Tag()+" inside)", got2[fam],
			"0 frames reach the guest", fmt.Sprintf("%d frames", got2[fam]), cause)
	}
	pr, err := probe.Ping(ctx, peer.NS, probeFam.Guest(g).Addr(), probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		return r.Errorf("%v", err)
	}
	r.Expect("with the filter, the overlay still works", pr.OK(), "a reply "+peer.Name+" -> "+g.Name, pr.String(),
		"the VTEP list misses a node: the filter drops legitimate VXLAN")
	return r.Finish()
}

// routable tells whether namespace ns has a route to a.
func routable(env *Env, ns string, a netip.Addr) bool {
	return env.Lab.Do(ns, func() error {
		_, err := netlink.RouteGet(net.IP(a.AsSlice()))
		return err
	}) == nil
}
