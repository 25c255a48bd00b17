package scenarios

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// exitNodeFailover fails the exit node that carries a guest's traffic to
// and from the external host, and measures in each direction what the
// flows through it lost and when they recovered, what detected the failure
// and when the dead node's default route was gone from every node. It
// leaves the node dead: run it last.
type exitNodeFailover struct{}

func newExitNodeFailover() Scenario { return exitNodeFailover{} }

func (exitNodeFailover) Name() string { return "exit-node-failover" }
func (exitNodeFailover) Description() string {
	return "fail the exit node carrying a guest's flows (crash or kill); per direction loss and recovery, detection, default route withdrawn everywhere"
}
func (exitNodeFailover) Params() []Param {
	return []Param{
		{Name: "node", Default: "", Kind: KindNode, Help: "the exit node to fail (default: one carrying flows in both directions)"},
		{Name: "mode", Default: KillCrash, Choices: []string{KillCrash, KillAgent}, Help: "crash: links drop traffic, then the agent dies (power loss); kill: the agent dies, its sockets close"},
		{Name: "flows", Default: "8", Kind: KindInt, Help: "UDP flows per direction (more are added until the failing node carries some)"},
		{Name: "interval", Default: "2ms", Kind: KindDuration, Help: "probe interval of each flow"},
		{Name: "timeout", Default: "15s", Kind: KindDuration, Help: "how long recovery may take (BGP hold time when nothing else detects the failure)"},
	}
}

// Ports of the failover flows: outbound (guest -> external) from 41100,
// inbound (external -> guest) from 41300; IPv6 flows 400 higher.
const (
	foOutPort = 41100
	foInPort  = 41300
	foFamStep = 400
	foMaxAdd  = 4 // batches of flows at most
)

// foFlow is one probe flow of the failover.
type foFlow struct {
	name    string
	fam     int // index into foSetup.fams
	inbound bool
	port    int
	via     string // exit node seen carrying it before the failure
	recs    []probe.Record
	out     outage
}

// foFam is one family's part of the failover: a guest with an address and
// gateway of the family, the external host's address of it, and whether
// the external host can reach the guest (no SNAT).
type foFam struct {
	f       ipFam
	g       Guest
	extAddr netip.Addr
	subnet  netip.Prefix // the guest's, as routers route it
	inbound bool
	// outbound is false when the guest sits on an exit node itself (a
	// cluster whose nodes are all exit nodes): its traffic leaves through
	// its own node, and only the inbound flows that the upstream hashes to
	// another exit node cross the failure.
	outbound bool
	why      string
}

// dir names a direction of the family in checks and figures.
func (ff foFam) dir(inbound bool) string {
	if inbound {
		return ff.f.Tag() + " external -> guest"
	}
	return ff.f.Tag() + " guest -> external"
}

// foSetup is what the scenario found in the lab: every family with a
// guest in one zone, failed over by one failure.
type foSetup struct {
	fams     []foFam
	zone     string
	ext      Host
	upstream Host
	exits    []Node
}

func (su foSetup) anyInbound() bool {
	return slices.ContainsFunc(su.fams, func(ff foFam) bool { return ff.inbound })
}

func (s exitNodeFailover) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	interval, err1 := env.Duration("interval")
	timeout, err2 := env.Duration("timeout")
	nflows, err3 := env.Int("flows")
	if err := firstErr(err1, err2, err3); err != nil {
		return r.Errorf("%v", err)
	}
	mode := env.Params["mode"]
	su, skip, err := s.setup(ctx, r, v)
	var unreachable guestUnreachable
	if errors.As(err, &unreachable) {
		// Say why when the guest's node black-holes it: a next hop
		// without its router MAC fails the check, not only the probe.
		fo := &foRun{r: r, v: v, su: foSetup{fams: []foFam{{g: unreachable.g, outbound: true}}}}
		if derr := fo.routerMACs(ctx, " before the failover"); derr == nil && len(r.Failed()) > 0 {
			r.Text("not failed over", err.Error())
			return r.Finish()
		}
	}
	if err != nil {
		return r.Errorf("%v", err)
	}
	if skip != "" {
		return r.Skipf("%s", skip)
	}
	st := NewSteps(env, r)
	defer st.Close()
	fo := &foRun{r: r, st: st, v: v, su: su}
	fo.describe(env, mode)

	// Flows are spread by port: hash on L4 where the ECMP choices are made
	// (the guests' nodes, the routers), restored afterwards.
	restore, err := fo.hashOnPorts()
	defer restore()
	if err != nil {
		return r.Errorf("%v", err)
	}
	if fo.flows, fo.victim, err = s.placeFlows(ctx, st, v, su, nflows, interval, env.Params["node"]); err != nil {
		return r.Errorf("%v", err)
	}
	if err := fo.mustRouteViaVictim(); err != nil {
		return r.Errorf("%v", err)
	}
	if err := fo.routerMACs(ctx, ""); err != nil {
		return r.Errorf("%v", err)
	}
	if err := fo.watch(ctx); err != nil {
		return r.Errorf("%v", err)
	}
	time.Sleep(200 * time.Millisecond) // steady state, and BFD/keepalives on the wire before the failure

	r.Text("failure", fmt.Sprintf("%s %s, the exit node carrying %s", mode, fo.victim.Name, flowsVia(fo.flows, fo.victim.Name)))
	if fo.failedAt, err = st.Kill(ctx, fo.victim.Name, mode); err != nil {
		return r.Errorf("%s %s: %v", mode, fo.victim.Name, err)
	}
	fo.waitSettled(ctx, timeout)
	if err := fo.routerMACs(ctx, " after the failure"); err != nil {
		return r.Errorf("%v", err)
	}
	capRes, err := fo.collect()
	if err != nil {
		return r.Errorf("%v", err)
	}

	fo.reportDetection(capRes, mode)
	var names []string
	for i, ff := range su.fams {
		fo.reportWithdrawal(ff, timeout)
		fo.reportRouters(ff)
		if ff.outbound {
			s.direction(r, st, v.Routers(), fo.flows, i, false, fo.victim, fo.failedAt, su)
		}
		if ff.inbound {
			s.direction(r, st, v.Routers(), fo.flows, i, true, fo.victim, fo.failedAt, su)
		}
		names = append(names, ff.g.Name)
	}
	st.Timeline(fmt.Sprintf("%s %s: %s <-> %s", mode, fo.victim.Name, strings.Join(slices.Compact(names), ", "), su.ext.Name))
	return r.Finish()
}

