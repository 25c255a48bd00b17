package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/topology"
	"github.com/sdnlab/sdnlab/topology/vm"
)

// vmLiveMigration moves a guest to another node under continuous probes and
// measures what the guest's peers saw: lost probes, the longest gap split
// into the pause, the lab's own cost of moving the tap and what the overlay
// adds, the time until every node's FDB points at the new node, the MAC
// mobility sequence on the wire against the one held before, the old
// node's withdrawal, and that nothing stale is left. Each IP family the
// guest and its peer share (IPv4, IPv6) gets its own probes, ping, gateway
// cache check and MAC+IP route check, named v4 and v6.
type vmLiveMigration struct{}

func newVMLiveMigration() Scenario { return vmLiveMigration{} }

func (vmLiveMigration) Name() string { return "vm-live-migration" }
func (vmLiveMigration) Description() string {
	return "a guest moves to another node under 1 ms UDP probes and ping; loss, gap (pause, lab, overlay), FDB convergence, MAC mobility"
}

// convergenceBudget is what the overlay may add to the pause before the
// longest gap counts as a regression: FRR meets it (NOTES.md: 100-128 ms
// gaps for a 50 ms pause), the agent is expected well below.
const convergenceBudget = 150 * time.Millisecond

func (vmLiveMigration) Params() []Param {
	return []Param{
		{Name: "guest", Default: "", Kind: KindGuest, Help: "the guest to move (default: first overlay guest with a peer on another node)"},
		{Name: "to", Default: "", Kind: KindNode, Help: "the destination node (default: another node of the VNet, not the peer's)"},
		{Name: "pause", Default: "50ms", Kind: KindDuration, Help: "how long the guest is frozen, as QEMU's final stop-and-copy"},
		{Name: "interval", Default: "1ms", Kind: KindDuration, Help: "UDP probe interval"},
		{Name: "max-gap", Default: "", Kind: KindDuration, Help: "longest acceptable probe gap (default: pause + " + convergenceBudget.String() + ")"},
		{Name: "converge-timeout", Default: "3s", Kind: KindDuration, Help: "how long every node's FDB may take to follow"},
		{Name: "return", Default: "true", Kind: KindBool, Help: "move the guest back afterwards (not measured)"},
		{Name: "check-gateway-mac", Default: "true", Kind: KindBool, Help: "check the gateway MAC is the same on the old and the new node"},
		// The two knobs below break the migration on purpose: the
		// conformance suite shows with them that the checks catch it.
		{Name: "freeze", Default: "true", Kind: KindBool, Help: "freeze the guest during the pause (false: a broken move, it must fail)"},
		{Name: "announce-rounds", Default: "5", Kind: KindInt, Choices: []string{"0", "1", "2", "3", "4", "5"}, Help: "RARP rounds the guest sends (QEMU: 5; fewer, or 0 for announce-self off, must fail)"},
	}
}

// vmProbeInterval is the least interval of the echo streams towards a
// VM guest: its kernel, emulated under TCG here, answers them.
const vmProbeInterval = 10 * time.Millisecond

// tcgResume is what the gap budget allows a VM guest emulated under TCG
// to resume and answer after QEMU's downtime.
const tcgResume = 150 * time.Millisecond

// migration is one planned move.
type migration struct {
	g, peer      Guest
	vn           *overlayVNet
	home, target Node
	pause        time.Duration
	interval     time.Duration
	maxGap       time.Duration
	budget       string // how maxGap was chosen, printed with the verdict
	convTimeout  time.Duration
	fams         []ipFam // the families both guests have, probed apart
	opts         topology.MigrateOpts
}

