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
	"github.com/sdnlab/sdnlab/topology"
)

// vmLiveMigration moves a guest to another node under continuous probes and
// measures what the guest's peers saw: lost probes, the longest gap split
// into the pause, the lab's own cost of moving the tap and what the overlay
// adds, the time until every node's FDB points at the new node, the MAC
// mobility sequence on the wire against the one held before, the old
// node's withdrawal, and that nothing stale is left.
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

// vmEchoInterval is the shortest probe interval towards a VM guest: its
// kernel answers every datagram, and an emulated guest (TCG, 2 busy
// cores) answered no more than a few hundred a second.
const vmEchoInterval = 10 * time.Millisecond

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
	}
}

// migration is one planned move.
type migration struct {
	g, peer      Guest
	vn           *overlayVNet
	home, target Node
	pause        time.Duration
	interval     time.Duration
	maxGap       time.Duration
	budget       string // how maxGap was chosen, printed with the verdict
	maxGapSet    bool   // max-gap given: a VM's budget is not QEMU's downtime + convergence
	convTimeout  time.Duration
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
	if g.VM {
		env.progress("%s (a VM) moves %s -> %s by QEMU's live migration (budget: its downtime + %v); probes from %s (on %s) and the external host, answered by its kernel", g.Name, m.home.Name, m.target.Name, convergenceBudget, m.peer.Name, m.peer.Node)
	} else {
		env.progress("%s moves %s -> %s (pause %v, budget %s); probes from %s (on %s)", g.Name, m.home.Name, m.target.Name, m.pause, m.budget, m.peer.Name, m.peer.Node)
	}
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
	// A process inside the guest (a paused VM runs nothing): its ping is
	// frozen with it; where it arrives in a namespace, its requests are
	// the direction from the guest, timed by that namespace's kernel.
	pingPeriod := 10 * time.Millisecond
	gp, err := s.startGuestPing(ctx, st, v, m, pingPeriod)
	if err != nil {
		return r.Errorf("%v", err)
	}
	defer gp.close()
	time.Sleep(300 * time.Millisecond) // steady state before the move

	// The FDB poll runs during the move: it must see the first entries.
	var (
		fdb    fdbResult
		fdbErr error
		fdbWG  sync.WaitGroup
	)
	moved := make(chan struct{})
	fdbWG.Add(1)
	go func() {
		defer fdbWG.Done()
		fdb, fdbErr = s.waitFDB(ctx, v, m, moved, m.convTimeout+time.Second)
	}()
	mv, err := st.Migrate(ctx, g.Name, m.target.Name, m.pause)
	close(moved)
	fdbWG.Wait()
	time.Sleep(200 * time.Millisecond) // the probes show recovery
	pingRes, pingErr := gp.stop(ctx)
	stats, recs, serr := st.StopStreams(probes, 200*time.Millisecond)
	res, cerr := st.StopCapture("migration")
	if err != nil {
		return r.Errorf("%v", err)
	}
	if err := firstErr(serr, cerr); err != nil {
		return r.Errorf("%v", err)
	}
	if mv.QEMU && !m.maxGapSet {
		// QEMU chose its pause: the budget is its downtime plus what the
		// overlay may add.
		m.maxGap = mv.VM.Downtime + convergenceBudget
		m.budget = fmt.Sprintf("%v = QEMU downtime %v + %v convergence", m.maxGap, mv.VM.Downtime, convergenceBudget)
	}
	firstRARP := firstRARPAt(res, m)
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

	s.checkPause(r, m, mv, gp, pingRes, pingErr)
	s.checkProbes(r, st, m, mv, probes, stats, recs, firstRARP)
	s.checkFDB(r, st, m, mv, fdb, firstRARP)
	if m.vn.Zone.Type == "evpn" {
		s.checkBGP(r, st, res, m, seqBefore, seqKnown)
	} else {
		r.Text("control plane", fmt.Sprintf("zone %s is %s: no BGP, the FDB follows by flood-and-learn from the RARP", m.vn.Zone.ID, m.vn.Zone.Type))
	}
	s.checkRARP(r, res, m, mv)
	if env.Params["check-gateway-mac"] == "true" {
		if bad := gatewayMACCheck(r, v, g, m.home.Name, m.target.Name, "gateway MAC identical on "+m.home.Name+" and "+m.target.Name,
			fmt.Sprintf("zone %s sets no anycast MAC (zone option mac): the gateway MAC differs between nodes, so the MAC a migrated guest keeps in its ARP cache does not exist on the new node", m.vn.Zone.ID)); bad != nil {
			return bad
		}
	}
	s.checkGatewayCache(ctx, r, v, m, gwBefore)
	if err := s.checkStale(ctx, r, v, m); err != nil {
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
	m.maxGap = m.pause + convergenceBudget
	m.budget = fmt.Sprintf("%v = pause %v + %v convergence", m.maxGap, m.pause, convergenceBudget)
	if env.Params["max-gap"] != "" {
		d, err := env.Duration("max-gap")
		if err != nil {
			return m, "", err
		}
		m.maxGap, m.budget, m.maxGapSet = d, fmt.Sprintf("%v (max-gap)", d), true
	}
	g, peer, vn, err := v.pairOnTwoNodesAll(env.Params["guest"])
	if err != nil {
		return m, err.Error(), nil
	}
	// Prefer a guest the external host can reach (its zone has exit
	// nodes), so both kinds of probes run.
	if _, hasExt := v.External(); hasExt && env.Params["guest"] == "" {
		if byVNet, vnets, err := v.overlayGuestsAll(); err == nil {
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
	if !g.IPv4.IsValid() || !peer.IPv4.IsValid() {
		return m, fmt.Sprintf("guest %s or its peer %s has no IPv4 address for the probes", g.Name, peer.Name), nil
	}
	m.g, m.peer, m.vn = g, peer, vn
	return m, "", nil
}

// before reads the gateway MAC the guest has cached and checks the peer
// reaches the guest: there must be something to lose.
func (vmLiveMigration) before(ctx context.Context, v labView, m migration) (string, error) {
	g := m.g
	var gw string
	if g.GW4.IsValid() {
		if _, err := v.guestPing(ctx, g, g.GW4, probe.PingOpts{Count: 1, Timeout: time.Second}); err != nil {
			return "", err
		}
		if e, ok, _ := v.guestNeighFor(ctx, g, g.GW4); ok {
			gw = e.MAC
		}
	}
	if pr, err := v.guestPing(ctx, m.peer, g.IPv4.Addr(), probe.PingOpts{Count: 2, Interval: 50 * time.Millisecond, Timeout: time.Second}); err != nil || !pr.OK() {
		return "", fmt.Errorf("%s cannot reach %s before the migration (%v %v): nothing to measure", m.peer.Name, g.Name, pr.String(), err)
	}
	return gw, nil
}

// startProbes starts the streams towards the guest: from its peer on
// another node and, when it reaches the guest, from the external host. A
// stream into a namespace guest is UDP (one way); a VM guest runs nothing
// of ours, so its kernel echoes ICMP (probe.StartEchoStream: both ways).
// The external host also echoes off a namespace guest, so the two kinds
// are measured alike. A peer that is a VM itself starts no stream.
func (vmLiveMigration) startProbes(ctx context.Context, st *Steps, v labView, m migration) ([]string, error) {
	g := m.g
	var names []string
	if g.VM && m.interval < vmEchoInterval {
		st.r.Text("probe interval", fmt.Sprintf("%s is an emulated VM: its kernel answers the echo streams every %v, not %v (an emulated guest answers no more than a few hundred a second)", g.Name, vmEchoInterval, m.interval))
		m.interval = vmEchoInterval
	}
	start := func(name string, sp StreamSpec) error {
		if err := st.StartStream(name, sp); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	}
	if m.peer.VM {
		st.r.Text("peer stream", fmt.Sprintf("%s is a VM guest too: no probe runs in it, the streams start from namespaces", m.peer.Name))
	} else {
		sp := StreamSpec{Label: m.peer.Name + " -> " + g.Name, From: m.peer.NS, To: g.NS, Dst: g.IPv4.Addr(), Port: 41001, Interval: m.interval, Echo: g.VM}
		if g.VM {
			sp.Label += " (echo)"
		}
		if err := start(m.peer.Name, sp); err != nil {
			return nil, err
		}
		// IPv6 as an equal: the same stream over IPv6 when both guests have it.
		if g.IPv6.IsValid() && m.peer.IPv6.IsValid() {
			pr, err := probe.Ping(ctx, m.peer.NS, g.IPv6.Addr(), probe.PingOpts{Count: 2, Interval: 50 * time.Millisecond, Timeout: time.Second})
			if err != nil {
				return nil, err
			}
			if !pr.OK() {
				return nil, fmt.Errorf("%s cannot reach %s over IPv6 before the migration (%s): nothing to measure", m.peer.Name, g.IPv6.Addr(), pr.String())
			}
			sp6 := sp
			sp6.Label, sp6.Dst, sp6.Port = strings.Replace(sp.Label, g.Name, g.Name+" (IPv6)", 1), g.IPv6.Addr(), 41003
			if err := start(m.peer.Name+" (IPv6)", sp6); err != nil {
				return nil, err
			}
		}
	}
	ext, ok := v.External()
	if ok && g.GW4.IsValid() {
		if pr, _ := probe.Ping(ctx, ext.NS, g.IPv4.Addr(), probe.PingOpts{Count: 1, Timeout: time.Second}); !pr.OK() {
			st.r.Text("external", fmt.Sprintf("%s cannot reach %s before the move (SNAT subnet?): no external stream", ext.Name, g.Name))
			ok = false
		}
	}
	if ok && g.GW4.IsValid() {
		if !g.VM {
			if err := start(ext.Name, StreamSpec{Label: ext.Name + " -> " + g.Name, From: ext.NS, To: g.NS, Dst: g.IPv4.Addr(), Port: 41002, Interval: m.interval}); err != nil {
				return nil, err
			}
		}
		if err := start(ext.Name+" (echo)", StreamSpec{Label: ext.Name + " -> " + g.Name + " (echo)", From: ext.NS, Dst: g.IPv4.Addr(), Interval: m.interval, Echo: true}); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no namespace can probe %s: its peer %s is a VM and no external host reaches it", g.Name, m.peer.Name)
	}
	return names, nil
}

// guestPing is the guest's own ping during the move and, where it
// arrives in a namespace, the watch that times its requests there.
type guestPing struct {
	*guestPinger
	target string // who is pinged
	watch  *probe.PingWatch
}

// close ends the watch (a run that stopped early).
func (gp *guestPing) close() {
	if gp.watch != nil {
		gp.watch.Stop(0)
	}
}

// startGuestPing pings, from inside the guest, the external host (the
// way the echo streams come from) or else its peer, and watches the
// requests arrive when the target is a namespace.
func (vmLiveMigration) startGuestPing(ctx context.Context, st *Steps, v labView, m migration, period time.Duration) (*guestPing, error) {
	g := m.g
	gp := &guestPing{target: m.peer.Name}
	dst, ns := m.peer.IPv4.Addr(), m.peer.NS
	// The external host only when the guest's requests arrive from its own
	// address: not from a SNAT subnet (they come from the exit node's).
	if _, snat := v.snatSubnet(g); snat {
		st.r.Text("guest ping", fmt.Sprintf("%s's subnet has SNAT: it pings its peer %s, not the external host", g.Name, m.peer.Name))
	} else if ext, ok := v.External(); ok && g.GW4.IsValid() {
		if a, ok4 := ext.Addr4(); ok4 {
			if pr, _ := probe.Ping(ctx, ext.NS, g.IPv4.Addr(), probe.PingOpts{Count: 1, Timeout: time.Second}); pr.OK() {
				gp.target, dst, ns = ext.Name, a, ext.NS
			}
		}
	}
	if ns != "" {
		w, err := probe.WatchPings(ns, g.IPv4.Addr())
		if err != nil {
			return nil, err
		}
		gp.watch = w
	}
	p, err := v.startGuestPing(ctx, g, dst, 150, period)
	if err != nil {
		if gp.watch != nil {
			gp.watch.Stop(0)
		}
		return nil, err
	}
	gp.guestPinger = p
	return gp, nil
}

// checkPause: the guest was frozen during the pause, as a paused VM is;
// for a VM, QEMU's own figures.
func (vmLiveMigration) checkPause(r *Result, m migration, mv Move, gp *guestPing, ping probe.PingResult, pingErr error) {
	defer func() {
		if pingErr != nil {
			r.Text("ping "+m.g.Name+" -> "+gp.target, "the guest's ping gave nothing: "+pingErr.Error())
			return
		}
		r.Figure("guest ping lost", float64(ping.Transmitted-ping.Received), "")
		r.Text("ping "+m.g.Name+" -> "+gp.target+" (frozen during the pause)", ping.String())
		if gp.watch == nil {
			return
		}
		ws := gp.watch.Stop(ping.Transmitted)
		name := m.g.Name + " -> " + gp.target
		r.Ms("longest gap from "+name+" (guest's ping)", ws.LongestGap)
		r.Text("from the guest: "+name, fmt.Sprintf("requests as they arrived in %s: %s", gp.target, ws.String()))
		if ws.Received == 0 {
			r.Text("from the guest", "none of the guest's requests arrived: the direction from the guest is not measured")
		}
	}()
	if mv.QEMU {
		r.Text("pause", m.g.Name+" is a VM: QEMU paused its vCPUs itself (its own downtime, not the pause asked for)")
		r.Ms("QEMU downtime (query-migrate)", mv.VM.Downtime)
		r.Ms("QEMU migration total time", mv.VM.TotalTime)
		r.Figure("QEMU RAM transferred", float64(mv.VM.Transferred>>20), "MiB")
		r.Expect("QEMU paused the guest and moved its state", mv.VM.Downtime > 0 && mv.VM.Transferred > 0,
			"query-migrate: status completed with a downtime and RAM sent",
			fmt.Sprintf("downtime %v, total %v, %d MiB sent", mv.VM.Downtime, mv.VM.TotalTime, mv.VM.Transferred>>20),
			"QEMU's migration did not report a pause or sent no memory: it was no live migration")
		return
	}
	r.Ms("pause (as run)", mv.PauseEnd.Sub(mv.PauseStart))
	r.Figure("guest processes frozen", float64(len(mv.Frozen)), "")
	r.Expect("guest frozen during the pause", len(mv.Frozen) > 0,
		"the guest's processes (at least its ping to "+gp.target+") stopped from the tap leaving until the pause ended",
		fmt.Sprintf("%d processes stopped: %v", len(mv.Frozen), mv.Frozen),
		"the migration did not stop the guest's processes: the guest ran (and sent) while it was supposed to be paused")
}

// checkProbes reports each stream: loss, the longest gap against the
// budget, and the gap split into the pause, the lab's own cost (moving the
// tap until the guest's first announcement) and what the overlay adds.
func (vmLiveMigration) checkProbes(r *Result, st *Steps, m migration, mv Move, names []string, stats map[string]probe.StreamStats, recs map[string][]probe.Record, firstRARP time.Time) {
	// The gap splits into the pause as it ran, the lab's own mechanics
	// after it (attach the tap, carrier up, first RARP) and the rest: what
	// the overlay adds. QEMU's pause is its downtime, and it has no lab
	// mechanics: its destination tap is on the bridge before the pause.
	pause, lab := m.pause, time.Duration(0)
	if !mv.PauseEnd.IsZero() {
		pause = mv.PauseEnd.Sub(mv.PauseStart)
	}
	outageFrom := mv.PauseStart
	if mv.QEMU {
		pause = mv.VM.Downtime
		if !firstRARP.IsZero() {
			outageFrom = firstRARP.Add(-pause)
		}
	}
	if len(mv.Announces) > 0 {
		lab = mv.Announces[0].Sub(mv.PauseStart) - pause
		r.Ms("lab mechanics (tap attach to first RARP, after the pause)", lab)
	}
	for _, n := range names {
		s := stats[n]
		o := outageAt(recs[n], outageFrom, 10)
		r.Figure("lost probes from "+n, float64(s.Lost), "")
		r.Ms("longest gap from "+n, s.LongestGap)
		overlay := s.LongestGap - pause - lab
		r.Ms("overlay cost from "+n+" (gap - pause - lab)", overlay)
		r.Text("UDP stream from "+n, fmt.Sprintf("%s\ngap %v = pause %v + lab %v + overlay %v",
			s.String(), s.LongestGap.Round(time.Microsecond), pause.Round(time.Microsecond), lab.Round(time.Microsecond), overlay.Round(time.Microsecond)))
		if rs := recs[n]; mv.QEMU && int(s.GapTo) < len(rs) && s.GapFrom < s.GapTo {
			// Where the gap lies in QEMU's migration: pre-copy, its pause,
			// or after it.
			at := func(t time.Time) string {
				if t.IsZero() {
					return "-"
				}
				return t.Sub(mv.PauseStart).Round(time.Millisecond).String()
			}
			r.Text("gap from "+n+" in the migration", fmt.Sprintf("last answer before the gap %s, first after %s, migration complete %s (from the migration's start)",
				at(rs[s.GapFrom].Recv), at(rs[s.GapTo].Recv), at(mv.Done)))
		}
		if !o.Recovered.IsZero() && o.Affected {
			st.Event(o.Recovered, "recovery", "traffic from "+n+" recovered")
		}
		r.Expect("probes from "+n+" recovered", recovered(s), "the stream flows again after the move",
			s.String(), fmt.Sprintf("traffic from %s never found %s on %s", n, m.g.Name, m.target.Name))
		// The lab's own time to move the tap (measured, not guessed) is
		// not the overlay's: the budget is for pause + overlay.
		counted := s.LongestGap - lab
		r.Expect("longest gap from "+n, counted <= m.maxGap, "at most "+m.budget+", the lab's own tap move not counted",
			fmt.Sprintf("%v counted of %v (pause %v + lab %v + overlay %v)", counted.Round(time.Microsecond), s.LongestGap.Round(time.Microsecond), pause.Round(time.Microsecond), lab.Round(time.Microsecond), overlay.Round(time.Microsecond)),
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
// MAC points at the target node, or timeout after the move is over
// (moved closed): a QEMU migration's pre-copy takes seconds under TCG.
func (vmLiveMigration) waitFDB(ctx context.Context, v labView, m migration, moved <-chan struct{}, timeout time.Duration) (fdbResult, error) {
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
	var movedAt time.Time
	for {
		if movedAt.IsZero() {
			select {
			case <-moved:
				movedAt = time.Now()
			default:
			}
		}
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
		if len(res.at) == len(m.vn.Nodes) || !movedAt.IsZero() && time.Since(movedAt) > timeout {
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
func (vmLiveMigration) checkFDB(r *Result, st *Steps, m migration, mv Move, fdb fdbResult, firstRARP time.Time) {
	from := mv.PauseEnd
	if len(mv.Announces) > 0 {
		from = mv.Announces[0]
	}
	if mv.QEMU {
		// QEMU's first RARP as the capture saw it leave the new node,
		// else the migration's end.
		from = firstRARP
		if from.IsZero() {
			from = mv.Done
		}
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

// firstRARPAt is when the capture first saw the guest's RARP leave the
// new node (zero: never).
func firstRARPAt(res *capture.Result, m migration) time.Time {
	var first time.Time
	for _, p := range res.Frames(capture.Outgoing()) {
		if p.Depth == 1 && p.ARP != nil && p.ARP.Op == capture.RARPRequest && strings.EqualFold(p.SrcMAC.String(), m.g.MAC.String()) &&
			p.Parent != nil && p.Parent.SrcIP == m.target.VTEP && (first.IsZero() || p.Time.Before(first)) {
			first = p.Time
		}
	}
	return first
}

// checkRARP: the guest announced itself as QEMU does, every round seen on
// the wire (flooded to the other VTEPs).
func (vmLiveMigration) checkRARP(r *Result, res *capture.Result, m migration, mv Move) {
	want := len(topology.AnnounceSchedule)
	// One remote VTEP's copies count the rounds (head-end replication
	// sends one per VTEP).
	per := map[netip.Addr]int{}
	for _, p := range res.Frames(capture.Outgoing()) {
		if p.Depth == 1 && p.ARP != nil && p.ARP.Op == capture.RARPRequest && strings.EqualFold(p.SrcMAC.String(), m.g.MAC.String()) &&
			p.Parent != nil && p.Parent.SrcIP == m.target.VTEP {
			per[p.Parent.DstIP]++
		}
	}
	seen := 0
	for _, n := range per {
		seen = max(seen, n)
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
func (vmLiveMigration) checkBGP(r *Result, st *Steps, res *capture.Result, m migration, before uint32, known bool) {
	g, home, target := m.g, m.home, m.target
	type seen struct {
		from     netip.Addr
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
				s := seen{from: p.SrcIP, withdraw: rt.Withdraw, seq: -1, line: p.SrcIP.String() + " " + rt.String()}
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
}

// checkGatewayCache: the gateway MAC the guest cached before the move is
// still served on the new node.
func (vmLiveMigration) checkGatewayCache(ctx context.Context, r *Result, v labView, m migration, gwBefore string) {
	g := m.g
	if gwBefore == "" {
		return
	}
	after, ok, _ := v.guestNeighFor(ctx, g, g.GW4)
	state := "flushed (the simulated NIC lost carrier during the move)"
	if g.VM {
		state = "none (the VM's kernel dropped it)"
	}
	if ok {
		state = after.String()
	}
	r.Text("gateway ARP entry after the move", fmt.Sprintf("before: %s; after: %s", gwBefore, state))
	// The guest keeps its cache as a QEMU guest does: the entry it has
	// must be the one it had.
	if ok {
		r.Expect("gateway MAC in the guest's ARP cache unchanged", strings.EqualFold(after.MAC, gwBefore),
			"the guest still has "+gwBefore+" for "+g.GW4.String(), "it has "+after.MAC,
			"the guest learned another gateway MAC after the move: the new node answered with a MAC of its own (no common anycast MAC?)")
	}
	gp, perr := v.guestPing(ctx, g, g.GW4, probe.PingOpts{Count: 3, Interval: 50 * time.Millisecond, Timeout: time.Second})
	if perr == nil {
		r.Expect("gateway "+g.GW4.String()+" answers right after the move", gp.Received == gp.Transmitted, "every ping answered", gp.String(),
			"the guest's cached gateway MAC is not served by the new node (no common anycast MAC)")
	}
	if ns, err := v.VNetNS(m.target.Name, m.vn.VNet.ID); err == nil {
		if mac, err := probe.LinkMAC(ns, m.vn.VNet.Bridge); err == nil {
			r.Expect("gateway MAC in the guest's ARP cache still valid on "+m.target.Name, strings.EqualFold(mac.String(), gwBefore),
				fmt.Sprintf("the guest's cached %s is %s's gateway MAC", gwBefore, m.target.Name),
				fmt.Sprintf("%s's gateway %s has MAC %s", m.target.Name, g.GW4, mac),
				"the gateway MAC differs between nodes (no anycast MAC on the zone): a guest keeping its ARP cache across the move sends to a MAC the new node does not own")
		}
	}
}

// checkStale: every neighbour entry for the guest's IP anywhere has its
// MAC, and the old node has no local FDB entry left.
func (vmLiveMigration) checkStale(ctx context.Context, r *Result, v labView, m migration) error {
	g := m.g
	var stale []string
	check := func(where string, neigh func() ([]probe.NeighEntry, error)) {
		es, err := neigh()
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
			check(n.Name, func() ([]probe.NeighEntry, error) { return probe.Neigh(ns) })
		}
	}
	for _, o := range v.allGuests() {
		if o.Name != g.Name {
			check(o.Name, func() ([]probe.NeighEntry, error) { return v.guestNeigh(ctx, o) })
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
