package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/topology"
)

// Steps is the step library: the named building blocks both a YAML
// scenario file (yamlrun.go) and a Go scenario are made of: start and stop
// probe streams, migrate, kill, wait for a condition, capture, and the
// events of a timeline. A step is written once, here; a file step and a Go
// scenario that do the same thing call the same method.
type Steps struct {
	env *Env
	v   labView
	r   *Result

	streams  map[string]*runningStream
	captures map[string]*capture.Session
	watches  []*probe.RouteWatch
	done     []doneStream // stopped streams, for the timeline
	events   []stepEvent
}

type runningStream struct {
	s     *probe.Stream
	label string
	quiet bool // left off the timeline
}

type doneStream struct {
	label string
	recs  []probe.Record
}

type stepEvent struct {
	at          time.Time
	kind, label string
}

// NewSteps starts a step run whose checks, figures and evidence go to r.
func NewSteps(env *Env, r *Result) *Steps {
	return &Steps{env: env, v: labView{env.Lab}, r: r, streams: map[string]*runningStream{}, captures: map[string]*capture.Session{}}
}

// Close stops every stream and capture still running (a scenario that
// ended early leaves nothing behind).
func (s *Steps) Close() {
	for name, st := range s.streams {
		st.s.Stop(0)
		delete(s.streams, name)
	}
	for name, c := range s.captures {
		_, _ = c.Stop()
		delete(s.captures, name)
	}
	for _, w := range s.watches {
		w.Close()
	}
	s.watches = nil
}

// WatchRoutes is the step behind "wait for a route to go": it records a
// namespace's routing table at each kernel announcement until Close.
func (s *Steps) WatchRoutes(ns string, family int) (*probe.RouteWatch, error) {
	w, err := probe.WatchRoutes(ns, family)
	if err != nil {
		return nil, err
	}
	s.watches = append(s.watches, w)
	return w, nil
}

// Event marks a moment on the timeline (kind: pause, carrier, announce,
// bgp, fdb, bfd, route, recovery, failure, detection).
func (s *Steps) Event(at time.Time, kind, label string) {
	if at.IsZero() {
		return
	}
	s.events = append(s.events, stepEvent{at, kind, label})
}

// StreamSpec is a sequence-numbered UDP stream between two namespaces.
type StreamSpec struct {
	Label    string // "vm12 -> vm11", shown on the timeline
	From, To string // namespaces
	Dst      netip.Addr
	Port     int
	Interval time.Duration
	// Echo: ICMP echo requests from From that the far end's kernel answers
	// (probe.StartEchoStream), for a far end we cannot run a probe in (a
	// VM guest); To and Port are then unused.
	Echo bool
}

// StartStream is the step "udp-stream": it starts a named stream.
func (s *Steps) StartStream(name string, sp StreamSpec) error {
	if _, dup := s.streams[name]; dup {
		return fmt.Errorf("a stream named %s is already running", name)
	}
	var st *probe.Stream
	var err error
	if sp.Echo {
		st, err = probe.StartEchoStream(sp.From, sp.Dst, sp.Interval)
	} else {
		st, err = probe.StartStream(sp.From, sp.To, sp.Dst, sp.Port, sp.Interval)
	}
	if err != nil {
		return err
	}
	if sp.Label == "" {
		sp.Label = name
	}
	s.streams[name] = &runningStream{s: st, label: sp.Label}
	return nil
}

// Stream returns a running stream.
func (s *Steps) Stream(name string) (*probe.Stream, bool) {
	st, ok := s.streams[name]
	if !ok {
		return nil, false
	}
	return st.s, true
}

// StopStream is the step "stop-stream": it stops a named stream after
// drain and returns its statistics and per-datagram record; the record
// joins the timeline.
func (s *Steps) StopStream(name string, drain time.Duration) (probe.StreamStats, []probe.Record, error) {
	st, ok := s.streams[name]
	if !ok {
		return probe.StreamStats{}, nil, fmt.Errorf("no stream named %s was started", name)
	}
	delete(s.streams, name)
	stats := st.s.Stop(drain)
	recs := st.s.Records()
	if !st.quiet {
		s.done = append(s.done, doneStream{st.label, recs})
	}
	return stats, recs, nil
}

