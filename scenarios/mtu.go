package scenarios

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// mtu probes the path MTU with DF set between guests (IPv4 and IPv6), to the
// external host and between VTEPs, and explains the two classic
// misconfigurations: a guest MTU above the VNet MTU (big frames vanish at the
// bridge) and an underlay below VNet MTU + 50 (outer packets fragmented or
// dropped).
type mtu struct{}

func newMTU() Scenario { return mtu{} }

func (mtu) Name() string { return "mtu" }
func (mtu) Description() string {
	return "overlay path MTU with DF set (IPv4, IPv6) between guests and to the external host; explains misconfigurations"
}
func (mtu) Params() []Param {
	return []Param{{Name: "guest", Default: "", Kind: KindGuest, Help: "the probing guest (default: first guest with a peer on another node)"}}
}

// vxlanOverhead is what VXLAN adds to an inner frame's IP MTU: outer IPv4
// 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (IPv6 underlay: 70).
const vxlanOverhead = 50

func icmpOverhead(a netip.Addr) int {
	if a.Is6() {
		return 48
	}
	return 28
}

// pathMTU finds the largest packet that gets a reply with DF set, by
// binary search between a floor and hi. last is the result of the probe at
// hi (its errors explain a failure).
func pathMTU(ctx context.Context, ns string, dst netip.Addr, hi int) (mtu int, atHi probe.PingResult, err error) {
	oh := icmpOverhead(dst)
	try := func(m int) (probe.PingResult, error) {
		return probe.Ping(ctx, ns, dst, probe.PingOpts{Count: 1, Size: m - oh, DF: true, Timeout: time.Second})
	}
	lo := 576
	if dst.Is6() {
		lo = 1280
	}
	low, err := try(lo) // also warms ARP/ND
	if err != nil {
		return 0, low, err
	}
	if !low.OK() {
		if low, err = try(lo); err != nil || !low.OK() {
			return 0, low, err
		}
	}
	atHi, err = try(hi)
	if err != nil || atHi.OK() {
		return hi, atHi, err
	}
	// Invariant: lo passes, hi fails.
	for hi-lo > 1 {
		m := (lo + hi) / 2
		res, err := try(m)
		if err != nil {
			return 0, atHi, err
		}
		if res.OK() {
			lo = m
		} else {
			hi = m
		}
	}
	return lo, atHi, nil
}

