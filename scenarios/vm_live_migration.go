package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// vmLiveMigration moves a guest to another node under continuous probes and
// measures what the guest's peers saw: lost probes, the longest gap, the time
// until every node's FDB points at the new node, the MAC mobility sequence
// on the wire, the old node's withdrawal, and that nothing stale is left.
type vmLiveMigration struct{}

func newVMLiveMigration() Scenario { return vmLiveMigration{} }

func (vmLiveMigration) Name() string { return "vm-live-migration" }
func (vmLiveMigration) Description() string {
	return "a guest moves to another node under 1 ms UDP probes and ping; loss, gap, FDB convergence, MAC mobility"
}
func (vmLiveMigration) Params() []Param {
	return []Param{
		{Name: "guest", Default: "", Kind: KindGuest, Help: "the guest to move (default: first overlay guest with a peer on another node)"},
		{Name: "to", Default: "", Kind: KindNode, Help: "the destination node (default: another node of the VNet, not the peer's)"},
		{Name: "pause", Default: "50ms", Kind: KindDuration, Help: "how long the guest is frozen, as QEMU's final stop-and-copy"},
		{Name: "interval", Default: "1ms", Kind: KindDuration, Help: "UDP probe interval"},
		{Name: "max-gap", Default: "1s", Kind: KindDuration, Help: "longest acceptable probe gap"},
		{Name: "converge-timeout", Default: "3s", Kind: KindDuration, Help: "how long every node's FDB may take to follow"},
		{Name: "return", Default: "true", Kind: KindBool, Help: "move the guest back afterwards (not measured)"},
		{Name: "check-gateway-mac", Default: "true", Kind: KindBool, Help: "check the gateway MAC is the same on the old and the new node"},
	}
}

type streamProbe struct {
	name string
	s    *probe.Stream
}