// guestUnreachable: the guest chosen to measure cannot reach the
// external host before anything failed.
type guestUnreachable struct {
	g   Guest
	msg string
}

func (e guestUnreachable) Error() string { return e.msg }

// foRun is one failover run: what the steps share.
type foRun struct {
	r         *Result
	st        *Steps
	v         labView
	su        foSetup
	flows     []foFlow
	victim    Node
	survivors []Node
	nodeWatch map[string]*probe.RouteWatch // survivors' VNet namespaces, by "node/tag"
	routerW   map[string]*probe.RouteWatch // every router, by "router/tag"
	failedAt  time.Time
}

// vtepHops are the next hops a node's routes through n can carry: its VTEP
// and, for an IPv4 VTEP, the IPv6 stand-in fe80::ffff:a.b.c.d that IPv6
// routes over an IPv4 underlay use (the agent's and zebra's choice, since
// an IPv6 route cannot have an IPv4 gateway in every kernel).
func vtepHops(n Node) []netip.Addr {
	hops := []netip.Addr{n.VTEP}
	if n.VTEP.Is4() {
		b := n.VTEP.As4()
		hops = append(hops, netip.AddrFrom16([16]byte{0xfe, 0x80, 10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}))
	}
	return hops
}

func (fo *foRun) describe(env *Env, mode string) {
	var names []string
	for _, n := range fo.su.exits {
		names = append(names, n.Name)
	}
	fo.r.Text("exit nodes", fmt.Sprintf("zone %s: exit nodes %v", fo.su.zone, names))
	for _, ff := range fo.su.fams {
		if !ff.inbound {
			fo.r.Text("inbound "+ff.f.Tag(), ff.why)
		}
		if !ff.outbound {
			fo.r.Text("outbound "+ff.f.Tag(), ff.why)
		}
		env.progress("%s: %s (on %s) <-> %s through exit nodes %v, mode %s", ff.f.Tag(), ff.g.Name, ff.g.Node, ff.extAddr, names, mode)
	}
}

func (fo *foRun) hashOnPorts() (func(), error) {
	var nss []string
	for _, ff := range fo.su.fams {
		gns, err := fo.v.VNetNS(ff.g.Node, ff.g.VNet)
		if err != nil {
			return func() {}, err
		}
		if !slices.Contains(nss, gns) {
			nss = append(nss, gns)
		}
	}
	for _, h := range fo.v.Routers() {
		nss = append(nss, h.NS)
	}
	return l4Hashing(fo.r, nss...)
}

// mustRouteViaVictim: each guest's node routes out via the node to fail
// (in the family of its flows); otherwise failing it proves nothing.
func (fo *foRun) mustRouteViaVictim() error {
	for _, ff := range fo.su.fams {
		g := ff.g
		if !ff.outbound {
			// Only inbound flows: some router must lead to the guest's
			// subnet through the node to fail.
			if routerVia(fo.v.Routers(), fo.victim, ff.subnet, false) == "" && routerVia(fo.v.Routers(), fo.victim, ff.subnet, true) == "" {
				return fmt.Errorf("no router routes %s via %s: nothing to fail over", ff.subnet, fo.victim.Name)
			}
			continue
		}
		gns, err := fo.v.VNetNS(g.Node, g.VNet)
		if err != nil {
			return err
		}
		defs, err := probe.Routes(gns, ff.f.Num())
		if err != nil {
			return err
		}
		var d []string
		via := false
		for _, hop := range vtepHops(fo.victim) {
			dd, vv := defaultsVia(defs, hop)
			d, via = dd, via || vv
		}
		fo.r.Text(ff.f.Tag()+" default route on "+g.Node+" before", orNone(d))
		if !via {
			return fmt.Errorf("%s's %s default route in zone %s does not lead via %s (%s): %s; nothing to fail over (no type-5 %s route from the exit node?)",
				g.Node, ff.f.Name(), g.Zone, fo.victim.Name, fo.victim.VTEP, orNone(d), ff.f.Default())
		}
	}
	return nil
}

