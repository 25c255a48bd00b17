package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
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
	extAddr, ok := ext.Addr4()
	if !ok {
		return r.Skipf("the external host has no IPv4 address")
	}
	var g Guest
	var subnet netip.Prefix
	for _, c := range v.Guests() {
		if env.Params["guest"] != "" && c.Name != env.Params["guest"] {
			continue
		}
		if pf, ok := v.snatSubnet(c); ok {
			g, subnet = c, pf
			break
		}
	}
	if g.Name == "" {
		return r.Skipf("no guest in a subnet with snat")
	}
	exits, _, err := v.exitNodes(g.Zone)
	if err != nil {
		return r.Errorf("%v", err)
	}
	zone, _, err := v.zoneOf(g)
	if err != nil {
		return r.Errorf("%v", err)
	}
	evpn := zone.Type == "evpn"
	if !evpn {
		// Other zone types route (and translate) on the guest's own node.
		n, err := v.node(g.Node)
		if err != nil {
			return r.Errorf("%v", err)
		}
		exits = []Node{n}
	}
	var exitAddrs []netip.Addr
	var exitNames []string
	for _, n := range exits {
		exitAddrs = append(exitAddrs, n.Addrs...)
		exitNames = append(exitNames, n.Name)
	}
	env.progress("%s (%s, snat subnet %s) -> external %s; exit nodes %v", g.Name, g.IPv4.Addr(), subnet, extAddr, exitNames)
	var pts []capture.Point
	for _, ifc := range ext.Ifaces {
		pts = append(pts, capture.Point{Netns: ext.NS, Ifname: ifc, Label: ext.Name + "_" + ifc})
	}
	var pr probe.PingResult
	res, err := captureDuring(ctx, env, r, "snat", pts, func() error {
		var err error
		pr, err = probe.Ping(ctx, g.NS, extAddr, probe.PingOpts{Count: 3, Interval: 100 * time.Millisecond, Timeout: time.Second})
		return err
	})
	if err != nil {
		return r.Errorf("%v", err)
	}
	noExit := ""
	if evpn && len(exits) == 0 {
		noExit = fmt.Sprintf("zone %s has no exit nodes (exitnodes): SNAT is configured on exit nodes only, so nothing translates the guest's address; ", g.Zone)
	}
	r.Expect(fmt.Sprintf("%s reaches external %s", g.Name, extAddr), pr.OK(), "replies", pr.String(),
		noExit+"the external host cannot answer an untranslated private source, or the zone has no route to the outside")
	reqs := res.Frames(capture.Outer(), capture.Incoming(), func(p *capture.Packet) bool {
		return p.ICMP != nil && p.ICMP.TypeName == "echo request" && p.DstIP == extAddr
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
	r.Figure("requests at external", float64(len(reqs)), "")
	r.Expect("source address seen by the external host is the translating node's", translated,
		fmt.Sprintf("source in {%s} (%v)", addrsString(exitAddrs), exitNames),
		fmt.Sprintf("%d requests from %s", len(reqs), addrsString(srcs)),
		noExit+fmt.Sprintf("subnet %s is not translated on the way out (snat missing on the subnet or on the exit node)", subnet))
	return r.Finish()
}
