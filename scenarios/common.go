package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// nonce makes each probe's marker unique, so a capture never confuses two runs.
func nonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uplinkPoints are capture points on every node's underlay interfaces,
// labelled "<node>/<iface>".
func uplinkPoints(nodes []Node) []capture.Point {
	return nodePoints(nodes, Node.vxlanIfaces)
}

// lanPoints are the nodes' uplinks alone: where a WireGuard fabric's
// traffic is encrypted.
func lanPoints(nodes []Node) []capture.Point {
	return nodePoints(nodes, func(n Node) []string { return n.Uplinks })
}

func nodePoints(nodes []Node, ifaces func(Node) []string) []capture.Point {
	var pts []capture.Point
	for _, n := range nodes {
		for _, u := range ifaces(n) {
			pts = append(pts, capture.Point{Netns: n.NS, Ifname: u, Label: n.Name + "_" + u})
		}
	}
	return pts
}

func uplinkLabels(n Node) []string {
	var out []string
	for _, p := range uplinkPoints([]Node{n}) {
		out = append(out, p.Label)
	}
	return out
}

// vxlanIfaces are where a node's VXLAN packets can be seen: its uplinks,
// and its WireGuard interfaces when a WireGuard fabric carries them.
func (n Node) vxlanIfaces() []string {
	return append(slices.Clone(n.Uplinks), n.Tunnels...)
}

func guestPoint(g Guest) capture.Point {
	return capture.Point{Netns: g.NS, Ifname: g.Iface, Label: g.Name + "_" + g.Iface}
}

// captureDuring captures on points while fn runs; files go to
// PcapDir/<scenario>/<tag> and are attached to r as evidence.
func captureDuring(ctx context.Context, env *Env, r *Result, tag string, points []capture.Point, fn func() error) (*capture.Result, error) {
	opts := capture.Options{}
	if env.PcapDir != "" {
		opts.Dir = filepath.Join(env.PcapDir, r.Scenario, tag)
	}
	sess, err := capture.Start(ctx, points, opts)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	ferr := fn()
	res, err := sess.Stop()
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if res.Merged != "" {
		r.Pcap(tag, res.Merged)
	}
	return res, ferr
}

// overlayVNet is a VNet of a vxlan or evpn zone with where it exists.
type overlayVNet struct {
	Zone  plan.ZonePlan // as seen on the first node having it
	VNet  plan.VNetPlan
	Nodes []Node // nodes having the VNet
}

// overlayVNets lists the VXLAN VNets of the lab by VNet id.
func (v labView) overlayVNets() (map[string]*overlayVNet, error) {
	out := map[string]*overlayVNet{}
	for _, n := range v.Nodes() {
		p, err := v.Plan(n.Name)
		if err != nil {
			return nil, err
		}
		for _, z := range p.Zones {
			if !registry.Traits(z.Type).VXLAN {
				continue
			}
			for _, vn := range z.VNets {
				o := out[vn.ID]
				if o == nil {
					o = &overlayVNet{Zone: z, VNet: vn}
					out[vn.ID] = o
				}
				o.Nodes = append(o.Nodes, n)
			}
		}
	}
	return out, nil
}

// overlayGuests returns the namespace guests in VXLAN VNets, grouped by
// VNet.
func (v labView) overlayGuests() (map[string][]Guest, map[string]*overlayVNet, error) {
	return v.overlayGuestsOf(v.Guests())
}

// overlayGuestsAll is overlayGuests with the VM guests too, for the
// scenarios that probe them (guest.go).
func (v labView) overlayGuestsAll() (map[string][]Guest, map[string]*overlayVNet, error) {
	return v.overlayGuestsOf(v.allGuests())
}

func (v labView) overlayGuestsOf(guests []Guest) (map[string][]Guest, map[string]*overlayVNet, error) {
	vnets, err := v.overlayVNets()
	if err != nil {
		return nil, nil, err
	}
	byVNet := map[string][]Guest{}
	for _, g := range guests {
		if vnets[g.VNet] != nil {
			byVNet[g.VNet] = append(byVNet[g.VNet], g)
		}
	}
	return byVNet, vnets, nil
}