func (s vmLiveMigration) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	var durs [4]time.Duration
	for i, p := range []string{"pause", "interval", "max-gap", "converge-timeout"} {
		d, err := env.Duration(p)
		if err != nil {
			return r.Errorf("%v", err)
		}
		durs[i] = d
	}
	pause, interval, maxGap, convTimeout := durs[0], durs[1], durs[2], durs[3]
	g, peer, vn, err := v.pairOnTwoNodes(env.Params["guest"])
	if err != nil {
		return r.Skipf("%v", err)
	}
	// Prefer a guest the external host can reach (its zone has exit
	// nodes), so both kinds of probes run.
	if _, hasExt := v.External(); hasExt && env.Params["guest"] == "" {
		if byVNet, vnets, err := v.overlayGuests(); err == nil {
			names := make([]string, 0, len(byVNet))
			for k := range byVNet {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, name := range names {
				exits, _, _ := v.exitNodes(vnets[name].Zone.ID)
				if x, y, ok := pairIn(byVNet[name], ""); ok && len(exits) > 0 && x.GW4.IsValid() {
					g, peer, vn = x, y, vnets[name]
					break
				}
			}
		}
	}
	home := g.Node
	target := env.Params["to"]
	if target == "" {
		for _, n := range vn.Nodes {
			if n.Name != home && n.Name != peer.Node {
				target = n.Name
				break
			}
		}
		if target == "" {
			target = peer.Node
		}
	}
	homeN, err := v.node(home)
	if err != nil {
		return r.Errorf("%v", err)
	}
	targetN, err := v.node(target)
	if err != nil {
		return r.Errorf("%v", err)
	}
	if !g.IPv4.IsValid() {
		return r.Skipf("guest %s has no IPv4 address for the probes", g.Name)
	}
	env.progress("%s moves %s -> %s (pause %v); probes from %s (on %s)", g.Name, home, target, pause, peer.Name, peer.Node)

	// Before: the gateway MAC the guest has cached.
	var gwBefore string
	if g.GW4.IsValid() {
		if _, err := probe.Ping(ctx, g.NS, g.GW4, probe.PingOpts{Count: 1, Timeout: 500 * time.Millisecond}); err != nil {
			return r.Errorf("%v", err)
		}
		if e, ok, _ := probe.NeighFor(g.NS, g.GW4); ok {
			gwBefore = e.MAC
		}
	}
	// The peers must know the guest before the move.
	if pr, err := probe.Ping(ctx, peer.NS, g.IPv4.Addr(), probe.PingOpts{Count: 2, Interval: 50 * time.Millisecond, Timeout: time.Second}); err != nil || !pr.OK() {
		return r.Errorf("%s cannot reach %s before the migration (%v %v): nothing to measure", peer.Name, g.Name, pr.String(), err)
	}

	var streams []streamProbe
	stopAll := func() {
		for _, sp := range streams {
			sp.s.Stop(0)
		}
	}
	st, err := probe.StartStream(peer.NS, g.NS, g.IPv4.Addr(), 41001, interval)
	if err != nil {
		return r.Errorf("%v", err)
	}
	streams = append(streams, streamProbe{peer.Name, st})
	if ext, ok := v.External(); ok && g.GW4.IsValid() {
		if ea, ok := ext.Addr4(); ok {
			if pr, _ := probe.Ping(ctx, ext.NS, g.IPv4.Addr(), probe.PingOpts{Count: 1, Timeout: 500 * time.Millisecond}); pr.OK() {
				es, err := probe.StartStream(ext.NS, g.NS, g.IPv4.Addr(), 41002, interval)
				if err != nil {
					stopAll()
					return r.Errorf("%v", err)
				}
				streams = append(streams, streamProbe{ext.Name, es})
			} else {
				r.Text("external", fmt.Sprintf("%s (%s) cannot reach %s before the move: no external stream", ext.Name, ea, g.Name))
			}
		}
	}

	points := uplinkPoints(v.Nodes())
	var (
		pingRes    probe.PingResult
		pingErr    error
		resumedAt  time.Time
		migDur     time.Duration
		conv       map[string]time.Duration
		convErr    error
		lastFDB    map[string][]probe.FDBEntry
		pingWG     sync.WaitGroup
		pingPeriod = 10 * time.Millisecond
	)
	res, err := captureDuring(ctx, env, r, "migration", points, func() error {
		pingWG.Add(1)
		go func() {
			defer pingWG.Done()
			pingRes, pingErr = probe.Ping(ctx, peer.NS, g.IPv4.Addr(), probe.PingOpts{Count: 150, Interval: pingPeriod, Timeout: 500 * time.Millisecond})
		}()
		time.Sleep(300 * time.Millisecond) // steady state before the move
		start := time.Now()
		if err := env.Lab.Migrate(ctx, g.Name, target, pause); err != nil {
			return fmt.Errorf("migrate %s to %s: %w", g.Name, target, err)
		}
		resumedAt = time.Now()
		migDur = resumedAt.Sub(start)
		conv, lastFDB, convErr = s.waitFDB(ctx, v, vn, g, targetN, convTimeout)
		time.Sleep(500 * time.Millisecond) // let the probes show recovery
		pingWG.Wait()
		return nil
	})
	stats := map[string]probe.StreamStats{}
	for _, sp := range streams {
		stats[sp.name] = sp.s.Stop(200 * time.Millisecond)
	}
	if err != nil {
		pingWG.Wait()
		return r.Errorf("%v", err)
	}
	if convErr != nil {
		return r.Errorf("reading FDBs: %v", convErr)
	}
	if env.Params["return"] == "true" {
		defer func() {
			if err := env.Lab.Migrate(context.WithoutCancel(ctx), g.Name, home, pause); err != nil {
				r.Text("move back", err.Error())
			}
		}()
	}
	r.Ms("migration call", migDur)

	// Probes.
	for _, sp := range streams {
		st := stats[sp.name]
		r.Figure("lost probes from "+sp.name, float64(st.Lost), "")
		r.Ms("longest gap from "+sp.name, st.LongestGap)
		r.Text("UDP stream from "+sp.name, st.String())
		r.Expect("probes from "+sp.name+" recovered", recovered(st), "the stream flows again after the move",
			st.String(), fmt.Sprintf("traffic from %s never found %s on %s", sp.name, g.Name, target))
		r.Expect("longest gap from "+sp.name, st.LongestGap <= maxGap, "at most "+maxGap.String(),
			st.LongestGap.Round(time.Microsecond).String(), "forwarding tables followed the guest too slowly (see the FDB convergence figures)")
	}
	if pingErr == nil {
		r.Figure("ping lost", float64(pingRes.Transmitted-pingRes.Received), "")
		r.Ms("ping longest gap", pingRes.LongestGap(pingPeriod))
		r.Text("ping "+peer.Name+" -> "+g.Name, pingRes.String())
	}

	// FDB convergence.
	var slowest time.Duration
	var notConv []string
	names := make([]string, 0, len(lastFDB))
	for n := range lastFDB {
		names = append(names, n)
	}
	sort.Strings(names)
	var fdbText []string
	for _, n := range names {
		d, ok := conv[n]
		if !ok {
			notConv = append(notConv, fmt.Sprintf("%s: %s", n, fdbString(lastFDB[n])))
			continue
		}
		slowest = max(slowest, d)
		fdbText = append(fdbText, fmt.Sprintf("%s after %v: %s", n, d.Round(time.Microsecond), fdbString(lastFDB[n])))
	}
	r.Text("FDB after the move", strings.Join(fdbText, "\n"))
	if len(notConv) == 0 {
		r.Ms("FDB convergence", slowest)
	}
	convObs := fmt.Sprintf("all %d nodes followed within %v", len(names), slowest.Round(time.Microsecond))
	if len(notConv) > 0 {
		convObs = "not converged: " + strings.Join(notConv, "; ")
	}
	r.Expect("every node's FDB points at "+target, len(notConv) == 0,
		fmt.Sprintf("within %v: local on %s, remote via %s elsewhere", convTimeout, target, targetN.VTEP),
		convObs,
		"the control plane did not move the MAC: no MAC/IP route with a higher MAC mobility sequence from the new node, or the old route was not withdrawn")

	// MAC mobility and withdrawal on the wire (EVPN only).
	if vn.Zone.Type == "evpn" {
		s.checkBGP(r, res, g, homeN, targetN)
	} else {
		r.Text("control plane", fmt.Sprintf("zone %s is %s: no BGP, the FDB follows by flood-and-learn from the RARP", vn.Zone.ID, vn.Zone.Type))
	}

	// The guest's gateway MAC did not change.
	if env.Params["check-gateway-mac"] == "true" {
		if bad := gatewayMACCheck(r, v, g, home, target, "gateway MAC identical on "+home+" and "+target,
			fmt.Sprintf("zone %s sets no anycast MAC (zone option mac): the gateway MAC differs between nodes, so the MAC a migrated guest keeps in its ARP cache does not exist on the new node", vn.Zone.ID)); bad != nil {
			return bad
		}
	}
	if gwBefore != "" {
		after, ok, _ := probe.NeighFor(g.NS, g.GW4)
		state := "flushed (the simulated NIC lost carrier during the move)"
		if ok {
			state = after.String()
		}
		r.Text("gateway ARP entry after the move", fmt.Sprintf("before: %s; after: %s", gwBefore, state))
		// The guest keeps its cache as a QEMU guest does (the lab keeps
		// neighbours across the carrier loss of the move, where the kernel
		// can): the entry it has must be the one it had.
		if ok {
			r.Expect("gateway MAC in the guest's ARP cache unchanged", strings.EqualFold(after.MAC, gwBefore),
				"the guest still has "+gwBefore+" for "+g.GW4.String(), "it has "+after.MAC,
				"the guest learned another gateway MAC after the move: the new node answered with a MAC of its own (no common anycast MAC?)")
		}
		// The gateway must answer at once, through whatever MAC the guest
		// has cached.
		gp, perr := probe.Ping(ctx, g.NS, g.GW4, probe.PingOpts{Count: 3, Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond})
		if perr == nil {
			r.Expect("gateway "+g.GW4.String()+" answers right after the move", gp.Received == gp.Transmitted, "every ping answered", gp.String(),
				"the guest's cached gateway MAC is not served by the new node (no common anycast MAC)")
		}
		// Whatever the cache holds now, the MAC the guest cached before the
		// move must be the new node's gateway MAC.
		if ns, err := v.VNetNS(target, vn.VNet.ID); err == nil {
			if mac, err := probe.LinkMAC(ns, vn.VNet.Bridge); err == nil {
				r.Expect("gateway MAC in the guest's ARP cache still valid on "+target, strings.EqualFold(mac.String(), gwBefore),
					fmt.Sprintf("the guest's cached %s is %s's gateway MAC", gwBefore, target),
					fmt.Sprintf("%s's gateway %s has MAC %s", target, g.GW4, mac),
					"the gateway MAC differs between nodes (no anycast MAC on the zone): a guest keeping its ARP cache across the move sends to a MAC the new node does not own")
			}
		}
	}

	// Nothing stale: every neighbour entry for the guest's IP anywhere has its MAC.
	var stale []string
	check := func(where, ns string) {
		es, err := probe.Neigh(ns)
		if err != nil {
			stale = append(stale, where+": "+err.Error())
			return
		}
		for _, e := range es {
			if (e.IP == g.IPv4.Addr() || e.IP == g.IPv6.Addr()) && e.MAC != "" && !strings.EqualFold(e.MAC, g.MAC.String()) {
				stale = append(stale, where+": "+e.String())
			}
		}
	}
	for _, n := range vn.Nodes {
		if ns, err := v.VNetNS(n.Name, vn.VNet.ID); err == nil {
			check(n.Name, ns)
		}
	}
	for _, o := range v.Guests() {
		if o.Name != g.Name {
			check(o.Name, o.NS)
		}
	}
	homeNS, err := v.VNetNS(home, vn.VNet.ID)
	if err != nil {
		return r.Errorf("%v", err)
	}
	if es, err := probe.FDBFor(homeNS, g.MAC); err != nil {
		stale = append(stale, home+": "+err.Error())
	} else {
		for _, e := range es {
			if !e.Dst.IsValid() && !strings.HasPrefix(e.Dev, "vx") && e.Dev != vn.VNet.Vxlan {
				stale = append(stale, home+": local "+e.String())
			}
		}
	}
	r.Expect("no stale FDB or neighbour entry", len(stale) == 0, "none", orNone(stale),
		"an entry learned before the move was not flushed or replaced")
	return r.Finish()
}

