package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// snat: traffic from a subnet with snat reaches the external host with the
// exit node's address as source, and the replies come back.
type snat struct{}

func newSNAT() Scenario { return snat{} }

func (snat) Name() string { return "snat" }
func (snat) Description() string {
	return "traffic from a snat subnet reaches the external host from the exit node's address"
}
func (snat) Params() []Param {
	return []Param{{Name: "guest", Default: "", Kind: KindGuest, Help: "the guest (default: first guest in a snat subnet)"}}
}

func (s snat) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	ext, ok := v.External()
	if !ok {
		return r.Skipf("the lab has no external host")
	}
	// Proxmox writes a subnet's SNAT per family (iptables for an IPv4
	// subnet, ip6tables for an IPv6 one, towards the node's route to the
	// Internet of that family): each family with a snat subnet is checked
	// on its own.
	ran := 0
	var notes []string
	for _, f := range ipFams {
		g, subnet, found := v.snatGuest(env.Params["guest"], f)
		if !found {
			continue
		}
		extAddr, ok := f.HostAddr(ext)
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: subnet %s has snat but the external host has no %s address", f.Tag(), subnet, f.Name()))
			continue
		}
		ran++
		if err := s.run(ctx, env, r, v, ext, extAddr, g, subnet, f); err != nil {
			return r.Errorf("%v", err)
		}
	}
	for _, n := range notes {
		r.Text("not tested", n)
	}
	if ran == 0 {
		if len(notes) > 0 {
			return r.Skipf("%s", notes[0])
		}
		return r.Skipf("no guest in a subnet with snat")
	}
	return r.Finish()
}

// snatGuest is the first guest (or the named one) whose address of family
// f lies in a subnet with snat.
func (v labView) snatGuest(name string, f ipFam) (Guest, netip.Prefix, bool) {
	for _, c := range v.Guests() {
		if name != "" && c.Name != name {
			continue
		}
		if pf, ok := v.snatSubnetOf(c, f); ok {
			return c, pf, true
		}
	}
	return Guest{}, netip.Prefix{}, false
}

// run checks one family: the guest pings the external host, which must see
// the translating node's address of the family as the source.
func (s snat) run(ctx context.Context, env *Env, r *Result, v labView, ext Host, extAddr netip.Addr, g Guest, subnet netip.Prefix, f ipFam) error {
	exits, _, err := v.exitNodes(g.Zone)
	if err != nil {
		return err
	}
	zone, _, err := v.zoneOf(g)
	if err != nil {
		return err
	}
	evpn := zone.Type == "evpn"
	if !evpn {
		// Other zone types route (and translate) on the guest's own node.
		n, err := v.node(g.Node)
		if err != nil {
			return err
		}
		exits = []Node{n}
	}
	var exitAddrs []netip.Addr
	var exitNames []string
	for _, n := range exits {
		exitAddrs = append(exitAddrs, f.NodeAddrs(n)...)
		exitNames = append(exitNames, n.Name)
	}
	env.progress("%s: %s (%s, snat subnet %s) -> external %s; exit nodes %v", f.Tag(), g.Name, f.Guest(g).Addr(), subnet, extAddr, exitNames)
	var pts []capture.Point
	for _, ifc := range ext.Ifaces {
		pts = append(pts, capture.Point{Netns: ext.NS, Ifname: ifc, Label: ext.Name + "_" + ifc})
	}
	var pr probe.PingResult
	res, err := captureDuring(ctx, env, r, "snat-"+f.Tag(), pts, func() error {
		var err error
		pr, err = probe.Ping(ctx, g.NS, extAddr, probe.PingOpts{Count: 3, Interval: 100 * time.Millisecond, Timeout: time.Second})
		return err
	})
	if err != nil {
		return err
	}
	noExit := ""
	if evpn && len(exits) == 0 {
		noExit = fmt.Sprintf("zone %s has no exit nodes (exitnodes): SNAT is configured on exit nodes only, so nothing translates the guest's address; ", g.Zone)
	}
	noAddr := ""
	if len(exits) > 0 && len(exitAddrs) == 0 {
		noAddr = fmt.Sprintf("the exit nodes %v have no %s underlay address: Proxmox takes the SNAT source from the node's %s route to the Internet, and there is none; ", exitNames, f.Name(), f.Name())
	}
	r.Expect(fmt.Sprintf("%s: %s reaches external %s", f.Tag(), g.Name, extAddr), pr.OK(), "replies", pr.String(),
		noExit+noAddr+"the external host cannot answer an untranslated private source, or the zone has no route to the outside")
	reqs := res.Frames(capture.Outer(), capture.Incoming(), func(p *capture.Packet) bool {
		return p.ICMP != nil && strings.Contains(p.ICMP.TypeName, "echo request") && p.DstIP == extAddr
	})
	var srcs []netip.Addr
	for _, p := range reqs {
		if !slices.Contains(srcs, p.SrcIP) {
			srcs = append(srcs, p.SrcIP)
		}
	}
	translated := len(srcs) > 0
	for _, a := range srcs {
		translated = translated && slices.Contains(exitAddrs, a)
	}
	r.Figure("requests at external "+f.Tag(), float64(len(reqs)), "")
	r.Expect(f.Tag()+": source address seen by the external host is the translating node's", translated,
		fmt.Sprintf("source in {%s} (%v)", addrsString(exitAddrs), exitNames),
		fmt.Sprintf("%d requests from %s", len(reqs), addrsString(srcs)),
		noExit+noAddr+fmt.Sprintf("subnet %s is not translated on the way out (snat missing on the subnet or on the exit node)", subnet))
	return nil
}