// routerMACs: every next hop of the guest node's default route (one per
// exit node, ECMP) has its router MAC installed, a neighbour entry (next
// hop -> router MAC) and an FDB entry (router MAC -> that VTEP), as RFC
// 9135 asks of symmetric IRB. A next hop without them black-holes the
// flows hashed to it before anything fails.
func (fo *foRun) routerMACs(ctx context.Context, when string) error {
	var g Guest
	for _, ff := range fo.su.fams {
		if ff.outbound && g.Name == "" {
			g = ff.g
		}
	}
	if g.Name == "" {
		return nil // the guests sit on exit nodes: no default route through the others
	}
	gns, err := fo.v.VNetNS(g.Node, g.VNet)
	if err != nil {
		return err
	}
	var hops []netip.Addr
	var missing []string
	for deadline := time.Now().Add(2 * time.Second); ; {
		routes, err := probe.Routes(gns, 4)
		if err != nil {
			return err
		}
		neighs, err := probe.Neigh(gns)
		if err != nil {
			return err
		}
		fdb, err := probe.FDB(gns)
		if err != nil {
			return err
		}
		hops, missing = routerMACsMissing(routes, neighs, fdb, func(rt probe.Route) bool { return rt.Dst.Bits() == 0 })
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cause := "the node installed a type-5 next hop without its router MAC: the flows hashed to it are black-holed"
	if n, err := fo.v.node(g.Node); err == nil {
		cause += frr84RouterMACBug(n)
	}
	fo.r.Expect(g.Node+" has the router MAC of every exit node it routes through"+when, len(missing) == 0,
		fmt.Sprintf("for each next hop of the default route (%s): a neighbour entry with its router MAC and an FDB entry sending that MAC to it", orNone(addrStrings(hops))),
		"missing: "+orNone(missing), cause)
	return nil
}

// routerMACsMissing lists the IPv4 default route's next hops and, for
// each without them, what of its router MAC is missing.
func routerMACsMissing(routes []probe.Route, neighs []probe.NeighEntry, fdb []probe.FDBEntry, which func(probe.Route) bool) (hops []netip.Addr, missing []string) {
	for _, rt := range routes {
		if rt.Dst.Addr().Is4() && which(rt) {
			for _, h := range rt.Via {
				if !slices.Contains(hops, h) {
					hops = append(hops, h)
				}
			}
		}
	}
	for _, h := range hops {
		mac := ""
		for _, n := range neighs {
			if n.IP == h && n.MAC != "" {
				mac = n.MAC
			}
		}
		if mac == "" {
			missing = append(missing, h.String()+": no neighbour entry (router MAC)")
			continue
		}
		found := false
		for _, e := range fdb {
			found = found || (strings.EqualFold(e.MAC, mac) && e.Dst == h)
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%s: router MAC %s has no FDB entry to it", h, mac))
		}
	}
	return hops, missing
}

// frr84RouterMACBug names FRR 8's router MAC bug on an FRR node older
// than 10, for the cause of a missing router MAC; "" elsewhere.
func frr84RouterMACBug(n Node) string {
	if n.Engine != "frr" || !versionLess(n.FRRVersion, "10") {
		return ""
	}
	return fmt.Sprintf("; FRR %s on %s does this at times: zebra drops a router MAC still used by a next hop when the IPv4-mapped IPv6 next hop of the same VTEP goes (fixed upstream in 2025, FRR pull request 18677; see `vtysh -c 'show evpn rmac vni all'` against `show evpn next-hops vni all`)", n.FRRVersion, n.Name)
}

func addrStrings(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// watch starts what observes the failure: the survivors' and the routers'
// routes of each family (kernel notifications) and a capture of the
// survivors' uplinks.
func (fo *foRun) watch(ctx context.Context) error {
	fo.nodeWatch, fo.routerW = map[string]*probe.RouteWatch{}, map[string]*probe.RouteWatch{}
	for _, n := range fo.v.Nodes() {
		if n.Name == fo.victim.Name {
			continue
		}
		fo.survivors = append(fo.survivors, n)
		for _, ff := range fo.su.fams {
			ns, err := fo.v.VNetNS(n.Name, ff.g.VNet)
			if err != nil {
				return err
			}
			if fo.nodeWatch[n.Name+"/"+ff.f.Tag()], err = fo.st.WatchRoutes(ns, ff.f.Num()); err != nil {
				return err
			}
		}
	}
	for _, h := range fo.v.Routers() {
		for _, ff := range fo.su.fams {
			var err error
			if fo.routerW[h.Name+"/"+ff.f.Tag()], err = fo.st.WatchRoutes(h.NS, ff.f.Num()); err != nil {
				return err
			}
		}
	}
	// Detection needs BGP and BFD only; the probes' bulk would fill the
	// capture long before a hold timer expires.
	return fo.st.StartCaptureOpts(ctx, "failover", uplinkPoints(fo.survivors), capture.Options{Select: capture.ControlPlane})
}

// withdrawn says when each survivor's default route of the family via the
// failed node went, and which still have one.
func (fo *foRun) withdrawn(ff foFam) (map[string]time.Time, []string) {
	at, stale, _ := fo.withdrawnHad(ff)
	return at, stale
}

// withdrawnHad is withdrawn, and how many survivors had such a route.
func (fo *foRun) withdrawnHad(ff foFam) (map[string]time.Time, []string, int) {
	had := 0
	at := map[string]time.Time{}
	var stale []string
	for _, n := range fo.survivors {
		w := fo.nodeWatch[n.Name+"/"+ff.f.Tag()]
		// A node that had no such route when the watch began (an exit
		// node leads out itself) has nothing to withdraw.
		if states, err := w.States(); err == nil && len(states) > 0 && !slices.ContainsFunc(states[0].Routes, func(rt probe.Route) bool {
			return rt.Dst == ff.f.Default() && slices.ContainsFunc(vtepHops(fo.victim), func(h netip.Addr) bool { return slices.Contains(rt.Via, h) })
		}) {
			continue
		}
		had++
		var t time.Time
		var final []probe.Route
		var err error
		ok := true
		for _, hop := range vtepHops(fo.victim) {
			th, okh, fh, errh := w.GoneAt(ff.f.Default(), hop, fo.failedAt)
			ok, final, err = ok && okh, fh, cmp.Or(err, errh)
			if th.After(t) {
				t = th
			}
		}
		switch {
		case err != nil:
			stale = append(stale, n.Name+": route notifications lost: "+err.Error())
		case ok:
			at[n.Name] = t
		default:
			stale = append(stale, fmt.Sprintf("%s: %s", n.Name, routesString(final)))
		}
	}
	return at, stale, had
}

// learnedVia names a router that still holds a BGP route to the family's
// guest subnet through the failed node (its hold timer is running).
func (fo *foRun) learnedVia(ff foFam) string {
	for _, h := range fo.v.Routers() {
		states, _ := fo.routerW[h.Name+"/"+ff.f.Tag()].States()
		if len(states) == 0 {
			continue
		}
		for _, rt := range states[len(states)-1].Routes {
			if rt.Dst == ff.subnet && rt.Learned() && slices.ContainsFunc(rt.Via, func(a netip.Addr) bool { return slices.Contains(fo.victim.Addrs, a) }) {
				return h.Name
			}
		}
	}
	return ""
}

// waitSettled waits until the routes are gone and the flows recovered (or
// cannot): the figures come from the notifications and the probes'
// records, the loop only decides when to stop looking.
func (fo *foRun) waitSettled(ctx context.Context, timeout time.Duration) {
	var goneAll time.Time
	tracked := false
	for _, ff := range fo.su.fams {
		_, _, had := fo.withdrawnHad(ff)
		tracked = tracked || had > 0
	}
	_, _, _ = fo.st.WaitFor(ctx, timeout, 50*time.Millisecond, func() (bool, error) {
		for _, ff := range fo.su.fams {
			if _, stale := fo.withdrawn(ff); len(stale) > 0 {
				return false, nil
			}
		}
		// No survivor routes out through the failed node (all are exit
		// nodes): the failure is noticed when their sessions to it end.
		if !tracked && goneAll.IsZero() && fo.sessionsUp(ctx) {
			return false, nil
		}
		if goneAll.IsZero() {
			goneAll = time.Now()
		}
		for _, f := range fo.flows {
			ss, ok := fo.st.Stream(f.name)
			if !ok || f.via != fo.victim.Name {
				continue
			}
			// A flow that has not recovered gets a second after the
			// routes went, or as long as a router still holds a BGP route
			// through the dead node.
			if o := outageAt(ss.Records(), fo.failedAt, 25); o.Recovered.IsZero() && (time.Since(goneAll) < time.Second || f.inbound && fo.learnedVia(fo.su.fams[f.fam]) != "") {
				return false, nil
			}
		}
		return true, nil
	})
	time.Sleep(300 * time.Millisecond) // the probes show the state after recovery
}

// sessionsUp tells whether a survivor's engine still has an established
// session with the failed node.
func (fo *foRun) sessionsUp(ctx context.Context) bool {
	for _, n := range fo.survivors {
		if !n.Agent {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		sn, err := fo.v.Show(sctx, n.Name)
		cancel()
		if err != nil {
			continue
		}
		for _, p := range sn.Peers {
			if a, err := netip.ParseAddr(p.Addr); err == nil && slices.Contains(fo.victim.Addrs, a) && p.State == "Established" {
				return true
			}
		}
	}
	return false
}

// collect stops the flows (reading each one's outage) and the capture.
func (fo *foRun) collect() (*capture.Result, error) {
	var names []string
	for _, f := range fo.flows {
		names = append(names, f.name)
	}
	_, recs, err := fo.st.StopStreams(names, 200*time.Millisecond)
	if err != nil {
		return nil, err
	}
	for i := range fo.flows {
		f := &fo.flows[i]
		f.recs = recs[f.name]
		f.out = outageAt(f.recs, fo.failedAt, 25)
	}
	return fo.st.StopCapture("failover")
}

// reportDetection: what the survivors saw first, and when.
func (fo *foRun) reportDetection(capRes *capture.Result, mode string) {
	r, st := fo.r, fo.st
	det := detection(capRes, fo.victim, fo.failedAt)
	if det.by == "" && capRes.Lost() == "" {
		fo.holdTimer(&det)
	}
	for _, e := range det.events {
		st.Event(e.at, e.kind, e.label)
	}
	if !det.first.IsZero() {
		r.Ms("detection", det.first.Sub(fo.failedAt))
		st.Event(det.first, "detection", "failure detected: "+det.by)
	}
	r.Finding("detected by", det.summary())
	// A capture that lost frames proves no silence, but what it did see
	// was there.
	const name, want = "failure detected on the wire", "BFD down, a TCP close or a hold timer expiry seen from the survivors"
	if lost := capRes.Lost(); det.by == "" && lost != "" {
		r.Unproven(name, want, "the capture lost frames ("+lost+"): that nothing detected the failure cannot be shown")
		return
	}
	r.Expect(name, det.by != "", want, det.summary(),
		"no BFD, no TCP close and no hold timer expiry was captured: the survivors never noticed the failure")
	fo.expectBFD(det, mode)
}

// holdTimer: no BFD down, TCP close or NOTIFICATION made it onto the wire
// (a NOTIFICATION to a dead peer waits behind unacknowledged keepalives in
// TCP's retransmission backoff), yet the survivors withdrew the dead
// node's routes (kernel route notifications): their sessions ended with
// nothing else to end them, so the hold timer did.
func (fo *foRun) holdTimer(det *foDetection) {
	if len(fo.su.fams) == 0 {
		return
	}
	at, _ := fo.withdrawn(fo.su.fams[0])
	var first time.Time
	var nodes []string
	for n, t := range at {
		nodes = append(nodes, n)
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	if first.IsZero() {
		return
	}
	sort.Strings(nodes)
	det.by, det.first = "hold timer", first
	det.events = append(det.events, detEvent{first, "bgp", fmt.Sprintf("sessions to %s ended after %v with no BFD down or TCP close on the wire (its routes withdrawn on %s): the hold timer",
		fo.victim.Name, first.Sub(fo.failedAt).Round(time.Millisecond), strings.Join(nodes, ", "))})
}

// expectBFD: where every survivor's configuration runs BFD on its session
// to the failed node (Proxmox writes `bfd` for every EVPN peer), BFD must be
// what noticed a crash, well before the BGP hold timer; a killed engine's
// TCP close may come first.
func (fo *foRun) expectBFD(det foDetection, mode string) {
	var without []string
	for _, n := range fo.survivors {
		if !fo.bfdTowards(n.Name) {
			without = append(without, n.Name)
		}
	}
	if len(without) > 0 || det.by == "" {
		fo.r.Text("BFD", fmt.Sprintf("not configured towards %s on %v: a crash is noticed by the hold timer", fo.victim.Name, without))
		return
	}
	want := "BFD down"
	ok := det.by == "BFD down"
	if mode == KillAgent {
		want = "BFD down or the TCP close of the killed engine"
		ok = ok || det.by == "TCP close"
	}
	fo.r.Expect("failure detected by BFD", ok,
		fmt.Sprintf("%s: every survivor runs BFD towards %s", want, fo.victim.Name), "detected by "+det.summary(),
		"BFD is configured on the sessions to the failed node but the failure was detected by the "+det.by+": BFD did not run or did not reset the BGP session")
}

// bfdTowards tells whether node's configuration runs BFD on its session to
// the failed node.
func (fo *foRun) bfdTowards(node string) bool {
	p, err := fo.v.Plan(node)
	if err != nil || p.FRR == nil || p.FRR.BGP.Routers[frr.DefaultVRF] == nil {
		return false
	}
	for _, g := range p.FRR.BGP.Routers[frr.DefaultVRF].NeighborGroups {
		if g.BFD && slices.ContainsFunc(g.Peers, func(a netip.Addr) bool { return a == fo.victim.VTEP || slices.Contains(fo.victim.Addrs, a) }) {
			return true
		}
	}
	return false
}

// reportWithdrawal: the failed node's default route of the family is gone
// everywhere.
func (fo *foRun) reportWithdrawal(ff foFam, timeout time.Duration) {
	at, stale, had := fo.withdrawnHad(ff)
	if had == 0 {
		// Every survivor leads out itself (all exit nodes): nothing to
		// withdraw, and no check that would pass on nothing.
		fo.r.Text(ff.f.Tag()+" default route", fmt.Sprintf("no surviving node routed %s via %s (each is an exit node itself)", ff.f.Default(), fo.victim.Name))
		return
	}
	var slowest time.Duration
	for _, n := range fo.survivors {
		if t, ok := at[n.Name]; ok {
			slowest = max(slowest, t.Sub(fo.failedAt))
			fo.st.Event(t, "route", fmt.Sprintf("%s via %s withdrawn on %s", ff.f.Default(), fo.victim.Name, n.Name))
		}
	}
	if len(stale) == 0 {
		fo.r.Ms(ff.f.Tag()+" default route withdrawn everywhere", slowest)
	}
	// The check's name leaves out which exit node failed: that is the ECMP
	// hash's choice, and the engines' runs are compared by check name.
	fo.r.Expect(ff.f.Tag()+" failed exit node's default route withdrawn everywhere", len(stale) == 0,
		fmt.Sprintf("no %s route via %s (%s) on any node within %v", ff.f.Default(), fo.victim.Name, fo.victim.VTEP, timeout), "still there: "+strings.Join(stale, "; "),
		"the surviving nodes still route to the dead exit node: the BGP session was not torn down (hold timer) or the route was not removed from the kernel")
}

// reportRouters: routers that learned the family's guest subnet over BGP
// drop the failed node, and when.
func (fo *foRun) reportRouters(ff foFam) {
	for _, h := range fo.v.Routers() {
		w := fo.routerW[h.Name+"/"+ff.f.Tag()]
		states, _ := w.States()
		for _, a := range fo.victim.Addrs {
			had := len(states) > 0 && slices.ContainsFunc(states[0].Routes, func(rt probe.Route) bool { return rt.Dst == ff.subnet && slices.Contains(rt.Via, a) && rt.Learned() })
			if !had {
				continue
			}
			if at, ok, _, _ := w.GoneAt(ff.subnet, a, fo.failedAt); ok {
				fo.r.Ms(ff.f.Tag()+" BGP route via the failed node withdrawn on "+h.Name, at.Sub(fo.failedAt))
				fo.st.Event(at, "route", fmt.Sprintf("%s: BGP route to %s via %s withdrawn", h.Name, ff.subnet, fo.victim.Name))
			}
		}
	}
}

// setup finds a zone with exit nodes and, per family, a guest on a node
// that is not one of them (its traffic must leave through another node),
// preferring a guest the external host can reach (no SNAT) so both
// directions run. The zone covering the most families is taken: one
// failure fails both families over.
func (exitNodeFailover) setup(ctx context.Context, r *Result, v labView) (foSetup, string, error) {
	var su foSetup
	ext, ok := v.External()
	if !ok {
		return su, "the lab has no external host", nil
	}
	su.ext = ext
	for _, h := range v.Routers() {
		if h.Upstream {
			su.upstream = h
		}
	}
	if su.upstream.NS == "" {
		return su, "the lab has no upstream router", nil
	}
	byVNet, vnets, err := v.overlayGuests()
	if err != nil {
		return su, "", err
	}
	names := make([]string, 0, len(byVNet))
	for k := range byVNet {
		names = append(names, k)
	}
	sort.Strings(names)
	type zoneCands struct {
		id    string
		exits []Node
		cands [2][]Guest // per family, on nodes that are not exit nodes
		local [2][]Guest // per family, on exit nodes, without SNAT
	}
	var zonesSeen []*zoneCands
	byZone := map[string]*zoneCands{}
	for _, vn := range names {
		z := vnets[vn].Zone
		if z.Type != "evpn" {
			continue
		}
		zc := byZone[z.ID]
		if zc == nil {
			ex, _, err := v.exitNodes(z.ID)
			if err != nil {
				return su, "", err
			}
			if len(ex) == 0 {
				continue
			}
			zc = &zoneCands{id: z.ID, exits: ex}
			byZone[z.ID] = zc
			zonesSeen = append(zonesSeen, zc)
		}
		for _, c := range byVNet[vn] {
			onExit := slices.ContainsFunc(zc.exits, func(n Node) bool { return n.Name == c.Node })
			for i, f := range ipFams {
				if _, ok := f.HostAddr(ext); !ok || !f.Routed(c) {
					continue
				}
				if !onExit {
					zc.cands[i] = append(zc.cands[i], c)
				} else if _, snat := v.snatSubnetOf(c, f); !snat && len(zc.exits) > 1 {
					zc.local[i] = append(zc.local[i], c)
				}
			}
		}
	}
	var best *zoneCands
	count := func(zc *zoneCands) int {
		n := 0
		for i := range ipFams {
			switch {
			case len(zc.cands[i]) > 0:
				n += 2
			case len(zc.local[i]) > 0:
				n++
			}
		}
		return n
	}
	for _, zc := range zonesSeen {
		if count(zc) > 0 && (best == nil || count(zc) > count(best)) {
			best = zc
		}
	}
	if best == nil {
		return su, "no EVPN zone with exit nodes and a guest (with an address and gateway of a family the external host has) on a node that is not an exit node, or reachable without SNAT through two exit nodes", nil
	}
	su.zone, su.exits = best.id, best.exits
	for i, f := range ipFams {
		cands := best.cands[i]
		if len(cands) == 0 && len(best.local[i]) > 0 {
			// Every node with a guest is an exit node: the guest's own
			// traffic leaves through its node; inbound flows the upstream
			// hashes to another exit node cross the one to fail.
			g := best.local[i][0]
			extAddr, _ := f.HostAddr(ext)
			ff := foFam{f: f, g: g, extAddr: extAddr, subnet: f.Guest(g).Masked(), inbound: true,
				why: fmt.Sprintf("%s sits on exit node %s: its traffic to the external host leaves through its own node; only external -> guest (through the other exit nodes) is measured", g.Name, g.Node)}
			pr, err := probe.Ping(ctx, ext.NS, f.Guest(g).Addr(), probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second})
			if err != nil {
				return su, "", err
			}
			if !pr.OK() {
				return su, "", fmt.Errorf("%s: %s cannot reach %s before the failover (%s): the upstream has no route to the guest's subnet", f.Tag(), ext.Name, f.Guest(g).Addr(), pr.String())
			}
			su.fams = append(su.fams, ff)
			continue
		}
		if len(cands) == 0 {
			if _, ok := f.HostAddr(ext); !ok {
				r.Text("not failed over "+f.Tag(), fmt.Sprintf("the external host has no %s address", f.Name()))
			} else {
				r.Text("not failed over "+f.Tag(), fmt.Sprintf("zone %s has no guest with an %s address and gateway on a node that is not an exit node", best.id, f.Name()))
			}
			continue
		}
		// Prefer a guest without SNAT: the external host can reach it.
		sort.SliceStable(cands, func(i, j int) bool {
			_, si := v.snatSubnetOf(cands[i], f)
			_, sj := v.snatSubnetOf(cands[j], f)
			return !si && sj
		})
		g := cands[0]
		extAddr, _ := f.HostAddr(ext)
		ff := foFam{f: f, g: g, extAddr: extAddr, subnet: f.Guest(g).Masked(), outbound: true}
		if pr, err := probe.Ping(ctx, g.NS, extAddr, probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second}); err != nil || !pr.OK() {
			return su, "", guestUnreachable{g: g, msg: fmt.Sprintf("%s: %s cannot reach %s before the failover (%s %v): nothing to measure", f.Tag(), g.Name, extAddr, pr.String(), err)}
		}
		if pfx, snat := v.snatSubnetOf(g, f); snat {
			ff.why = fmt.Sprintf("%s's subnet %s leaves with SNAT: the external host cannot reach it, only guest -> external is measured", g.Name, pfx)
			su.fams = append(su.fams, ff)
			continue
		}
		pr, err := probe.Ping(ctx, ext.NS, f.Guest(g).Addr(), probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second})
		if err != nil {
			return su, "", err
		}
		if !pr.OK() {
			return su, "", fmt.Errorf("%s: %s cannot reach %s before the failover (%s): the upstream has no route to the guest's subnet", f.Tag(), ext.Name, f.Guest(g).Addr(), pr.String())
		}
		ff.inbound = true
		su.fams = append(su.fams, ff)
	}
	return su, "", nil
}

// placeFlows starts flows in both directions and every family, batch by
// batch, until the exit node to fail carries at least one flow of each
// (family, direction) measured (observed on its uplink, so no hash seed
// decides); it returns the flows with the exit node each one crossed, and
// the node to fail.
func (s exitNodeFailover) placeFlows(ctx context.Context, st *Steps, v labView, su foSetup, n int, interval time.Duration, want string) ([]foFlow, Node, error) {
	var flows []foFlow
	var exitPts []capture.Point
	for _, e := range su.exits {
		exitPts = append(exitPts, uplinkPoints([]Node{e})...)
	}
	for batch := 0; batch < foMaxAdd; batch++ {
		for i := range n {
			k := batch*n + i
			for fi, ff := range su.fams {
				if ff.outbound {
					out := foFlow{name: fmt.Sprintf("%sout%d", ff.f.Tag(), k), fam: fi, port: foOutPort + fi*foFamStep + k}
					if err := st.StartStream(out.name, StreamSpec{From: ff.g.NS, To: su.ext.NS, Dst: ff.extAddr, Port: out.port, Interval: interval}); err != nil {
						return nil, Node{}, err
					}
					flows = append(flows, out)
				}
				if ff.inbound {
					in := foFlow{name: fmt.Sprintf("%sin%d", ff.f.Tag(), k), fam: fi, inbound: true, port: foInPort + fi*foFamStep + k}
					if err := st.StartStream(in.name, StreamSpec{From: su.ext.NS, To: ff.g.NS, Dst: ff.f.Guest(ff.g).Addr(), Port: in.port, Interval: interval}); err != nil {
						return nil, Node{}, err
					}
					flows = append(flows, in)
				}
			}
		}
		time.Sleep(150 * time.Millisecond)
		tag := fmt.Sprintf("placement%d", batch+1)
		if err := st.StartCapture(ctx, tag, exitPts); err != nil {
			return nil, Node{}, err
		}
		time.Sleep(250 * time.Millisecond)
		res, err := st.StopCapture(tag)
		if err != nil {
			return nil, Node{}, err
		}
		classify(res, flows, su)
		if victim, ok := pickVictim(flows, su, want); ok {
			r := st.r
			r.Text("flow placement", placementText(flows, su))
			node, err := v.node(victim)
			if err != nil {
				return nil, Node{}, err
			}
			// The timeline draws the flows through the node to fail and
			// one other flow per family and direction as a control.
			control := map[string]bool{}
			for i := range flows {
				f := &flows[i]
				dir := su.fams[f.fam].dir(f.inbound)
				quiet := f.via != victim && control[dir]
				if f.via != victim {
					control[dir] = true
				}
				st.Label(f.name, fmt.Sprintf("%s :%d via %s", dir, f.port, orDash(f.via)), quiet)
			}
			return flows, node, nil
		}
	}
	return nil, Node{}, fmt.Errorf("after %d flows per family and direction no exit node carries flows in every one%s: %s",
		n*foMaxAdd, map[bool]string{true: " (" + want + " asked for)", false: ""}[want != ""], placementText(flows, su))
}

// classify records which exit node each flow crossed: an outbound flow
// leaves an exit node's uplink towards the external host; an inbound one
// leaves it inside VXLAN towards the guest's node.
func classify(res *capture.Result, flows []foFlow, su foSetup) {
	count := map[int]map[string]int{}
	for _, p := range res.Frames(capture.Outgoing()) {
		port := 0
		for fi, ff := range su.fams {
			out, in := foOutPort+fi*foFamStep, foInPort+fi*foFamStep
			switch {
			case p.Depth == 0 && p.DstIP == ff.extAddr && int(p.DstPort) >= out && int(p.DstPort) < out+200:
				port = int(p.DstPort)
			case p.Depth == 1 && p.DstIP == ff.f.Guest(ff.g).Addr() && int(p.DstPort) >= in && int(p.DstPort) < in+200:
				port = int(p.DstPort)
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range su.exits {
			if slices.Contains(uplinkLabels(e), p.Outermost().Point) {
				if count[port] == nil {
					count[port] = map[string]int{}
				}
				count[port][e.Name]++
			}
		}
	}
	for i := range flows {
		best := ""
		for node, c := range count[flows[i].port] {
			if best == "" || c > count[flows[i].port][best] || (c == count[flows[i].port][best] && node < best) {
				best = node
			}
		}
		flows[i].via = best
	}
}

// pickVictim chooses the exit node to fail: the one asked for, else one
// carrying flows in every family and direction measured, preferring the
// most flows.
func pickVictim(flows []foFlow, su foSetup, want string) (string, bool) {
	carries := func(node string, fam int, inbound bool) int {
		n := 0
		for _, f := range flows {
			if f.via == node && f.fam == fam && f.inbound == inbound {
				n++
			}
		}
		return n
	}
	total := func(node string) int {
		n := 0
		for _, f := range flows {
			if f.via == node {
				n++
			}
		}
		return n
	}
	ok := func(node string) bool {
		for fi, ff := range su.fams {
			if ff.outbound && carries(node, fi, false) == 0 || ff.inbound && carries(node, fi, true) == 0 || !ff.outbound && node == ff.g.Node {
				return false
			}
		}
		return true
	}
	if want != "" {
		return want, ok(want)
	}
	best := ""
	for _, e := range su.exits {
		if ok(e.Name) && (best == "" || total(e.Name) > total(best)) {
			best = e.Name
		}
	}
	return best, best != ""
}

func placementText(flows []foFlow, su foSetup) string {
	var lines []string
	for _, f := range flows {
		lines = append(lines, fmt.Sprintf("%s port %d: via %s", su.fams[f.fam].dir(f.inbound), f.port, orDash(f.via)))
	}
	return strings.Join(lines, "\n")
}

func flowsVia(flows []foFlow, node string) string {
	var out, in int
	for _, f := range flows {
		if f.via == node {
			if f.inbound {
				in++
			} else {
				out++
			}
		}
	}
	return fmt.Sprintf("%d guest -> external and %d external -> guest flows", out, in)
}

// direction reports one direction of one family: the flows through the
// failed node (what they lost, when they recovered) and, as a control, the
// others.
func (exitNodeFailover) direction(r *Result, st *Steps, routers []Host, flows []foFlow, fam int, inbound bool, victim Node, killedAt time.Time, su foSetup) {
	ff := su.fams[fam]
	dir := ff.dir(inbound)
	nExits := len(su.exits)
	var hit, other []foFlow
	for _, f := range flows {
		if f.fam != fam || f.inbound != inbound || f.recs == nil {
			continue
		}
		if f.via == victim.Name {
			hit = append(hit, f)
		} else {
			other = append(other, f)
		}
	}
	lost, otherLost, unrecovered := 0, 0, 0
	var slowest, longest time.Duration
	for _, f := range hit {
		lost += f.out.Lost
		if f.out.Recovered.IsZero() {
			unrecovered++
			continue
		}
		slowest = max(slowest, f.out.Recovered.Sub(killedAt))
		longest = max(longest, f.out.Gap())
	}
	for _, f := range other {
		otherLost += f.out.Lost
	}
	r.Figure(dir+": flows via the failed node", float64(len(hit)), "")
	r.Figure(dir+": probes lost", float64(lost), "")
	r.Figure(dir+": probes lost on other flows", float64(otherLost), "")
	obs := fmt.Sprintf("%d flows via %s: %d recovered, %d lost probes; slowest recovered %v after the failure, longest gap %v; %d other flows lost %d",
		len(hit), victim.Name, len(hit)-unrecovered, lost, slowest.Round(time.Millisecond), longest.Round(time.Millisecond), len(other), otherLost)
	r.Text(dir, obs)
	if unrecovered == 0 && len(hit) > 0 {
		r.Ms(dir+": recovered", slowest)
		r.Ms(dir+": longest gap", longest)
		st.Event(killedAt.Add(slowest), "recovery", dir+" recovered")
	}
	name := dir + " recovers via another exit node"
	switch {
	case len(hit) == 0:
		r.Expect(name, false, "flows through "+victim.Name, "none of the flows crossed it", "the flows were not placed on the failed node")
	case unrecovered == 0:
		r.Expect(name, true, "every flow through "+victim.Name+" flows again", obs, "")
	case nExits < 2:
		r.Expect(name, false, "every flow through "+victim.Name+" flows again", obs,
			fmt.Sprintf("zone %s has a single exit node (%s): when it dies nothing else leads out; list two in exitnodes", su.zone, victim.Name))
	case inbound && routerVia(routers, victim, ff.subnet, false) != "":
		// Proxmox's documented setup: static reverse routes on the
		// upstream. Inbound flows hashed to the dead node are lost: a
		// warn finding, with its remedy.
		r.ExpectWarn(name+" (static upstream routes)", false, "every flow through "+victim.Name+" flows again",
			fmt.Sprintf("%d of %d inbound flows were hashed to %s and stayed lost: router %s keeps its static ECMP route to %s via the dead node; %s",
				unrecovered, len(hit), victim.Name, routerVia(routers, victim, ff.subnet, false), ff.subnet, obs),
			"the upstream's static reverse routes (as Proxmox documents them) still lead to the dead exit node. Remedy: peer the exit nodes with the upstream over BGP (a bgp controller on each exit node, as Proxmox documents for exporting EVPN routes) so the dead node's routes are withdrawn, or withdraw the static route when an exit node fails")
	default:
		cause := fmt.Sprintf("the other exit node does not take over: check that it announces the default route (type-5 %s) and has a path to the external host", ff.f.Default())
		if r := routerVia(routers, victim, ff.subnet, true); inbound && r != "" {
			cause = fmt.Sprintf("router %s still has a BGP route to %s via the dead node: its session to %s did not end within the timeout (hold timer)", r, ff.subnet, victim.Name)
		} else if inbound {
			cause = "no router routes to the guest's subnet via the dead node any more, yet traffic to the guest does not arrive through the other exit node: check its VRF routes to the guest"
		}
		r.Expect(name, false, "every flow through "+victim.Name+" flows again", obs, cause)
	}
}

// routerVia names the first router (the upstream or one on the way to the
// exit nodes) that still routes pfx via one of the node's addresses, by a
// static route (learned false) or a BGP-learned one (learned true).
func routerVia(routers []Host, n Node, pfx netip.Prefix, learned bool) string {
	fam := 4
	if pfx.Addr().Is6() {
		fam = 6
	}
	for _, h := range routers {
		rs, err := probe.Routes(h.NS, fam)
		if err != nil {
			continue
		}
		for _, rt := range rs {
			if rt.Dst != pfx || rt.Learned() != learned {
				continue
			}
			for _, a := range n.Addrs {
				if slices.Contains(rt.Via, a) {
					return h.Name
				}
			}
		}
	}
	return ""
}

// foDetection is what the survivors' uplinks showed after the failure.
type foDetection struct {
	by     string
	first  time.Time
	events []detEvent
}

// detEvent is one sign of the failure: kind bfd (BFD down), tcp (FIN or
// RST) or bgp (a NOTIFICATION).
type detEvent struct {
	at          time.Time
	kind, label string
}

func (d foDetection) summary() string {
	if d.by == "" {
		return "nothing seen"
	}
	var parts []string
	for _, e := range d.events {
		parts = append(parts, e.label)
	}
	return d.by + " (" + strings.Join(parts, "; ") + ")"
}

// detection reads the capture of the survivors' uplinks: BFD packets to the
// dead node in state Down, a TCP FIN or RST from it on the BGP port, a BGP
// NOTIFICATION from a survivor to it (hold timer expired, or a cease after
// BFD). The earliest names what detected the failure.
func detection(res *capture.Result, victim Node, after time.Time) foDetection {
	var d foDetection
	seen := map[string]bool{}
	// The first of each kind from each sender tells the story.
	add := func(at time.Time, by, from, label string) {
		if seen[by+from] {
			return
		}
		seen[by+from] = true
		kind := map[string]string{"BFD down": "bfd", "TCP close": "tcp"}[by]
		if kind == "" {
			kind = "bgp"
		}
		d.events = append(d.events, detEvent{at, kind, label})
		if d.first.IsZero() || at.Before(d.first) {
			d.first, d.by = at, by
		}
	}
	isVictim := func(a netip.Addr) bool { return a == victim.VTEP || slices.Contains(victim.Addrs, a) }
	for _, p := range res.Frames(capture.Outer()) {
		if p.Time.Before(after) {
			continue
		}
		switch {
		case p.BFD != nil && isVictim(p.DstIP) && p.BFD.State == capture.BFDDown:
			add(p.Time, "BFD down", p.SrcIP.String(), fmt.Sprintf("BFD down from %s after %v", p.SrcIP, p.Time.Sub(after).Round(time.Millisecond)))
		case p.TCP != nil && isVictim(p.SrcIP) && p.SrcPort == 179 || p.TCP != nil && isVictim(p.SrcIP) && p.DstPort == 179:
			if p.TCP.FIN || p.TCP.RST {
				add(p.Time, "TCP close", p.SrcIP.String()+p.DstIP.String(), fmt.Sprintf("TCP %s from %s to %s after %v", map[bool]string{true: "RST", false: "FIN"}[p.TCP.RST], p.SrcIP, p.DstIP, p.Time.Sub(after).Round(time.Millisecond)))
			}
		}
		for _, m := range p.BGP {
			if m.Type != bgp.BGP_MSG_NOTIFICATION || !isVictim(p.DstIP) || m.Msg == nil {
				continue
			}
			n, ok := m.Msg.Body.(*bgp.BGPNotification)
			if !ok {
				continue
			}
			by := "BGP NOTIFICATION"
			if n.ErrorCode == bgp.BGP_ERROR_HOLD_TIMER_EXPIRED {
				by = "hold timer"
			}
			add(p.Time, by, p.SrcIP.String(), fmt.Sprintf("NOTIFICATION %d/%d from %s after %v", n.ErrorCode, n.ErrorSubcode, p.SrcIP, p.Time.Sub(after).Round(time.Millisecond)))
		}
	}
	// A speaker whose BFD session timed out resets the BGP session first
	// (a Cease NOTIFICATION) and sends its BFD Down right after: BFD
	// detected it.
	if d.by == "BGP NOTIFICATION" {
		for _, e := range d.events {
			if e.kind == "bfd" && e.at.Sub(d.first) < 100*time.Millisecond {
				d.by = "BFD down"
			}
		}
	}
	return d
}

// l4Hashing makes the given namespaces hash ECMP flows on ports
// (fib_multipath_hash_policy 1), so flows of one address pair spread over
// the exit nodes; restore puts the old values back.
func l4Hashing(r *Result, nss ...string) (restore func(), err error) {
	keys := []string{"net.ipv4.fib_multipath_hash_policy", "net.ipv6.fib_multipath_hash_policy"}
	type nk struct{ ns, key string }
	old := map[nk]string{}
	restore = func() {
		for k, v := range old {
			_ = nsutil.Sysctl(k.ns, k.key, v)
		}
	}
	for _, ns := range nss {
		for _, key := range keys {
			v, err := nsutil.ReadSysctl(ns, key)
			if err != nil {
				return restore, err
			}
			old[nk{ns, key}] = strings.TrimSpace(v)
			if err := nsutil.Sysctl(ns, key, "1"); err != nil {
				return restore, err
			}
		}
	}
	r.Text("ECMP hashing", fmt.Sprintf("%s=1 (layer 4) during the run in %s, so flows spread over the exit nodes by port; which flow took which node is observed, not assumed", strings.Join(keys, ", "), strings.Join(nss, ", ")))
	return restore, nil
}

// defaultsVia lists the default routes among rs and tells whether one leads
// via vtep.
func defaultsVia(rs []probe.Route, vtep netip.Addr) (defs []string, via bool) {
	for _, rt := range rs {
		if rt.Dst.Bits() == 0 {
			defs = append(defs, rt.String())
			via = via || slices.Contains(rt.Via, vtep)
		}
	}
	return defs, via
}

func routesString(rs []probe.Route) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	return orNone(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