// pairOnTwoNodes picks two namespace guests of one overlay VNet on
// different nodes, preferring the named first guest when given.
func (v labView) pairOnTwoNodes(prefer string) (Guest, Guest, *overlayVNet, error) {
	byVNet, vnets, err := v.overlayGuests()
	if err != nil {
		return Guest{}, Guest{}, nil, err
	}
	names := make([]string, 0, len(byVNet))
	for k := range byVNet {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, vn := range names {
		gs := byVNet[vn]
		for _, a := range gs {
			if prefer != "" && a.Name != prefer {
				continue
			}
			for _, b := range gs {
				if b.Node != a.Node {
					return a, b, vnets[vn], nil
				}
			}
		}
	}
	if prefer != "" {
		return Guest{}, Guest{}, nil, fmt.Errorf("no guest on another node shares an overlay VNet with %s", prefer)
	}
	return Guest{}, Guest{}, nil, fmt.Errorf("no two guests of one VXLAN/EVPN VNet on different nodes")
}

// pairToMove picks the guest a migration moves and its peer on another
// node of its overlay VNet, where the probes run: the named guest when
// given, else a VM guest if the lab has one (movedFirst), else two
// namespace guests.
func (v labView) pairToMove(name string) (Guest, Guest, *overlayVNet, error) {
	if g, err := v.guest(name); err == nil && g.VM {
		return v.vmPair(g)
	}
	if name == "" {
		byVNet, _, err := v.overlayGuestsAll()
		if err != nil {
			return Guest{}, Guest{}, nil, err
		}
		for _, g := range movedFirst(byVNet, "") {
			if !g.VM {
				break
			}
			if a, b, vn, err := v.vmPair(g); err == nil {
				return a, b, vn, nil
			}
		}
	}
	return v.pairOnTwoNodes(name)
}

// vmPair is a VM guest and a namespace guest on another node of its
// overlay VNet (the probes run in the latter).
func (v labView) vmPair(g Guest) (Guest, Guest, *overlayVNet, error) {
	byVNet, vnets, err := v.overlayGuestsAll()
	if err != nil {
		return Guest{}, Guest{}, nil, err
	}
	for _, b := range byVNet[g.VNet] {
		if b.Node != g.Node && !b.VM {
			return g, b, vnets[g.VNet], nil
		}
	}
	return Guest{}, Guest{}, nil, fmt.Errorf("no namespace guest on another node shares an overlay VNet with VM guest %s (the probes run in one)", g.Name)
}

func addrsString(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// exitNodes returns the nodes that are exit nodes of a zone, and the
// primary one when the zone names one.
func (v labView) exitNodes(zone string) (nodes []Node, primary string, err error) {
	for _, n := range v.Nodes() {
		p, err := v.Plan(n.Name)
		if err != nil {
			return nil, "", err
		}
		for _, z := range p.Zones {
			if z.ID != zone {
				continue
			}
			if z.ExitNode {
				nodes = append(nodes, n)
			}
			if z.ExitNodePrimary != "" {
				primary = z.ExitNodePrimary
			}
		}
	}
	return nodes, primary, nil
}

// snatSubnet tells whether the guest's IPv4 address is in a subnet with snat.
func (v labView) snatSubnet(g Guest) (netip.Prefix, bool) { return v.snatSubnetOf(g, ipFam{}) }

// snatSubnetOf tells whether the guest's address of family f is in a subnet
// with snat.
func (v labView) snatSubnetOf(g Guest, f ipFam) (netip.Prefix, bool) {
	ga := f.Guest(g)
	if !ga.IsValid() {
		return netip.Prefix{}, false
	}
	for _, n := range v.Nodes() {
		p, err := v.Plan(n.Name)
		if err != nil {
			continue
		}
		for _, z := range p.Zones {
			for _, vn := range z.VNets {
				if vn.ID != g.VNet {
					continue
				}
				for _, s := range vn.Subnets {
					if s.SNAT && s.Prefix.Contains(ga.Addr()) {
						return s.Prefix, true
					}
				}
			}
		}
	}
	return netip.Prefix{}, false
}

// pairAcrossSegments picks a guest to move and a namespace guest (the
// probes run there) of one overlay VNet whose nodes sit on different
// underlay segments (their VXLAN crosses a router). The named guest when
// given, else VM guests first (movedFirst).
func (v labView) pairAcrossSegments(prefer string) (Guest, Guest, error) {
	byVNet, _, err := v.overlayGuestsAll()
	if err != nil {
		return Guest{}, Guest{}, err
	}
	seg := map[string]string{}
	for _, n := range v.Nodes() {
		seg[n.Name] = n.Segment
	}
	// A pair sharing both families first (both are then probed), else
	// one sharing either.
	for _, both := range []bool{true, false} {
		for _, a := range movedFirst(byVNet, prefer) {
			for _, b := range byVNet[a.VNet] {
				v4 := a.IPv4.IsValid() && b.IPv4.IsValid()
				v6 := a.IPv6.IsValid() && b.IPv6.IsValid()
				ok := v4 || v6
				if both {
					ok = v4 && v6
				}
				if ok && !b.VM && seg[a.Node] != seg[b.Node] {
					return a, b, nil
				}
			}
		}
	}
	if prefer != "" {
		return Guest{}, Guest{}, fmt.Errorf("no namespace guest of %s's VNet sits on a node in another underlay segment", prefer)
	}
	return Guest{}, Guest{}, fmt.Errorf("no two guests of one VNet on nodes in different underlay segments")
}

// movedFirst orders the candidates for the guest a migration scenario
// moves: only the named one when given; else the VM guests, then the
// namespace guests, each by VNet name and in lab order. A lab declares VM
// guests to see QEMU's own migration, so that is what it gets by default.
func movedFirst(byVNet map[string][]Guest, prefer string) []Guest {
	names := make([]string, 0, len(byVNet))
	for k := range byVNet {
		names = append(names, k)
	}
	slices.Sort(names)
	var vms, others []Guest
	for _, vn := range names {
		for _, g := range byVNet[vn] {
			switch {
			case prefer != "" && g.Name != prefer:
			case g.VM:
				vms = append(vms, g)
			default:
				others = append(others, g)
			}
		}
	}
	return append(vms, others...)
}