// StopStreams stops several streams at once: they stop sending together
// and share one drain, so their records end at the same moment.
func (s *Steps) StopStreams(names []string, drain time.Duration) (map[string]probe.StreamStats, map[string][]probe.Record, error) {
	for _, n := range names {
		st, ok := s.streams[n]
		if !ok {
			return nil, nil, fmt.Errorf("no stream named %s was started", n)
		}
		st.s.Halt()
	}
	time.Sleep(drain)
	stats, recs := map[string]probe.StreamStats{}, map[string][]probe.Record{}
	for _, n := range names {
		var err error
		if stats[n], recs[n], err = s.StopStream(n, 0); err != nil {
			return nil, nil, err
		}
	}
	return stats, recs, nil
}

// Label names a running stream on the timeline; quiet leaves it off (a
// scenario with many alike streams draws the telling ones).
func (s *Steps) Label(name, label string, quiet bool) {
	if st, ok := s.streams[name]; ok {
		st.label, st.quiet = label, quiet
	}
}

// Migrate is the step "migrate": the guest is frozen for pause, moves and
// announces itself; the moments of the move join the timeline.
func (s *Steps) Migrate(ctx context.Context, guest, to string, pause time.Duration) (Move, error) {
	return s.MigrateWith(ctx, guest, to, topology.MigrateOpts{Pause: pause})
}

// MigrateWither is a Lab whose migrations take every knob of
// topology.MigrateOpts (a broken move the suite must catch).
type MigrateWither interface {
	MigrateWith(ctx context.Context, guest, node string, o topology.MigrateOpts) (Move, error)
}

// MigrateWith is Migrate with topology's knobs; a lab that has none of them
// takes only a plain move.
func (s *Steps) MigrateWith(ctx context.Context, guest, to string, o topology.MigrateOpts) (Move, error) {
	var mv Move
	var err error
	if w, ok := s.env.Lab.(MigrateWither); ok {
		mv, err = w.MigrateWith(ctx, guest, to, o)
	} else if o != (topology.MigrateOpts{Pause: o.Pause}) {
		return mv, fmt.Errorf("migrate %s to %s: lab %s takes no migration knobs (freeze, announce rounds)", guest, to, s.env.Lab.Name())
	} else {
		mv, err = s.env.Lab.Migrate(ctx, guest, to, o.Pause)
	}
	if mv.QEMU {
		// QEMU pauses and announces by itself: its moments are not ours
		// to mark (the RARP rounds are on the wire).
		s.Event(mv.PauseStart, "pause", fmt.Sprintf("QEMU migrates %s to %s (pre-copy, then its own pause)", guest, to))
		s.Event(mv.Done, "pause", fmt.Sprintf("QEMU migration complete (downtime %v)", mv.VM.Downtime))
		if err != nil {
			return mv, fmt.Errorf("migrate %s to %s: %w", guest, to, err)
		}
		return mv, nil
	}
	s.Event(mv.PauseStart, "pause", fmt.Sprintf("%s paused (%d processes frozen), tap leaves", guest, len(mv.Frozen)))
	s.Event(mv.PauseEnd, "pause", guest+" resumes, tap joins "+to)
	s.Event(mv.CarrierUp, "carrier", "carrier up on "+to)
	for i, at := range mv.Announces {
		s.Event(at, "announce", fmt.Sprintf("RARP %d", i+1))
	}
	if err != nil {
		return mv, fmt.Errorf("migrate %s to %s: %w", guest, to, err)
	}
	return mv, nil
}

// Kill modes: crash is a power loss (links drop traffic first, then the
// control plane dies: no FIN or RST reaches a peer); kill is the agent
// process dying (its sockets close, peers see FIN/RST) while the node's
// kernel keeps forwarding.
const (
	KillCrash = "crash"
	KillAgent = "kill"
)