// recovered: at least 90% of the stream's last datagrams arrived.
func recovered(st probe.StreamStats) bool {
	return st.TailSent > 0 && st.TailReceived*10 >= st.TailSent*9
}

// waitFDB polls every node of the VNet until its FDB entry for the guest's
// MAC points at the target node; it returns how long each node took.
func (vmLiveMigration) waitFDB(ctx context.Context, v labView, vn *overlayVNet, g Guest, target Node, timeout time.Duration) (map[string]time.Duration, map[string][]probe.FDBEntry, error) {
	start := time.Now()
	conv := map[string]time.Duration{}
	last := map[string][]probe.FDBEntry{}
	tabs := map[string]*probe.Tables{}
	defer func() {
		for _, t := range tabs {
			t.Close()
		}
	}()
	for _, n := range vn.Nodes {
		ns, err := v.VNetNS(n.Name, vn.VNet.ID)
		if err != nil {
			return nil, nil, err
		}
		t, err := probe.OpenTables(ns)
		if err != nil {
			return nil, nil, err
		}
		tabs[n.Name] = t
	}
	for {
		for _, n := range vn.Nodes {
			if _, done := conv[n.Name]; done {
				continue
			}
			es, err := tabs[n.Name].FDBFor(g.MAC)
			if err != nil {
				return nil, nil, err
			}
			last[n.Name] = es
			ok := false
			if n.Name == target.Name {
				ok = fdbMatches(es, "local", netip.Addr{}, g.Tap)
			} else {
				ok = fdbMatches(es, "remote", target.VTEP, "")
			}
			if ok {
				conv[n.Name] = time.Since(start)
			}
		}
		if len(conv) == len(vn.Nodes) || time.Since(start) > timeout {
			return conv, last, nil
		}
		select {
		case <-ctx.Done():
			return conv, last, ctx.Err()
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// checkBGP reads the EVPN type-2 routes for the guest's MAC from the
// captured BGP UPDATEs.
func (vmLiveMigration) checkBGP(r *Result, res *capture.Result, g Guest, home, target Node) {
	type seen struct {
		from     netip.Addr
		withdraw bool
		seq      int // -1: no MAC mobility community
		line     string
	}
	var routes []seen
	dedup := map[string]bool{}
	// When the old node's withdrawal reaches the new node before the new
	// node learns the MAC, the new node knows no remote route to bump and
	// advertises sequence 0: RFC 7432 15.1, and what FRR does.
	var withdrawnAtTarget, firstAdvert time.Time
	for _, p := range res.Frames(capture.Outer()) {
		for _, m := range p.BGP {
			for _, rt := range m.EVPN() {
				if rt.Type != 2 || !strings.EqualFold(rt.MAC.String(), g.MAC.String()) {
					continue
				}
				if rt.Withdraw && p.SrcIP == home.VTEP && p.DstIP == target.VTEP && (withdrawnAtTarget.IsZero() || p.Time.Before(withdrawnAtTarget)) {
					withdrawnAtTarget = p.Time
				}
				if !rt.Withdraw && p.SrcIP == target.VTEP && (firstAdvert.IsZero() || p.Time.Before(firstAdvert)) {
					firstAdvert = p.Time
				}
				s := seen{from: p.SrcIP, withdraw: rt.Withdraw, seq: -1, line: p.SrcIP.String() + " " + rt.String()}
				if rt.MACMobility != nil {
					s.seq = int(rt.MACMobility.Seq)
				}
				if dedup[s.line] {
					continue
				}
				dedup[s.line] = true
				routes = append(routes, s)
			}
		}
	}
	var lines []string
	maxSeq := -1
	var newAdvert, oldWithdraw bool
	for _, s := range routes {
		lines = append(lines, s.line)
		if !s.withdraw && s.from == target.VTEP {
			newAdvert = true
			maxSeq = max(maxSeq, s.seq)
		}
		if s.withdraw && s.from == home.VTEP {
			oldWithdraw = true
		}
	}
	r.Text("EVPN type-2 routes for "+g.MAC.String(), orNone(lines))
	if maxSeq >= 0 {
		r.Figure("MAC mobility sequence", float64(maxSeq), "")
	}
	withdrawnFirst := !withdrawnAtTarget.IsZero() && !firstAdvert.IsZero() && withdrawnAtTarget.Before(firstAdvert)
	order := ""
	if withdrawnFirst {
		order = fmt.Sprintf("; %s's withdrawal reached %s %v before its advertisement (no remote route left to bump: 0 is correct)",
			home.Name, target.Name, firstAdvert.Sub(withdrawnAtTarget).Round(time.Microsecond))
	}
	r.Expect("new node advertises the MAC with a higher MAC mobility sequence", newAdvert && (maxSeq >= 1 || withdrawnFirst),
		fmt.Sprintf("a MAC/IP route from %s (%s) with MAC mobility sequence >= 1 (0 when the old route was withdrawn there first, RFC 7432 15.1)", target.Name, target.VTEP),
		fmt.Sprintf("%d type-2 updates for the MAC; highest sequence from %s: %d%s", len(routes), target.Name, maxSeq, order),
		"the new node's agent did not advertise the moved MAC with a bumped sequence (RFC 7432 section 15)")
	r.Expect("old node withdraws its route", oldWithdraw,
		fmt.Sprintf("a withdrawal of the MAC from %s (%s)", home.Name, home.VTEP),
		fmt.Sprintf("withdrawn by %s: %v", home.Name, oldWithdraw),
		"the old node keeps advertising the MAC: other nodes may keep a stale entry")
}