func (s mtu) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	a, b, vn, err := v.pairOnTwoNodes(env.Params["guest"])
	if err != nil {
		return r.Skipf("%v", err)
	}
	// Prefer a dual-stack pair, so IPv6 is probed too.
	if env.Params["guest"] == "" && !(a.IPv6.IsValid() && b.IPv6.IsValid()) {
		if byVNet, vnets, err := v.overlayGuests(); err == nil {
			// In VNet name order: the same lab always probes the same pair.
			for _, name := range slices.Sorted(maps.Keys(byVNet)) {
				var six []Guest
				for _, g := range byVNet[name] {
					if g.IPv6.IsValid() && g.IPv4.IsValid() {
						six = append(six, g)
					}
				}
				if x, y, ok := pairIn(six, ""); ok {
					a, b, vn = x, y, vnets[name]
					break
				}
			}
		}
	}
	na, err := v.node(a.Node)
	if err != nil {
		return r.Errorf("%v", err)
	}
	nb, err := v.node(b.Node)
	if err != nil {
		return r.Errorf("%v", err)
	}
	guestMTU, err := probe.LinkMTU(a.NS, a.Iface)
	if err != nil {
		return r.Errorf("%v", err)
	}
	vnetMTU := vn.Zone.MTU
	if ns, err := v.VNetNS(a.Node, a.VNet); err == nil && vn.VNet.Vxlan != "" {
		if m, err := probe.LinkMTU(ns, vn.VNet.Vxlan); err == nil {
			vnetMTU = m // what the kernel really has
		}
	}
	if vnetMTU == 0 {
		return r.Errorf("cannot tell the MTU of VNet %s", vn.VNet.ID)
	}
	r.Figure("guest MTU", float64(guestMTU), "")
	r.Figure("VNet MTU", float64(vnetMTU), "")

	// 1. configuration: guest MTU vs VNet MTU.
	r.Expect(fmt.Sprintf("%s MTU fits VNet %s", a.Name, vn.VNet.ID), guestMTU <= vnetMTU,
		fmt.Sprintf("guest MTU <= VNet MTU %d", vnetMTU), fmt.Sprintf("guest MTU %d", guestMTU),
		fmt.Sprintf("the guest's NIC MTU %d is above the VNet MTU %d: frames over %d are dropped silently by the bridge on %s (set the VM NIC MTU to %d, or mtu=1 in Proxmox to inherit the bridge's)",
			guestMTU, vnetMTU, vnetMTU, a.Node, vnetMTU))

	// 2. underlay path MTU between the two VTEPs.
	upMTU := 0
	for _, u := range na.vxlanIfaces() {
		if m, err := probe.LinkMTU(na.NS, u); err == nil && (upMTU == 0 || m < upMTU) {
			upMTU = m
		}
	}
	if upMTU == 0 {
		return r.Errorf("%s has no readable uplink MTU", na.Name)
	}
	under, _, err := pathMTU(ctx, na.NS, nb.VTEP, upMTU)
	if err != nil {
		return r.Errorf("underlay probe %s -> %s: %v", na.Name, nb.VTEP, err)
	}
	r.Figure("underlay path MTU", float64(under), "")
	need := vnetMTU + vxlanOverhead
	if nb.VTEP.Is6() {
		need += 20
	}
	r.Expect(fmt.Sprintf("underlay %s -> %s carries VNet MTU + VXLAN overhead", na.Name, nb.Name), under >= need,
		fmt.Sprintf("underlay path MTU >= %d (VNet MTU %d + %d)", need, vnetMTU, need-vnetMTU), fmt.Sprintf("%d", under),
		fmt.Sprintf("the underlay carries only %d bytes: full-size overlay packets (%d + %d) are fragmented or dropped; raise the underlay MTU to %d or lower the VNet MTU to %d",
			under, vnetMTU, need-vnetMTU, need, under-(need-vnetMTU)))

	// 3. the overlay path itself, per family, with the wire watched.
	type fam struct {
		name string
		src  netip.Prefix
		dst  netip.Addr
	}
	var fams []fam
	if a.IPv4.IsValid() && b.IPv4.IsValid() {
		fams = append(fams, fam{"IPv4", a.IPv4, b.IPv4.Addr()})
	}
	if a.IPv6.IsValid() && b.IPv6.IsValid() {
		fams = append(fams, fam{"IPv6", a.IPv6, b.IPv6.Addr()})
	}
	hi := guestMTU // what the guest believes it can send
	points := append(uplinkPoints(v.Nodes()), guestPoint(a))
	for _, f := range fams {
		var eff int
		var atHi probe.PingResult
		res, err := captureDuring(ctx, env, r, strings.ToLower(f.name), points, func() error {
			var err error
			eff, atHi, err = pathMTU(ctx, a.NS, f.dst, hi)
			return err
		})
		if err != nil {
			return r.Errorf("%s probe %s -> %s: %v", f.name, a.Name, f.dst, err)
		}
		r.Figure(f.name+" overlay MTU", float64(eff), "")
		obs := fmt.Sprintf("largest DF packet that got a reply: %d bytes", eff)
		if eff < hi {
			obs += fmt.Sprintf("; at %d: %s", hi, atHi.String())
			// Evidence: requests of the failing size that left the guest and
			// what the underlay did with them.
			big := func(p *capture.Packet) bool {
				return p.ICMP != nil && strings.Contains(p.ICMP.TypeName, "echo request") && p.Len > eff+14
			}
			left := res.CountMatching(capture.AtPoint(guestPoint(a).Label), capture.Outer(), big)
			onWire := res.CountMatching(capture.InVXLAN(), big)
			obs += fmt.Sprintf("; oversized requests sent by the guest %d, seen inside VXLAN %d", left, onWire)
		}
		cause := "the overlay path is narrower than the guest's MTU"
		switch {
		case guestMTU > vnetMTU:
			cause = fmt.Sprintf("guest MTU %d above the VNet MTU %d: the bridge drops the larger frames without an ICMP error (a PMTU black hole)", guestMTU, vnetMTU)
		case under < need:
			cause = fmt.Sprintf("underlay path MTU %d below VNet MTU + %d = %d", under, need-vnetMTU, need)
		}
		r.Expect(fmt.Sprintf("%s full-size DF packets %s -> %s", f.name, a.Name, b.Name), eff >= hi,
			fmt.Sprintf("%d-byte packets pass with DF", hi), obs, cause)
		// Positive control: "no fragments" is only evidence if the capture
		// saw the probes cross the underlay inside VXLAN at all.
		carried := res.CountMatching(capture.InVXLAN(uint32(vn.VNet.Tag)), capture.IPBetween(f.src.Addr(), f.dst))
		r.Expect(f.name+" probes seen inside VXLAN", carried > 0,
			fmt.Sprintf("probes %s -> %s inside VNI %d on the uplinks", a.Name, b.Name, vn.VNet.Tag), fmt.Sprintf("%d frames", carried),
			"the probes did not cross the underlay in the VNet's VNI (or the uplink capture missed them): the fragment check proves nothing")
		r.ExpectAbsent(f.name+" no fragmented VXLAN packets", res.NoOuterFragments(), "no outer IP fragments",
			fmt.Sprintf("the VXLAN device sends outer packets bigger than the underlay (%d) and they are fragmented: raise the underlay MTU to %d", under, need))
	}

	// 4. to the external host, per family, from a guest whose traffic
	// leaves the zone (the probing guest when it can): report the MTU; a
	// failure must be signalled (ICMP frag needed / ICMPv6 packet too big),
	// never a black hole.
	if ext, ok := v.External(); ok {
		for _, f := range ipFams {
			dst, ok := f.HostAddr(ext)
			if !ok {
				continue
			}
			src, ok := v.egressGuest(a, f)
			if !ok {
				r.Text(f.Name()+" external", fmt.Sprintf("no guest with an %s address and gateway in a zone that leads out (exit nodes): path MTU to %s not probed", f.Name(), dst))
				continue
			}
			srcMTU, err := probe.LinkMTU(src.NS, src.Iface)
			if err != nil {
				return r.Errorf("%v", err)
			}
			// A path MTU the guest learned earlier (an exception in its
			// route cache) would answer for the path: forget it, so what
			// the path says now is what counts.
			if out, err := env.Lab.Exec(ctx, src.NS, "ip", fmt.Sprintf("-%d", f.Num()), "route", "flush", "cache"); err != nil {
				return r.Errorf("%s: flush the route cache: %v: %s", src.Name, err, out)
			}
			eff, atHi, err := pathMTU(ctx, src.NS, dst, srcMTU)
			if err != nil {
				return r.Errorf("%s probe %s -> external %s: %v", f.Name(), src.Name, dst, err)
			}
			name := fmt.Sprintf("%s path MTU %s -> external is full or signalled", f.Name(), src.Name)
			want := fmt.Sprintf("%d-byte DF packets pass, or an ICMP \"too big\" error tells a smaller MTU", srcMTU)
			if eff == 0 {
				// Not even the smallest packets came back from a host the
				// guest's zone leads to: nothing was measured, so nothing
				// may pass.
				r.Text(f.Name()+" external", fmt.Sprintf("no reply from %s to %s at all: %s", src.Name, dst, atHi.String()))
				r.Unproven(name, want, fmt.Sprintf("no reply from %s to %s at all, even at the minimum MTU (%s)", dst, src.Name, atHi.String()))
				continue
			}
			r.Figure(f.Name()+" external MTU", float64(eff), "")
			// Only the error that means "too big" (ICMP fragmentation
			// needed, ICMPv6 packet too big), telling an MTU below what
			// was sent, lets the sender adapt; any other error (an
			// unreachable, a prohibited) leaves it as stuck as silence.
			// The told MTU must also hold: a "too big" naming an MTU that
			// still does not pass leaves the sender stuck at that size.
			signalled := eff >= srcMTU || (atHi.TooBig > 0 && atHi.TooBig < srcMTU && atHi.TooBig <= eff)
			told := "not told"
			if atHi.TooBig > 0 {
				told = fmt.Sprintf("told mtu %d", atHi.TooBig)
				r.Figure(f.Name()+" external told MTU", float64(atHi.TooBig), "")
			}
			cause := "packets above the path MTU vanish without an ICMP error: a PMTU black hole (guest MTU above the VNet MTU, or ICMP filtered)"
			if atHi.TooBig > eff {
				cause = fmt.Sprintf("the path tells MTU %d (\"too big\"), yet only %d-byte packets pass: between them another error or silence, so a sender that trusts the told MTU stays stuck (an MTU-limiting filter below a link MTU, or a smaller link behind the one that answers)", atHi.TooBig, eff)
			} else if len(atHi.Errors) > 0 && atHi.TooBig == 0 {
				cause = fmt.Sprintf("packets above the path MTU get an error that is not \"too big\" (%s): the sender cannot learn the path MTU from it", atHi.Errors[0])
			}
			r.Expect(name, signalled, want,
				fmt.Sprintf("largest passing %d; at %d: %s (%s)", eff, srcMTU, atHi.String(), told), cause)
		}
	}
	return r.Finish()
}

// egressGuest is a guest with an address and gateway of family f whose
// zone leads out of the cluster: prefer itself, else the first such guest
// by name. An EVPN zone leads out through its exit nodes; other zones
// route on their node.
func (v labView) egressGuest(prefer Guest, f ipFam) (Guest, bool) {
	leads := func(g Guest) bool {
		if !f.Routed(g) {
			return false
		}
		z, _, err := v.zoneOf(g)
		if err != nil {
			return false
		}
		if z.Type != "evpn" {
			return true
		}
		ex, _, err := v.exitNodes(g.Zone)
		return err == nil && len(ex) > 0
	}
	if leads(prefer) {
		return prefer, true
	}
	gs := v.Guests()
	slices.SortFunc(gs, func(x, y Guest) int { return strings.Compare(x.Name, y.Name) })
	for _, g := range gs {
		if leads(g) {
			return g, true
		}
	}
	return Guest{}, false
}
