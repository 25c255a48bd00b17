package scenarios

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// crossRackMigration is vm-live-migration across an L3 boundary: the guest
// moves to a node in another underlay segment (another rack, behind a
// router with strict uRPF) and keeps its IP and gateway; the VNet is
// stretched over VXLAN between VTEPs of different subnets.
type crossRackMigration struct{}

func newCrossRackMigration() Scenario { return crossRackMigration{} }

func (crossRackMigration) Name() string { return "cross-rack-migration" }
func (crossRackMigration) Description() string {
	return "vm-live-migration across an L3 boundary (strict uRPF on the rack router); the guest keeps IP and gateway"
}
func (crossRackMigration) Params() []Param {
	return []Param{
		{Name: "guest", Default: "", Kind: KindGuest, Help: "the guest to move (default: a VM guest if the lab has one, else the first guest with a peer in another rack)"},
		{Name: "pause", Default: "50ms", Kind: KindDuration, Help: "migration pause (a VM guest: QEMU's own)"},
		{Name: "max-gap", Default: "", Kind: KindDuration, Help: "longest acceptable probe gap (default: pause + " + convergenceBudget.String() + ")"},
	}
}

func (s crossRackMigration) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	g, peer, err := v.pairAcrossSegments(env.Params["guest"])
	if err != nil && env.Params["guest"] != "" {
		return r.Errorf("%v", err)
	}
	if err != nil {
		return r.Skipf("%v (needs a lab with nodes in several racks, like examples/evpn-racks)", err)
	}
	home := g.Node
	// The target: a node of the VNet in another segment than the guest's.
	vnets, err := v.overlayVNets()
	if err != nil {
		return r.Errorf("%v", err)
	}
	hn, err := v.node(home)
	if err != nil {
		return r.Errorf("%v", err)
	}
	target := ""
	for _, n := range vnets[g.VNet].Nodes {
		if n.Segment != hn.Segment {
			target = n.Name
			if n.Name != peer.Node {
				break
			}
		}
	}
	if target == "" {
		return r.Skipf("VNet %s exists on no node outside segment %s", g.VNet, hn.Segment)
	}
	tn, _ := v.node(target)
	var routers []Host
	var rp []string
	for _, h := range v.Routers() {
		if !h.Upstream {
			routers = append(routers, h)
			rp = append(rp, h.Name+": "+effectiveRP(h.NS, h.Ifaces)+"; IPv6: "+rpf6State(h.NS))
		}
	}
	r.Text("rack routers' rp_filter", orNone(rp))
	// "Strict uRPF passed" is only a finding if the routers' rack-facing
	// interfaces really run strict rp_filter (the kernel uses max(all,
	// iface): 1 strict, 2 loose, 0 off).
	notStrict, racks := rackRPFilter(routers, v.Nodes())
	strictName := "rack routers run strict uRPF on every rack interface"
	strictWant := fmt.Sprintf("strict uRPF (rp_filter 1 for IPv4 VTEPs, the fib reverse path check for IPv6 ones) on the %d interface families facing a rack", racks)
	switch {
	case racks == 0:
		r.Unproven(strictName, strictWant, "no rack router has an interface on a segment with nodes")
	case len(notStrict) > 0:
		r.Unproven(strictName, strictWant, "not strict: "+strings.Join(notStrict, ", ")+": the migration was not tested against strict uRPF")
	default:
		r.Expect(strictName, true, strictWant, fmt.Sprintf("%d interfaces strict", racks), "")
	}
	// The gateway the guest keeps must be the same IP and MAC in both racks.
	if bad := gatewayMACCheck(r, v, g, home, target, "gateway MAC identical in both racks",
		fmt.Sprintf("zone %s sets no anycast MAC (zone option mac): the moved guest's cached gateway MAC does not exist in the other rack", vnets[g.VNet].Zone.ID)); bad != nil {
		return bad
	}
	r.Text("move", fmt.Sprintf("%s: %s (%s, segment %s) -> %s (%s, segment %s)", g.Name, home, hn.VTEP, hn.Segment, target, tn.VTEP, tn.Segment))
	before, err := rpDrops(routers)
	if err != nil {
		return r.Errorf("%v", err)
	}

	pcaps := env.PcapDir
	if pcaps != "" {
		pcaps = filepath.Join(pcaps, s.Name()) // the sub-run's captures go below ours
	}
	// vm-live-migration's own defaults, then what this move needs.
	params := map[string]string{}
	for _, p := range (vmLiveMigration{}).Params() {
		params[p.Name] = p.Default
	}
	for k, val := range map[string]string{
		"guest": g.Name, "to": target, "pause": env.Params["pause"], "interval": "1ms",
		"max-gap": env.Params["max-gap"], "converge-timeout": "3s", "return": "false", "check-gateway-mac": "false",
	} {
		params[k] = val
	}
	sub := vmLiveMigration{}.Run(ctx, &Env{Lab: env.Lab, PcapDir: pcaps, Progress: env.Progress, Params: params})
	r.Checks = append(r.Checks, sub.Checks...)
	r.Figures = append(r.Figures, sub.Figures...)
	r.Evidence = append(r.Evidence, sub.Evidence...)
	r.Timelines = append(r.Timelines, sub.Timelines...)
	if sub.Verdict == reports.Error || sub.Verdict == reports.Skip {
		return r.Errorf("migration: %s", sub.Reason)
	}
	defer func() {
		if _, err := env.Lab.Migrate(context.WithoutCancel(ctx), g.Name, home, 50*time.Millisecond); err != nil {
			r.Text("move back", err.Error())
		}
	}()

	// Same IP and gateway in the other rack, in each family the guest has.
	for _, f := range ipFams {
		ga, pa := f.Guest(g), f.Guest(peer)
		if !ga.IsValid() {
			continue
		}
		if pa.IsValid() {
			pr, err := v.guestPing(ctx, peer, ga.Addr(), probe.PingOpts{Count: 3, Interval: 50 * time.Millisecond, Timeout: time.Second})
			if err != nil {
				return r.Errorf("%v", err)
			}
			r.Expect(fmt.Sprintf("%s: %s keeps %s in %s", f.Tag(), g.Name, ga.Addr(), tn.Segment), pr.OK(), "replies from "+peer.Name, pr.String(),
				"the VNet is not stretched to the other rack: VXLAN between VTEPs in different subnets needs routes between the racks")
		}
		if gw := f.GW(g); gw.IsValid() {
			gp, err := v.guestPing(ctx, g, gw, probe.PingOpts{Count: 3, Interval: 50 * time.Millisecond, Timeout: time.Second})
			if err != nil {
				return r.Errorf("%v", err)
			}
			r.Expect(fmt.Sprintf("%s: %s keeps its gateway %s on %s", f.Tag(), g.Name, gw, target), gp.OK(), "replies", gp.String(),
				"the subnet's gateway is not configured on "+target)
		}
	}
	after, err := rpDrops(routers)
	if err != nil {
		return r.Errorf("%v", err)
	}
	drops := dropsText(before, after)
	cause := "a rack router's uRPF dropped VXLAN: a VTEP address is not routed back through the interface its packets arrive on"
	if len(routers) == 0 {
		// No counter read at all: "nothing dropped" would be vacuous.
		drops, cause = "no rack router found", "the racks are joined by no (non-upstream) router whose uRPF could be observed"
	}
	r.Figure("rack router uRPF drops v4", float64(familyDrops(before, after, false)), "")
	r.Figure("rack router uRPF drops v6", float64(familyDrops(before, after, true)), "")
	r.Expect("rack routers dropped nothing by uRPF", len(routers) > 0 && drops == "none",
		fmt.Sprintf("no rp_filter (IPv4) or fib reverse path (IPv6) drops on %d rack routers", len(routers)), drops, cause)
	return r.Finish()
}