// Kill is the step "kill-node" (mode crash) and "kill-agent" (mode kill).
// It returns when the failure began.
func (s *Steps) Kill(ctx context.Context, node, mode string) (time.Time, error) {
	at := time.Now()
	var err error
	switch mode {
	case KillCrash:
		err = s.env.Lab.KillNode(ctx, node)
		s.Event(at, "failure", node+" crashes (links down, then agent SIGKILL)")
	case KillAgent:
		err = s.env.Lab.KillAgent(ctx, node)
		s.Event(at, "failure", node+"'s agent killed (SIGKILL, sockets close)")
	default:
		return at, fmt.Errorf("kill mode %q: want %s or %s", mode, KillCrash, KillAgent)
	}
	return at, err
}

// WaitFor is the step behind every "within": it checks cond every period
// until it holds or within has passed. It returns how long that took and
// whether cond held; an error from cond ends the wait.
func (s *Steps) WaitFor(ctx context.Context, within, period time.Duration, cond func() (bool, error)) (time.Duration, bool, error) {
	start := time.Now()
	for {
		ok, err := cond()
		if err != nil || ok {
			return time.Since(start), ok, err
		}
		if time.Since(start) >= within {
			return time.Since(start), false, nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false, ctx.Err()
		case <-time.After(period):
		}
	}
}

// StartCapture is the step "capture": it starts a named capture; its files
// go to PcapDir/<scenario>/<name>.
func (s *Steps) StartCapture(ctx context.Context, name string, pts []capture.Point) error {
	return s.StartCaptureOpts(ctx, name, pts, capture.Options{})
}

// StartCaptureOpts is StartCapture with capture options (limits); the
// files' directory is set here.
func (s *Steps) StartCaptureOpts(ctx context.Context, name string, pts []capture.Point, opts capture.Options) error {
	if _, dup := s.captures[name]; dup {
		return fmt.Errorf("a capture named %s is already running", name)
	}
	if s.env.PcapDir != "" {
		opts.Dir = filepath.Join(s.env.PcapDir, s.r.Scenario, name)
	}
	sess, err := capture.Start(ctx, pts, opts)
	if err != nil {
		return fmt.Errorf("capture %s: %w", name, err)
	}
	s.captures[name] = sess
	return nil
}

// StopCapture is the first half of "expect-capture": it stops a named
// capture and attaches its pcap. A capture that lost frames cannot prove
// what it did not see: the caller decides, Lost says how many.
func (s *Steps) StopCapture(name string) (*capture.Result, error) {
	sess, ok := s.captures[name]
	if !ok {
		return nil, fmt.Errorf("no capture named %s was started", name)
	}
	delete(s.captures, name)
	res, err := sess.Stop()
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	if res.Merged != "" {
		s.r.Pcap(name, res.Merged)
	}
	return res, nil
}

// Timeline turns the stopped streams and the events into the result's
// timeline (drawn in the HTML report), offsets from the earliest moment.
func (s *Steps) Timeline(title string) {
	var start time.Time
	early := func(t time.Time) {
		if !t.IsZero() && (start.IsZero() || t.Before(start)) {
			start = t
		}
	}
	for _, d := range s.done {
		if len(d.recs) > 0 {
			early(d.recs[0].Sent)
		}
	}
	for _, e := range s.events {
		early(e.at)
	}
	if start.IsZero() {
		return
	}
	tl := reports.Timeline{Title: title, Start: start}
	for _, d := range s.done {
		se := reports.Series{Name: d.label, Probes: make([]reports.Probe, 0, len(d.recs))}
		for _, rc := range d.recs {
			p := reports.Probe{Seq: int(rc.Seq), SentAt: rc.Sent.Sub(start), Lost: rc.Lost}
			if !rc.Lost {
				p.RecvAt = rc.Recv.Sub(start)
			}
			se.Probes = append(se.Probes, p)
		}
		tl.Series = append(tl.Series, se)
	}
	evs := append([]stepEvent(nil), s.events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	for _, e := range evs {
		tl.Events = append(tl.Events, reports.Event{At: e.at.Sub(start), Kind: e.kind, Label: e.label})
	}
	s.r.Timelines = append(s.r.Timelines, tl)
}