func (s vmLiveMigration) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	m, skip, err := s.plan(v, env)
	if err != nil {
		return r.Errorf("%v", err)
	}
	if skip != "" {
		return r.Skipf("%s", skip)
	}
	g := m.g
	env.progress("%s moves %s -> %s (pause %v, budget %s); probes from %s (on %s)", g.Name, m.home.Name, m.target.Name, m.pause, m.budget, m.peer.Name, m.peer.Node)
	gwBefore, err := s.before(ctx, v, m)
	if err != nil {
		return r.Errorf("%v", err)
	}
	var seqBefore uint32
	var seqKnown bool
	if m.vn.Zone.Type == "evpn" {
		if seqBefore, seqKnown, err = env.Lab.MACSeq(ctx, m.target.Name, g.MAC); err != nil {
			return r.Errorf("MAC mobility sequence before the move: %v", err)
		}
		r.Text("MAC mobility sequence before the move", fmt.Sprintf("%s holds sequence %d for %s (known: %v)", m.target.Name, seqBefore, g.MAC, seqKnown))
	}

	st := NewSteps(env, r)
	defer st.Close()
	probes, err := s.startProbes(ctx, st, v, m)
	if err != nil {
		return r.Errorf("%v", err)
	}
	if err := st.StartCapture(ctx, "migration", uplinkPoints(v.Nodes())); err != nil {
		return r.Errorf("%v", err)
	}
	// A process inside the guest (a paused VM runs nothing): its ping to
	// the peer is frozen with it.
	var (
		pingRes    = make([]probe.PingResult, len(m.fams))
		pingErr    = make([]error, len(m.fams))
		pingWG     sync.WaitGroup
		pingPeriod = 10 * time.Millisecond
	)
	for i, fam := range m.fams {
		if g.VM {
			break // QEMU pauses the whole VM itself (checkPause)
		}
		pingWG.Add(1)
		go func() {
			defer pingWG.Done()
			pingRes[i], pingErr[i] = probe.Ping(ctx, g.NS, fam.Guest(m.peer).Addr(), probe.PingOpts{Count: 150, Interval: pingPeriod, Timeout: 500 * time.Millisecond})
		}()
	}
	time.Sleep(300 * time.Millisecond) // steady state before the move

	// The FDB poll runs during the move: it must see the first entries.
	var (
		fdb    fdbResult
		fdbErr error
		fdbWG  sync.WaitGroup
	)
	fdbWG.Add(1)
	go func() {
		defer fdbWG.Done()
		fdb, fdbErr = s.waitFDB(ctx, v, m, m.convTimeout+time.Second)
	}()
	mv, err := st.MigrateWith(ctx, g.Name, m.target.Name, m.opts)
	fdbWG.Wait()
	pingWG.Wait()
	if err == nil && m.vn.Zone.Type == "evpn" {
		// The guest talks to its gateways as a running VM does: the new
		// node learns its addresses and advertises its MAC+IP routes,
		// whose sequence the capture shows.
		s.announceIPs(ctx, env, m)
	}
	time.Sleep(200 * time.Millisecond) // the probes show recovery
	if mv.QEMU {
		// QEMU announces on its own after it resumed the guest: the
		// capture must run until its last round has left.
		var all time.Duration
		for _, d := range topology.AnnounceSchedule {
			all += d
		}
		if wait := time.Until(mv.Done.Add(all + 100*time.Millisecond)); wait > 0 {
			time.Sleep(wait)
		}
	}
	stats, recs, serr := st.StopStreams(probes, 200*time.Millisecond)
	res, cerr := st.StopCapture("migration")
	if err != nil {
		return r.Errorf("%v", err)
	}
	if err := firstErr(serr, cerr); err != nil {
		return r.Errorf("%v", err)
	}
	if fdbErr != nil {
		return r.Errorf("reading FDBs: %v", fdbErr)
	}
	if env.Params["return"] == "true" {
		defer func() {
			if _, err := env.Lab.Migrate(context.WithoutCancel(ctx), g.Name, m.home.Name, m.pause); err != nil {
				r.Text("move back", err.Error())
			}
		}()
	}

	if mv.QEMU {
		// QEMU announced the guest itself: the rounds are on the wire.
		mv.Announces = wireAnnounces(res, m)
		for i, at := range mv.Announces {
			st.Event(at, "announce", fmt.Sprintf("RARP %d (QEMU, on the wire)", i+1))
		}
	}
	s.checkPause(r, m, mv, pingRes, pingErr, pingPeriod)
	s.checkProbes(r, st, m, mv, probes, stats, recs)
	s.checkFDB(r, st, m, mv, fdb)
	if m.vn.Zone.Type == "evpn" {
		s.checkBGP(r, st, res, m, seqBefore, seqKnown, gwBefore)
	} else {
		r.Text("control plane", fmt.Sprintf("zone %s is %s: no BGP, the FDB follows by flood-and-learn from the RARP", m.vn.Zone.ID, m.vn.Zone.Type))
	}
	s.checkRARP(r, res, m, mv)
	if env.Params["check-gateway-mac"] == "true" {
		if bad := s.gatewayMACs(r, v, m); bad != nil {
			return bad
		}
	}
	s.checkGatewayCache(ctx, r, v, m, gwBefore)
	if err := s.checkStale(r, v, m); err != nil {
		return r.Errorf("%v", err)
	}
	st.Timeline(fmt.Sprintf("%s: %s -> %s, pause %v", g.Name, m.home.Name, m.target.Name, m.pause))
	return r.Finish()
}

