package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// exitNodeFailover crashes the primary exit node of a zone (agent SIGKILL,
// links down) while a guest streams to the external host, and measures the
// outage until the other exit node carries the traffic; the dead node's
// default route must disappear everywhere. It leaves the node dead: run it
// last.
type exitNodeFailover struct{}

func newExitNodeFailover() Scenario { return exitNodeFailover{} }

func (exitNodeFailover) Name() string { return "exit-node-failover" }
func (exitNodeFailover) Description() string {
	return "kill the primary exit node; loss and recovery of guest -> external traffic; default route withdrawn everywhere"
}
func (exitNodeFailover) Params() []Param {
	return []Param{
		{Name: "node", Default: "", Kind: KindNode, Help: "the exit node to kill (default: the zone's primary, else the first)"},
		{Name: "interval", Default: "1ms", Kind: KindDuration, Help: "UDP probe interval"},
		{Name: "timeout", Default: "15s", Kind: KindDuration, Help: "how long recovery may take (BGP hold time when links just vanish)"},
	}
}

func (s exitNodeFailover) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	interval, err := env.Duration("interval")
	if err != nil {
		return r.Errorf("%v", err)
	}
	timeout, err := env.Duration("timeout")
	if err != nil {
		return r.Errorf("%v", err)
	}
	ext, ok := v.External()
	if !ok {
		return r.Skipf("the lab has no external host")
	}
	extAddr, ok := ext.Addr4()
	if !ok {
		return r.Skipf("the external host has no IPv4 address")
	}
	byVNet, vnets, err := v.overlayGuests()
	if err != nil {
		return r.Errorf("%v", err)
	}
	// A zone with exit nodes and a guest not on the victim.
	var g Guest
	var victim Node
	var exits []Node
	names := make([]string, 0, len(byVNet))
	for k := range byVNet {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, vn := range names {
		z := vnets[vn].Zone
		if z.Type != "evpn" {
			continue
		}
		ex, primary, err := v.exitNodes(z.ID)
		if err != nil {
			return r.Errorf("%v", err)
		}
		if len(ex) == 0 {
			continue
		}
		want := env.Params["node"]
		if want == "" {
			want = primary
		}
		if want == "" {
			want = ex[0].Name
		}
		vi, err := v.node(want)
		if err != nil {
			return r.Errorf("%v", err)
		}
		isExit := map[string]bool{}
		for _, n := range ex {
			isExit[n.Name] = true
		}
		// A guest on a node that is not an exit node: its traffic must
		// leave through another node, the victim among them.
		for _, c := range byVNet[vn] {
			if !isExit[c.Node] && c.IPv4.IsValid() && c.GW4.IsValid() {
				g, victim, exits = c, vi, ex
				break
			}
		}
		if g.Name != "" {
			break
		}
	}
	if g.Name == "" {
		return r.Skipf("no EVPN zone with exit nodes and a guest on a node that is not an exit node")
	}
	var exitNames []string
	for _, n := range exits {
		exitNames = append(exitNames, n.Name)
	}
	r.Text("exit nodes", fmt.Sprintf("zone %s: exit nodes %v", g.Zone, exitNames))
	env.progress("%s (on %s) streams to %s through exit nodes %v", g.Name, g.Node, extAddr, exitNames)
	if pr, err := probe.Ping(ctx, g.NS, extAddr, probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second}); err != nil || !pr.OK() {
		return r.Errorf("%s cannot reach %s before the failover (%s): nothing to measure", g.Name, extAddr, pr.String())
	}
	st, err := probe.StartStream(g.NS, ext.NS, extAddr, 41003, interval)
	if err != nil {
		return r.Errorf("%v", err)
	}
	time.Sleep(300 * time.Millisecond)
	// Which exit node carries the flow now? With ECMP it may not be the
	// primary; killing one that carries nothing proves nothing.
	var exitPts []capture.Point
	for _, n := range exits {
		exitPts = append(exitPts, uplinkPoints([]Node{n})...)
	}
	seen, err := captureDuring(ctx, env, r, "before-kill", exitPts, func() error {
		time.Sleep(200 * time.Millisecond)
		return nil
	})
	if err != nil {
		st.Stop(0)
		return r.Errorf("%v", err)
	}
	perExit := map[string]int{}
	// Frames an exit node sends out towards the upstream (a switch may
	// flood copies to the other ports, so incoming ones prove nothing).
	for _, p := range seen.Frames(capture.Outer(), capture.Outgoing(), func(p *capture.Packet) bool { return p.DstPort == 41003 && p.DstIP == extAddr }) {
		for _, n := range exits {
			if slices.Contains(uplinkLabels(n), p.Outermost().Point) {
				perExit[n.Name]++
			}
		}
	}
	carrier := ""
	for _, n := range exits {
		if perExit[n.Name] > 0 && (carrier == "" || perExit[n.Name] > perExit[carrier]) {
			carrier = n.Name
		}
	}
	r.Text("flow before the kill", fmt.Sprintf("stream packets seen per exit node in 200 ms: %v", perExit))
	switch {
	case carrier == "":
		st.Stop(0)
		return r.Errorf("the stream to %s crossed no exit node's uplink (%v): nothing to fail over", extAddr, perExit)
	case env.Params["node"] != "" && carrier != victim.Name:
		st.Stop(0)
		return r.Errorf("the flow leaves through %s, not through %s: killing %s proves nothing", carrier, victim.Name, victim.Name)
	case carrier != victim.Name:
		if victim, err = v.node(carrier); err != nil {
			st.Stop(0)
			return r.Errorf("%v", err)
		}
	}
	// Precondition: the guest's node routes out via the victim; otherwise
	// killing it proves nothing.
	gns, err := v.VNetNS(g.Node, g.VNet)
	if err != nil {
		st.Stop(0)
		return r.Errorf("%v", err)
	}
	rs, err := probe.Routes(gns, 4)
	if err != nil {
		st.Stop(0)
		return r.Errorf("%v", err)
	}
	defs, viaVictim := defaultsVia(rs, victim.VTEP)
	r.Text("default route on "+g.Node+" before", orNone(defs))
	if !viaVictim {
		st.Stop(0)
		return r.Errorf("%s's default route in zone %s does not lead via %s (%s): %s; nothing to fail over (no type-5 default route from the exit node?)",
			g.Node, g.Zone, victim.Name, victim.VTEP, orNone(defs))
	}
	r.Text("victim", fmt.Sprintf("killing %s, the exit node that carries the flow", victim.Name))
	killedAt := time.Now()
	if err := env.Lab.KillNode(ctx, victim.Name); err != nil {
		st.Stop(0)
		return r.Errorf("kill %s: %v", victim.Name, err)
	}
	// Watch routes and the stream until both settled or timeout.
	var survivors []Node
	for _, n := range v.Nodes() {
		if n.Name != victim.Name {
			survivors = append(survivors, n)
		}
	}
	// One netlink handle per survivor for the whole poll, not one per poll.
	tabs := map[string]*probe.Tables{}
	defer func() {
		for _, t := range tabs {
			t.Close()
		}
	}()
	for _, n := range survivors {
		ns, err := v.VNetNS(n.Name, g.VNet)
		if err != nil {
			st.Stop(0)
			return r.Errorf("%v", err)
		}
		t, err := probe.OpenTables(ns)
		if err != nil {
			st.Stop(0)
			return r.Errorf("%v", err)
		}
		tabs[n.Name] = t
	}
	withdrawn := map[string]time.Duration{}
	lastRoutes := map[string]string{}
	var recoveredAfter time.Duration
	for time.Since(killedAt) < timeout {
		for _, n := range survivors {
			if _, done := withdrawn[n.Name]; done {
				continue
			}
			rs, err := tabs[n.Name].Routes(4)
			if err != nil {
				lastRoutes[n.Name] = err.Error()
				continue
			}
			defs, via := defaultsVia(rs, victim.VTEP)
			lastRoutes[n.Name] = orNone(defs)
			if !via {
				withdrawn[n.Name] = time.Since(killedAt)
			}
		}
		if la := st.LastArrival(); recoveredAfter == 0 && la.After(killedAt) && time.Since(la) < 50*time.Millisecond && time.Since(killedAt) > 100*time.Millisecond {
			recoveredAfter = la.Sub(killedAt)
		}
		if len(withdrawn) == len(survivors) && recoveredAfter > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	stats := st.Stop(200 * time.Millisecond)
	r.Figure("lost", float64(stats.Lost), "")
	r.Ms("longest gap", stats.LongestGap)
	r.Text("UDP stream "+g.Name+" -> "+ext.Name, stats.String())
	others := len(exits) - 1
	cause := "the other exit node does not take over: check that it announces the default route (type-5 0.0.0.0/0) and has a path to the external host"
	if others == 0 {
		cause = fmt.Sprintf("zone %s has a single exit node (%s): when it dies nothing else leads out; list two in exitnodes", g.Zone, victim.Name)
	}
	ok = recovered(stats)
	obs := stats.String()
	if ok && recoveredAfter > 0 {
		r.Ms("recovery", recoveredAfter)
		obs = fmt.Sprintf("recovered %v after the kill; %s", recoveredAfter.Round(time.Millisecond), obs)
	}
	r.Expect("guest -> external recovers via another exit node", ok, fmt.Sprintf("traffic flows again within %v", timeout), obs, cause)
	var stale []string
	var slowest time.Duration
	for _, n := range survivors {
		d, done := withdrawn[n.Name]
		if !done {
			stale = append(stale, n.Name+": "+lastRoutes[n.Name])
			continue
		}
		slowest = max(slowest, d)
	}
	if len(stale) == 0 {
		r.Ms("default route withdrawn", slowest)
	}
	r.Expect("default route via "+victim.Name+" withdrawn everywhere", len(stale) == 0,
		fmt.Sprintf("no default route via %s on any node within %v", victim.VTEP, timeout), "still there: "+strings.Join(stale, "; "),
		"the surviving nodes still route to the dead exit node: the BGP session was not torn down (hold timer) or the route was not removed from the kernel")
	return r.Finish()
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