// rackRPFilter reads the effective uRPF of every router interface that
// faces a segment with nodes, in the family of the VTEPs there (VXLAN's
// outer packets): rp_filter for IPv4, the fib reverse path check
// (nsutil.SetRPF6) for IPv6. It returns those not strict and how many it
// read.
func rackRPFilter(routers []Host, nodes []Node) (notStrict []string, n int) {
	for _, h := range routers {
		all, _ := nsutil.ReadSysctl(h.NS, "net/ipv4/conf/all/rp_filter")
		strict6, _, _, err6 := nsutil.RPF6(h.NS)
		for _, ifc := range h.Ifaces {
			v4, v6 := false, false
			for _, p := range h.Nets[ifc] {
				for _, nd := range nodes {
					if p.Masked().Contains(nd.VTEP) {
						v4 = v4 || nd.VTEP.Is4()
						v6 = v6 || nd.VTEP.Is6()
					}
				}
			}
			if v4 {
				n++
				v, err := nsutil.ReadSysctl(h.NS, "net/ipv4/conf/"+ifc+"/rp_filter")
				if err != nil {
					notStrict = append(notStrict, fmt.Sprintf("%s %s unreadable (%v)", h.Name, ifc, err))
				} else if eff := max(v, all); eff != "1" {
					notStrict = append(notStrict, fmt.Sprintf("%s %s rp_filter=%s", h.Name, ifc, eff))
				}
			}
			if v6 {
				n++
				switch {
				case err6 != nil:
					notStrict = append(notStrict, fmt.Sprintf("%s %s IPv6 reverse path check unreadable (%v)", h.Name, ifc, err6))
				case !slices.Contains(strict6, ifc):
					notStrict = append(notStrict, fmt.Sprintf("%s %s has no IPv6 reverse path check", h.Name, ifc))
				}
			}
		}
	}
	return notStrict, n
}

// gatewayMACCheck checks that a guest's gateway has the same MAC on two
// nodes: the MAC a migrated guest keeps in its ARP cache must exist on the
// new node. It returns a non-nil result when the lab cannot be read.
func gatewayMACCheck(r *Result, v labView, g Guest, home, target, name, cause string) *Result {
	if !g.GW4.IsValid() && !g.GW6.IsValid() {
		return nil
	}
	_, vn, err := v.zoneOf(g)
	if err != nil {
		return r.Errorf("%v", err)
	}
	var macs []string
	for _, n := range []string{home, target} {
		ns, err := v.VNetNS(n, g.VNet)
		if err != nil {
			return r.Errorf("%v", err)
		}
		mac, err := probe.LinkMAC(ns, vn.Bridge)
		if err != nil {
			return r.Errorf("%v", err)
		}
		macs = append(macs, mac.String())
	}
	r.Expect(name, macs[0] == macs[1], "one gateway MAC on "+home+" and "+target,
		fmt.Sprintf("%s on %s, %s on %s", macs[0], home, macs[1], target), cause)
	return nil
}