// plan reads the parameters and picks the guest, its peer and the target.
func (vmLiveMigration) plan(v labView, env *Env) (migration, string, error) {
	var m migration
	var durs [3]time.Duration
	for i, p := range []string{"pause", "interval", "converge-timeout"} {
		d, err := env.Duration(p)
		if err != nil {
			return m, "", err
		}
		durs[i] = d
	}
	m.pause, m.interval, m.convTimeout = durs[0], durs[1], durs[2]
	m.opts = topology.MigrateOpts{Pause: m.pause, NoFreeze: env.Params["freeze"] == "false"}
	rounds, err := env.Int("announce-rounds")
	if err != nil {
		return m, "", err
	}
	m.opts.Rounds = rounds
	if rounds == 0 {
		m.opts.Rounds = -1
	}
	m.maxGap = m.pause + convergenceBudget
	m.budget = fmt.Sprintf("%v = pause %v + %v convergence", m.maxGap, m.pause, convergenceBudget)
	if env.Params["max-gap"] != "" {
		d, err := env.Duration("max-gap")
		if err != nil {
			return m, "", err
		}
		m.maxGap, m.budget = d, fmt.Sprintf("%v (max-gap)", d)
	}
	g, peer, vn, err := v.pairToMove(env.Params["guest"])
	if err != nil {
		return m, err.Error(), nil
	}
	// Among namespace guests, prefer one the external host can reach (its
	// zone has exit nodes), so both kinds of probes run.
	if _, hasExt := v.External(); hasExt && env.Params["guest"] == "" && !g.VM {
		if byVNet, vnets, err := v.overlayGuests(); err == nil {
			names := make([]string, 0, len(byVNet))
			for k := range byVNet {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, name := range names {
				exits, _, _ := v.exitNodes(vnets[name].Zone.ID)
				if x, y, ok := pairIn(byVNet[name], ""); ok && len(exits) > 0 && (x.GW4.IsValid() || x.GW6.IsValid()) {
					g, peer, vn = x, y, vnets[name]
					break
				}
			}
		}
	}
	target := env.Params["to"]
	if target == "" {
		for _, n := range vn.Nodes {
			if n.Name != g.Node && n.Name != peer.Node {
				target = n.Name
				break
			}
		}
		if target == "" {
			target = peer.Node
		}
	}
	if m.home, err = v.node(g.Node); err != nil {
		return m, "", err
	}
	if m.target, err = v.node(target); err != nil {
		return m, "", err
	}
	for _, fam := range ipFams {
		if fam.Guest(g).IsValid() && fam.Guest(peer).IsValid() {
			m.fams = append(m.fams, fam)
		}
	}
	if len(m.fams) == 0 {
		return m, fmt.Sprintf("guest %s and its peer %s share no IP family for the probes", g.Name, peer.Name), nil
	}
	m.g, m.peer, m.vn = g, peer, vn
	if g.VM && env.Params["max-gap"] == "" {
		if accel, _, err := vm.Accelerator(); err == nil && accel == "tcg" {
			// An emulated guest answers its first echo tens of ms after
			// QEMU resumed it (measured 50-130 ms here with every FDB
			// already following): the guest's CPU, not the overlay.
			m.maxGap += tcgResume
			m.budget = fmt.Sprintf("%v = pause %v + %v convergence + %v for the emulated (TCG) guest to resume", m.maxGap, m.pause, convergenceBudget, tcgResume)
		}
	}
	if g.VM && m.interval < vmProbeInterval {
		// An emulated guest answers about 150 echoes a second.
		m.interval = vmProbeInterval
	}
	return m, "", nil
}

// before reads the gateway MACs the guest has cached (per family) and
// checks the peer reaches the guest over each family: there must be
// something to lose.
func (vmLiveMigration) before(ctx context.Context, v labView, m migration) (map[ipFam]string, error) {
	g := m.g
	gw := map[ipFam]string{}
	for _, fam := range m.fams {
		if a := fam.GW(g); a.IsValid() {
			if _, err := v.guestPing(ctx, g, a, probe.PingOpts{Count: 1, Timeout: time.Second}); err != nil {
				return nil, err
			}
			if e, ok, _ := v.guestNeighFor(ctx, g, a); ok {
				gw[fam] = e.MAC
			}
		}
		if pr, err := probe.Ping(ctx, m.peer.NS, fam.Guest(g).Addr(), probe.PingOpts{Count: 2, Interval: 50 * time.Millisecond, Timeout: time.Second}); err != nil || !pr.OK() {
			return nil, fmt.Errorf("%s cannot reach %s over %s before the migration (%v %v): nothing to measure", m.peer.Name, g.Name, fam.Name(), pr.String(), err)
		}
	}
	return gw, nil
}

// startProbes starts the UDP streams towards the guest, one per family:
// from its peer on another node and, when it reaches the guest, from the
// external host. Stream names end in the family's tag.
func (vmLiveMigration) startProbes(ctx context.Context, st *Steps, v labView, m migration) ([]string, error) {
	g := m.g
	var names []string
	for _, fam := range m.fams {
		port := 41001
		if fam.v6 {
			port = 41003
		}
		n := m.peer.Name + " " + fam.Tag()
		if err := st.StartStream(n, StreamSpec{Label: m.peer.Name + " -> " + g.Name + " (" + fam.Name() + ")", From: m.peer.NS, To: g.NS, Dst: fam.Guest(g).Addr(), Port: port, Interval: m.interval, Echo: g.VM}); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	ext, ok := v.External()
	if !ok {
		return names, nil
	}
	for _, fam := range m.fams {
		if _, has := fam.HostAddr(ext); !has || !fam.GW(g).IsValid() {
			continue
		}
		if pr, _ := probe.Ping(ctx, ext.NS, fam.Guest(g).Addr(), probe.PingOpts{Count: 1, Timeout: time.Second}); !pr.OK() {
			st.r.Text("external "+fam.Tag(), fmt.Sprintf("%s cannot reach %s over %s before the move (SNAT subnet, or no route to it?): no external %s stream", ext.Name, g.Name, fam.Name(), fam.Tag()))
			continue
		}
		port := 41002
		if fam.v6 {
			port = 41004
		}
		n := ext.Name + " " + fam.Tag()
		if err := st.StartStream(n, StreamSpec{Label: ext.Name + " -> " + g.Name + " (" + fam.Name() + ")", From: ext.NS, To: g.NS, Dst: fam.Guest(g).Addr(), Port: port, Interval: m.interval, Echo: g.VM}); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, nil
}

// announceIPs makes the moved guest ping its gateways and waits (up to a
// second) until the new node holds the guest's addresses as local MAC+IP
// bindings; a node that never learns them is judged by checkBGP.
func (vmLiveMigration) announceIPs(ctx context.Context, env *Env, m migration) {
	var want []string
	v := labView{env.Lab}
	for _, fam := range m.fams {
		if gw := fam.GW(m.g); gw.IsValid() {
			_, _ = v.guestPing(ctx, m.g, gw, probe.PingOpts{Count: 1, Timeout: 500 * time.Millisecond})
			want = append(want, fam.Guest(m.g).Addr().String())
		}
	}
	deadline := time.Now().Add(time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		snap, err := env.Lab.Show(ctx, m.target.Name)
		if err != nil {
			return
		}
		have := 0
		for _, e := range snap.Local {
			if strings.EqualFold(e.MAC, m.g.MAC.String()) {
				for _, ip := range e.IPs {
					for _, w := range want {
						if ip == w {
							have++
						}
					}
				}
			}
		}
		if have >= len(want) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkPause: the guest was frozen during the pause, as a paused VM is.
func (vmLiveMigration) checkPause(r *Result, m migration, mv Move, ping []probe.PingResult, pingErr []error, period time.Duration) {
	if mv.QEMU {
		r.Text("pause", m.g.Name+" is a VM: QEMU paused its vCPUs itself (its own downtime, not the pause asked for)")
		return
	}
	r.Ms("pause (as run)", mv.PauseEnd.Sub(mv.PauseStart))
	r.Figure("guest processes frozen", float64(len(mv.Frozen)), "")
	r.Expect("guest frozen during the pause", len(mv.Frozen) > 0,
		"the guest's processes (at least its ping to "+m.peer.Name+") stopped from the tap leaving until the pause ended",
		fmt.Sprintf("%d processes stopped: %v", len(mv.Frozen), mv.Frozen),
		"the migration did not stop the guest's processes: the guest ran (and sent) while it was supposed to be paused")
	for i, fam := range m.fams {
		if i < len(ping) && pingErr[i] == nil {
			r.Figure("guest ping lost "+fam.Tag(), float64(ping[i].Transmitted-ping[i].Received), "")
			r.Text("ping "+m.g.Name+" -> "+m.peer.Name+" over "+fam.Name()+" (frozen during the pause)", ping[i].String())
		}
	}
}

// checkProbes reports each stream: loss, the longest gap against the
// budget, and the gap split into the pause, the lab's own cost (moving the
// tap until the guest's first announcement) and what the overlay adds.
func (vmLiveMigration) checkProbes(r *Result, st *Steps, m migration, mv Move, names []string, stats map[string]probe.StreamStats, recs map[string][]probe.Record) {
	// The gap splits into the pause as it ran, the lab's own mechanics
	// after it (attach the tap, carrier up, first RARP) and the rest: what
	// the overlay adds.
	pause, lab := m.pause, time.Duration(0)
	outageFrom := mv.PauseStart
	if !mv.PauseEnd.IsZero() {
		pause = mv.PauseEnd.Sub(mv.PauseStart)
	}
	if mv.QEMU {
		// QEMU's own stop-and-copy is the pause (its downtime figure); its
		// tap was on the new bridge before, so the lab adds nothing. The
		// outage lies before Done, not at the pre-copy's start.
		pause = mv.VM.Downtime
		r.Ms("QEMU downtime", pause)
		r.Ms("QEMU migration total", mv.VM.TotalTime)
		outageFrom = mv.Done.Add(-pause - time.Second)
	}
	if len(mv.Announces) > 0 && !mv.QEMU {
		lab = mv.Announces[0].Sub(mv.PauseStart) - pause
		r.Ms("lab mechanics (tap attach to first RARP, after the pause)", lab)
	}
	for _, n := range names {
		s := stats[n]
		o := outageAt(recs[n], outageFrom, 10)
		r.Figure("lost probes from "+n, float64(s.Lost), "")
		// The gap that counts is the path's: across lost probes. On a
		// starved machine the sender itself may pause without losing
		// anything; that arrival gap is shown apart when it is longer.
		gap := s.LongestLossGap
		r.Ms("longest gap from "+n, gap)
		if s.LongestGap > gap {
			r.Text("sender pause from "+n, fmt.Sprintf("the longest arrival gap, %v (seq %d..%d), lost nothing: the sender paused (a busy machine), not the path",
				s.LongestGap.Round(time.Microsecond), s.GapFrom, s.GapTo))
		}
		overlay := gap - pause - lab
		r.Ms("overlay cost from "+n+" (gap - pause - lab)", overlay)
		r.Text("UDP stream from "+n, fmt.Sprintf("%s\ngap with loss %v (seq %d..%d) = pause %v + lab %v + overlay %v",
			s.String(), gap.Round(time.Microsecond), s.LossGapFrom, s.LossGapTo, pause.Round(time.Microsecond), lab.Round(time.Microsecond), overlay.Round(time.Microsecond)))
		if !o.Recovered.IsZero() && o.Affected {
			st.Event(o.Recovered, "recovery", "traffic from "+n+" recovered")
		}
		r.Expect("probes from "+n+" recovered", recovered(s), "the stream flows again after the move",
			s.String(), fmt.Sprintf("traffic from %s never found %s on %s", n, m.g.Name, m.target.Name))
		// The lab's own time to move the tap (measured, not guessed) is
		// not the overlay's: the budget is for pause + overlay.
		counted := gap - lab
		r.Expect("longest gap from "+n, counted <= m.maxGap, "at most "+m.budget+", the lab's own tap move not counted",
			fmt.Sprintf("%v counted of %v (pause %v + lab %v + overlay %v)", counted.Round(time.Microsecond), gap.Round(time.Microsecond), pause.Round(time.Microsecond), lab.Round(time.Microsecond), overlay.Round(time.Microsecond)),
			"forwarding tables followed the guest too slowly (see the FDB convergence figures and the timeline)")
	}
}

// fdbResult is when each node's FDB entry for the guest pointed at the
// target, and the entries last read.
type fdbResult struct {
	at   map[string]time.Time
	last map[string][]probe.FDBEntry
}

// waitFDB polls every node of the VNet until its FDB entry for the guest's
// MAC points at the target node.
func (vmLiveMigration) waitFDB(ctx context.Context, v labView, m migration, timeout time.Duration) (fdbResult, error) {
	res := fdbResult{at: map[string]time.Time{}, last: map[string][]probe.FDBEntry{}}
	tabs := map[string]*probe.Tables{}
	defer func() {
		for _, t := range tabs {
			t.Close()
		}
	}()
	for _, n := range m.vn.Nodes {
		ns, err := v.VNetNS(n.Name, m.vn.VNet.ID)
		if err != nil {
			return res, err
		}
		t, err := probe.OpenTables(ns)
		if err != nil {
			return res, err
		}
		tabs[n.Name] = t
	}
	start := time.Now()
	for {
		for _, n := range m.vn.Nodes {
			if _, done := res.at[n.Name]; done {
				continue
			}
			es, err := tabs[n.Name].FDBFor(m.g.MAC)
			if err != nil {
				return res, err
			}
			res.last[n.Name] = es
			ok := false
			if n.Name == m.target.Name {
				ok = fdbMatches(es, "local", netip.Addr{}, m.g.Tap)
			} else {
				ok = fdbMatches(es, "remote", m.target.VTEP, "")
			}
			if ok {
				res.at[n.Name] = time.Now()
			}
		}
		if len(res.at) == len(m.vn.Nodes) || time.Since(start) > timeout {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// checkFDB: every node's FDB follows, timed from the guest's first RARP.
func (vmLiveMigration) checkFDB(r *Result, st *Steps, m migration, mv Move, fdb fdbResult) {
	from := mv.PauseEnd
	if len(mv.Announces) > 0 {
		from = mv.Announces[0]
	}
	if from.IsZero() {
		from = mv.PauseStart
	}
	names := make([]string, 0, len(fdb.last))
	for n := range fdb.last {
		names = append(names, n)
	}
	sort.Strings(names)
	var slowest time.Duration
	var notConv, text []string
	for _, n := range names {
		at, ok := fdb.at[n]
		if !ok {
			notConv = append(notConv, fmt.Sprintf("%s: %s", n, fdbString(fdb.last[n])))
			continue
		}
		d := at.Sub(from)
		slowest = max(slowest, d)
		st.Event(at, "fdb", "FDB converged on "+n)
		text = append(text, fmt.Sprintf("%s %v after the first RARP: %s", n, d.Round(time.Microsecond), fdbString(fdb.last[n])))
	}
	r.Text("FDB after the move", strings.Join(text, "\n"))
	if len(notConv) == 0 {
		r.Ms("FDB convergence (after the first RARP)", slowest)
	}
	obs := fmt.Sprintf("all %d nodes followed within %v of the first RARP", len(names), slowest.Round(time.Microsecond))
	if len(notConv) > 0 {
		obs = "not converged: " + strings.Join(notConv, "; ")
	}
	r.Expect("every node's FDB points at "+m.target.Name, len(notConv) == 0,
		fmt.Sprintf("within %v: local on %s, remote via %s elsewhere", m.convTimeout, m.target.Name, m.target.VTEP), obs,
		"the control plane did not move the MAC: no MAC/IP route with a higher MAC mobility sequence from the new node, or the old route was not withdrawn")
}

// checkRARP: the guest announced itself as QEMU does, every round seen on
// the wire (flooded to the other VTEPs).
// wireRARPs are the moved guest's RARP frames leaving the target node,
// by the remote VTEP they went to (head-end replication sends one copy to
// each), as their capture times.
func wireRARPs(res *capture.Result, m migration) map[netip.Addr][]time.Time {
	per := map[netip.Addr][]time.Time{}
	for _, p := range res.Frames(capture.Outgoing()) {
		if p.Depth == 1 && p.ARP != nil && p.ARP.Op == capture.RARPRequest && strings.EqualFold(p.SrcMAC.String(), m.g.MAC.String()) &&
			p.Parent != nil && p.Parent.SrcIP == m.target.VTEP {
			per[p.Parent.DstIP] = append(per[p.Parent.DstIP], p.Time)
		}
	}
	return per
}

// wireAnnounces are the RARP rounds as they left towards the remote VTEP
// that got most of them, in time order.
func wireAnnounces(res *capture.Result, m migration) []time.Time {
	var best []time.Time
	for _, ts := range wireRARPs(res, m) {
		if len(ts) > len(best) {
			best = ts
		}
	}
	slices.SortFunc(best, func(a, b time.Time) int { return a.Compare(b) })
	return best
}

func (vmLiveMigration) checkRARP(r *Result, res *capture.Result, m migration, mv Move) {
	want := len(topology.AnnounceSchedule)
	// One remote VTEP's copies count the rounds (head-end replication
	// sends one per VTEP).
	per := map[netip.Addr]int{}
	seen := 0
	for vtep, ts := range wireRARPs(res, m) {
		per[vtep] = len(ts)
		seen = max(seen, len(ts))
	}
	var gaps []string
	for i := 1; i < len(mv.Announces); i++ {
		gaps = append(gaps, mv.Announces[i].Sub(mv.Announces[i-1]).Round(time.Millisecond).String())
	}
	r.Figure("RARP rounds on the wire", float64(seen), "")
	sent := len(mv.Announces)
	if mv.QEMU {
		sent = want // QEMU announces itself; the wire is the evidence
	}
	if lost := res.Lost(); seen < want && lost != "" {
		r.Unproven("guest announces itself as QEMU does", fmt.Sprintf("%d RARP rounds", want), "the capture lost frames ("+lost+")")
		return
	}
	r.Expect("guest announces itself as QEMU does", sent == want && seen == want,
		fmt.Sprintf("%d RARP rounds (%v apart), each flooded from %s", want, topology.AnnounceSchedule[1:], m.target.Name),
		fmt.Sprintf("%d sent (%s apart), %d seen leaving %s towards one VTEP (%v)", len(mv.Announces), strings.Join(gaps, ", "), seen, m.target.Name, per),
		"the guest did not announce itself after the move, or the announcements were not flooded: other nodes learn the new location only from the control plane")
}

// checkBGP reads the EVPN type-2 routes for the guest's MAC from the
// captured BGP UPDATEs: the new node advertises the MAC with a sequence
// greater than the one held before the move, the old node withdraws.
//
// Per family, the guest's MAC+IP route moves too: the new node advertises
// it with the MAC's sequence (RFC 7432 section 15: the MAC/IP routes of a
// MAC carry its sequence), and the old node withdraws the one it had
// (it had one when the guest talked to its gateway before the move).
func (vmLiveMigration) checkBGP(r *Result, st *Steps, res *capture.Result, m migration, before uint32, known bool, hadIP map[ipFam]string) {
	g, home, target := m.g, m.home, m.target
	type seen struct {
		from     netip.Addr
		ip       netip.Addr // invalid: a MAC-only route
		withdraw bool
		seq      int // -1: no MAC mobility community
		line     string
	}
	var routes []seen
	dedup := map[string]bool{}
	for _, p := range res.Frames(capture.Outer()) {
		for _, msg := range p.BGP {
			for _, rt := range msg.EVPN() {
				if rt.Type != 2 || !strings.EqualFold(rt.MAC.String(), g.MAC.String()) {
					continue
				}
				s := seen{from: p.SrcIP, ip: rt.IP, withdraw: rt.Withdraw, seq: -1, line: p.SrcIP.String() + " " + rt.String()}
				if rt.MACMobility != nil {
					s.seq = int(rt.MACMobility.Seq)
				}
				if dedup[s.line] {
					continue
				}
				dedup[s.line] = true
				routes = append(routes, s)
				what := "MAC " + g.MAC.String()
				if rt.IP.IsValid() {
					what += " IP " + rt.IP.String()
				}
				label := fmt.Sprintf("BGP UPDATE from %s: %s, MAC mobility seq %d", p.SrcIP, what, s.seq)
				if s.withdraw {
					label = fmt.Sprintf("BGP WITHDRAW from %s: %s", p.SrcIP, what)
				}
				st.Event(p.Time, "bgp", label)
			}
		}
	}
	var lines []string
	maxSeq := -1
	var oldWithdraw bool
	for _, s := range routes {
		lines = append(lines, s.line)
		if !s.withdraw && s.from == target.VTEP {
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
	r.Figure("MAC mobility sequence before", float64(before), "")
	if lost := res.Lost(); (maxSeq < 0 || !oldWithdraw) && lost != "" {
		r.Unproven("new node advertises the MAC with a higher MAC mobility sequence", "the new node's MAC/IP route and the old node's withdrawal on the wire",
			"the capture lost frames ("+lost+")")
		return
	}
	// RFC 7432 section 15: a route without the community is sequence 0,
	// so the first move carries 1 and each later one more than the last.
	r.Expect("new node advertises the MAC with a higher MAC mobility sequence", known && maxSeq > int(before),
		fmt.Sprintf("a MAC/IP route from %s (%s) with MAC mobility sequence > %d (held before the move)", target.Name, target.VTEP, before),
		fmt.Sprintf("%d type-2 updates for the MAC; highest sequence from %s: %d; before: %d (known to %s: %v)", len(routes), target.Name, maxSeq, before, target.Name, known),
		"the new node's agent did not advertise the moved MAC with a bumped sequence (RFC 7432 section 15): other nodes keep the old route")
	r.Expect("old node withdraws its route", oldWithdraw,
		fmt.Sprintf("a withdrawal of the MAC from %s (%s)", home.Name, home.VTEP),
		fmt.Sprintf("withdrawn by %s: %v", home.Name, oldWithdraw),
		"the old node keeps advertising the MAC: other nodes may keep a stale entry")
	for _, fam := range m.fams {
		ip := fam.Guest(g).Addr()
		if !fam.GW(g).IsValid() {
			r.Text("MAC+IP route "+fam.Tag(), fmt.Sprintf("%s has no %s gateway: nothing makes a node learn %s, no MAC+IP route expected", g.Name, fam.Name(), ip))
			continue
		}
		ipSeq, ipWithdrawn := -1, false
		for _, s := range routes {
			if s.ip != ip {
				continue
			}
			if !s.withdraw && s.from == target.VTEP {
				ipSeq = max(ipSeq, s.seq)
			}
			if s.withdraw && s.from == home.VTEP {
				ipWithdrawn = true
			}
		}
		if ipSeq >= 0 {
			r.Figure("MAC mobility sequence of MAC+IP "+fam.Tag(), float64(ipSeq), "")
		}
		r.Expect(fmt.Sprintf("new node advertises MAC+IP %s with the MAC's mobility sequence (%s)", ip, fam.Tag()), known && ipSeq > int(before) && ipSeq == maxSeq,
			fmt.Sprintf("a MAC/IP route for %s %s from %s with sequence %d (the MAC's, > %d held before)", g.MAC, ip, target.Name, maxSeq, before),
			fmt.Sprintf("highest sequence of MAC+IP %s from %s: %d (MAC-only route: %d)", ip, target.Name, ipSeq, maxSeq),
			fmt.Sprintf("%s did not advertise %s's %s address with the moved MAC's sequence after the guest talked from it: other nodes keep routing %s to %s", target.Name, g.Name, fam.Name(), ip, home.Name))
		if hadIP[fam] != "" {
			r.Expect(fmt.Sprintf("old node withdraws MAC+IP %s (%s)", ip, fam.Tag()), ipWithdrawn,
				fmt.Sprintf("a withdrawal of %s %s from %s", g.MAC, ip, home.Name),
				fmt.Sprintf("withdrawn by %s: %v", home.Name, ipWithdrawn),
				fmt.Sprintf("%s keeps advertising %s at the old location: remote nodes route %s traffic to %s", home.Name, ip, fam.Name(), home.Name))
		}
	}
}

// checkGatewayCache: per family, the gateway MAC the guest cached before
// the move (ARP for IPv4, neighbour cache for IPv6) is still served on the
// new node.
func (vmLiveMigration) checkGatewayCache(ctx context.Context, r *Result, v labView, m migration, gwBefore map[ipFam]string) {
	g := m.g
	for _, fam := range m.fams {
		before, gw, tag := gwBefore[fam], fam.GW(g), fam.Tag()
		if before == "" {
			continue
		}
		after, ok, _ := v.guestNeighFor(ctx, g, gw)
		state := "flushed (the simulated NIC lost carrier during the move)"
		if ok {
			state = after.String()
		}
		r.Text("gateway "+gw.String()+" "+fam.Cache()+" entry after the move", fmt.Sprintf("before: %s; after: %s", before, state))
		// The guest keeps its cache as a QEMU guest does: the entry it has
		// must be the one it had.
		if ok {
			r.Expect("gateway MAC in the guest's "+fam.Cache()+" unchanged ("+tag+")", strings.EqualFold(after.MAC, before),
				"the guest still has "+before+" for "+gw.String(), "it has "+after.MAC,
				"the guest learned another gateway MAC after the move: the new node answered with a MAC of its own (no common anycast MAC?)")
		}
		// A ping that could not run, or sent nothing, is no answer.
		gp, perr := v.guestPing(ctx, g, gw, probe.PingOpts{Count: 3, Interval: 50 * time.Millisecond, Timeout: time.Second})
		if name := "gateway " + gw.String() + " answers right after the move"; perr != nil {
			r.Unproven(name, "every ping answered", perr.Error())
		} else {
			r.Expect(name, gp.Transmitted > 0 && gp.Received == gp.Transmitted, "every ping answered", gp.String(),
				"the guest's cached gateway MAC is not served by the new node (no common anycast MAC)")
		}
		// The target's gateway MAC unread is no match.
		name := "gateway MAC in the guest's " + fam.Cache() + " still valid on " + m.target.Name + " (" + tag + ")"
		want := fmt.Sprintf("the guest's cached %s is %s's gateway MAC", before, m.target.Name)
		ns, err := v.VNetNS(m.target.Name, m.vn.VNet.ID)
		var mac net.HardwareAddr
		if err == nil {
			mac, err = probe.LinkMAC(ns, m.vn.VNet.Bridge)
		}
		if err != nil {
			r.Unproven(name, want, fmt.Sprintf("%s's gateway MAC could not be read: %v", m.target.Name, err))
			continue
		}
		r.Expect(name, strings.EqualFold(mac.String(), before), want,
			fmt.Sprintf("%s's gateway %s has MAC %s", m.target.Name, gw, mac),
			"the gateway MAC differs between nodes (no anycast MAC on the zone): a guest keeping its "+fam.Cache()+" across the move sends to a MAC the new node does not own")
	}
}

// gatewayMACs: the VNet bridge (the gateway of every family) has one MAC
// on the old and the new node.
func (vmLiveMigration) gatewayMACs(r *Result, v labView, m migration) *Result {
	if !m.g.GW4.IsValid() && !m.g.GW6.IsValid() {
		return nil
	}
	var macs []string
	for _, n := range []string{m.home.Name, m.target.Name} {
		ns, err := v.VNetNS(n, m.vn.VNet.ID)
		if err != nil {
			return r.Errorf("%v", err)
		}
		mac, err := probe.LinkMAC(ns, m.vn.VNet.Bridge)
		if err != nil {
			return r.Errorf("%v", err)
		}
		macs = append(macs, mac.String())
	}
	r.Expect("gateway MAC identical on "+m.home.Name+" and "+m.target.Name, macs[0] == macs[1], "one gateway MAC on "+m.home.Name+" and "+m.target.Name,
		fmt.Sprintf("%s on %s, %s on %s", macs[0], m.home.Name, macs[1], m.target.Name),
		fmt.Sprintf("zone %s sets no anycast MAC (zone option mac): the gateway MAC differs between nodes, so the MAC a migrated guest keeps in its ARP or neighbour cache does not exist on the new node", m.vn.Zone.ID))
	return nil
}

// checkStale: every neighbour entry for the guest's IP anywhere has its
// MAC, and the old node has no local FDB entry left.
func (vmLiveMigration) checkStale(r *Result, v labView, m migration) error {
	g := m.g
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
	for _, n := range m.vn.Nodes {
		if ns, err := v.VNetNS(n.Name, m.vn.VNet.ID); err == nil {
			check(n.Name, ns)
		}
	}
	for _, o := range v.Guests() {
		if o.Name != g.Name {
			check(o.Name, o.NS)
		}
	}
	homeNS, err := v.VNetNS(m.home.Name, m.vn.VNet.ID)
	if err != nil {
		return err
	}
	if es, err := probe.FDBFor(homeNS, g.MAC); err != nil {
		stale = append(stale, m.home.Name+": "+err.Error())
	} else {
		for _, e := range es {
			if !e.Dst.IsValid() && !strings.HasPrefix(e.Dev, "vx") && e.Dev != m.vn.VNet.Vxlan {
				stale = append(stale, m.home.Name+": local "+e.String())
			}
		}
	}
	r.Expect("no stale FDB or neighbour entry", len(stale) == 0, "none", orNone(stale),
		"an entry learned before the move was not flushed or replaced")
	return nil
}

// recovered: at least 90% of the stream's last datagrams arrived.
func recovered(st probe.StreamStats) bool {
	return st.TailSent > 0 && st.TailReceived*10 >= st.TailSent*9
}
