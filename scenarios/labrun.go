package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/topology/impair"

	"github.com/sdnlab/sdnlab/topology"
)

// LabRun brings a lab up (if it is not), waits for the overlay, runs
// scenarios on it and, when it brought the lab up itself and Keep is not
// set, tears it down again. `sdnlab test`, `sdnlab demo` and the ginkgo
// suite all go through it.
type LabRun struct {
	LabFile string
	// Compile is the SDN compiler (sdn.Compile), passed in so that the
	// scenarios depend on the plan, not on the compiler.
	Compile topology.Compiler
	// Topo are the topology options (state directory, agent binary,
	// progress); StartAgents is always set.
	Topo    topology.Options
	PcapDir string
	Out     io.Writer // progress; nil discards
	Keep    bool      // leave a lab this run brought up running
	// ReadyTimeout bounds the wait for the overlay (default 20s).
	ReadyTimeout time.Duration
	// ScenarioTimeout bounds each scenario (default 2m).
	ScenarioTimeout time.Duration
	// Engine, when set (agent or frr), runs every node on that engine
	// instead of what the lab file says.
	Engine string
	// FRR, when set (8 or 10), is the FRR release every FRR node runs
	// instead of the lab file's frr:.
	FRR string
	// Strict turns warn findings into failures (--strict).
	Strict bool
	// Impair is put on the lab once the overlay is ready and removed
	// before it is torn down: every scenario runs under it, and each
	// result carries it as a figure.
	Impair []Impairment
}

// Impairment is an impairment of one target (a segment, THING or
// THING:IFACE) for a whole run.
type Impairment struct {
	Target string
	Spec   impair.Spec
}

func (im Impairment) String() string { return im.Target + ": " + im.Spec.String() }

// ParseImpairment reads TARGET:SPEC, SPEC being impair.ParseList's
// "loss=2%,delay=5ms": the target is what comes before the last ':' ahead
// of the first '=' (so node1:eth0:loss=2% names an interface).
func ParseImpairment(v string) (Impairment, error) {
	eq := strings.IndexByte(v, '=')
	if eq < 0 {
		return Impairment{}, fmt.Errorf("impairment %q: want TARGET:loss=2%%,delay=5ms", v)
	}
	colon := strings.LastIndexByte(v[:eq], ':')
	if colon <= 0 {
		return Impairment{}, fmt.Errorf("impairment %q: want TARGET:loss=2%%,delay=5ms (a segment, THING or THING:IFACE first)", v)
	}
	spec, err := impair.ParseList(v[colon+1:])
	if err != nil {
		return Impairment{}, fmt.Errorf("impairment %q: %w", v, err)
	}
	if spec.Zero() {
		return Impairment{}, fmt.Errorf("impairment %q: impairs nothing", v)
	}
	return Impairment{Target: v[:colon], Spec: spec}, nil
}

// Outcome is what a LabRun did.
type Outcome struct {
	Lab       *topology.Lab
	Results   []*Result
	Started   time.Time
	UpTime    time.Duration // time to bring the lab up
	Ready     time.Duration // time until the overlay carried traffic
	ReadyErr  error
	BroughtUp bool // the lab was not running before
	// Topology is the lab's picture once it was ready (nil if it never was).
	Topology *reports.Topology
	// Scenarios is the time spent running scenarios only (not bring-up,
	// not the overlay wait).
	Scenarios time.Duration
	// Props are more facts for the report (the shard of a sharded run).
	Props map[string]string
}

// ScenarioTime is the time spent in scenarios: Scenarios, or the sum of
// the results' durations when that is larger (an Outcome whose Results
// were merged from several runs, as sdnlab demo does).
func (o *Outcome) ScenarioTime() time.Duration {
	var sum time.Duration
	for _, r := range o.Results {
		sum += r.Duration
	}
	return max(o.Scenarios, sum)
}

// Interrupted tells whether the run was cut short by cancellation.
func (o *Outcome) Interrupted() bool {
	return errors.Is(o.ReadyErr, ErrInterrupted) || Interrupted(o.Results)
}

func (o *Outcome) Properties() map[string]string {
	p := map[string]string{
		"lab up":        o.UpTime.Round(time.Millisecond).String(),
		"overlay ready": o.Ready.Round(time.Millisecond).String(),
	}
	if o.ReadyErr != nil {
		p["overlay ready"] = o.ReadyErr.Error()
	}
	if o.Lab != nil {
		p["lab file"] = o.Lab.File
	}
	p["scenarios"] = o.ScenarioTime().Round(time.Millisecond).String()
	if o.Interrupted() {
		p["interrupted"] = "true"
	}
	for k, v := range o.Props {
		p[k] = v
	}
	return p
}

func (lr *LabRun) printf(format string, a ...any) {
	if lr.Out != nil {
		fmt.Fprintf(lr.Out, format, a...)
	}
}

// Session is a lab brought up by LabRun.Start, ready for scenarios.
type Session struct {
	Lab     *TopoLab
	Outcome *Outcome
	lr      *LabRun
	down    func()
}

// Start loads the lab file (bad input comes back as a BadInput error),
// brings the lab up and waits for the overlay. Close the session.
func (lr *LabRun) Start(ctx context.Context) (*Session, error) {
	lab, err := topology.Load(lr.LabFile, lr.Compile)
	if err != nil {
		return nil, err
	}
	return lr.start(ctx, lab)
}

// start brings up lab, loaded from lr.LabFile.
func (lr *LabRun) start(ctx context.Context, lab *topology.Lab) (*Session, error) {
	o := &Outcome{Started: time.Now()}
	if err := lab.SetEngine(lr.Engine); err != nil {
		return nil, err
	}
	if err := lab.SetFRR(lr.FRR); err != nil {
		return nil, err
	}
	running, err := topology.Labs(lr.Topo)
	if err != nil {
		return nil, err
	}
	o.BroughtUp = !slices.Contains(running, lab.Name)
	opts := lr.Topo
	opts.StartAgents = true
	lr.printf("lab %s: bringing up (%s)\n", lab.Name, lr.LabFile)
	t0 := time.Now()
	up, err := topology.Up(ctx, lab, opts)
	if up != nil {
		lab = up
	}
	o.Lab = lab
	o.UpTime = time.Since(t0)
	s := &Session{Outcome: o, lr: lr, down: func() {}}
	if o.BroughtUp && !lr.Keep {
		name := lab.Name
		s.down = func() {
			lr.printf("lab %s: tearing down\n", name)
			if err := topology.Down(context.WithoutCancel(ctx), name, lr.Topo); err != nil {
				lr.printf("lab %s: down: %v\n", name, err)
			}
		}
	}
	if err != nil {
		s.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lab %s: up %w: %v", lab.Name, ErrInterrupted, err)
		}
		return nil, fmt.Errorf("lab %s: up: %w", lab.Name, err)
	}
	lr.printf("lab %s: up in %v\n", lab.Name, o.UpTime.Round(time.Millisecond))
	s.Lab = NewTopoLab(lab, lr.Topo.LabDir(lab.Name))
	rt := lr.ReadyTimeout
	if rt == 0 {
		rt = 20 * time.Second
		if lab.FabricConverged > 0 {
			// FRR nodes start bgpd with their fabric daemons: their
			// sessions between loopbacks wait for bgpd's next connect
			// attempt after the fabric routes them.
			rt = 60 * time.Second
		}
	}
	o.Ready, o.ReadyErr = WaitReady(ctx, s.Lab, rt)
	if o.ReadyErr != nil {
		lr.printf("lab %s: %v\n", lab.Name, o.ReadyErr)
	} else {
		lr.printf("lab %s: overlay ready in %v\n", lab.Name, o.Ready.Round(time.Millisecond))
	}
	if err := s.impair(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// The picture is taken now: impairments and the engines as they run.
	o.Topology = topology.LiveGraph(lab, lr.Topo.StateDir)
	return s, nil
}

// impair puts the run's impairments on the lab; Close removes them.
func (s *Session) impair(ctx context.Context) error {
	if len(s.lr.Impair) == 0 {
		return nil
	}
	lab := s.Outcome.Lab
	var refs []topology.IfaceRef
	for _, im := range s.lr.Impair {
		r, err := lab.ResolveIfaces(im.Target)
		if err != nil {
			return &ParamError{Msg: fmt.Sprintf("--impair %s: %v", im.Target, err)}
		}
		done, err := topology.Impair(ctx, lab, s.lr.Topo, r, im.Spec)
		for _, d := range done {
			s.lr.printf("lab %s: impaired %s\n", lab.Name, d)
		}
		if err != nil {
			_, _ = topology.ClearImpairments(lab, s.lr.Topo, append(refs, r...))
			return fmt.Errorf("lab %s: impair: %w", lab.Name, err)
		}
		refs = append(refs, r...)
	}
	down := s.down
	s.down = func() {
		if _, err := topology.ClearImpairments(lab, s.lr.Topo, refs); err != nil {
			s.lr.printf("lab %s: clear impairments: %v\n", lab.Name, err)
		}
		down()
	}
	return nil
}

// Run runs scenarios on the session's lab; results accumulate in Outcome.
func (s *Session) Run(ctx context.Context, sel []Selected) []*Result {
	rn := &Runner{Lab: s.Lab, PcapDir: s.lr.PcapDir, Out: s.lr.Out, Timeout: s.lr.ScenarioTimeout, Strict: s.lr.Strict}
	t0 := time.Now()
	res := rn.Run(ctx, sel)
	if len(s.lr.Impair) > 0 {
		var parts []string
		for _, im := range s.lr.Impair {
			parts = append(parts, im.String())
		}
		for _, r := range res {
			r.Figures = append(r.Figures, Figure{Name: "impairment", Text: strings.Join(parts, "; ")})
		}
	}
	s.Outcome.Scenarios += time.Since(t0)
	s.Outcome.Results = append(s.Outcome.Results, res...)
	return res
}

// Close tears the lab down when this session brought it up (and Keep is
// not set).
func (s *Session) Close() {
	if s.down != nil {
		s.down()
		s.down = nil
	}
}

// Run brings the lab up, runs sel and tears the lab down again (unless it
// was running before, or Keep).
func (lr *LabRun) Run(ctx context.Context, sel []Selected) (*Outcome, error) {
	lab, err := topology.Load(lr.LabFile, lr.Compile)
	if err != nil {
		return nil, err
	}
	if err := CheckNames(lab, sel); err != nil {
		return nil, err
	}
	s, err := lr.start(ctx, lab)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	s.Run(ctx, sel)
	return s.Outcome, nil
}

// ParamError is a scenario parameter the lab cannot satisfy (an unknown
// node or guest name): bad input, found before the lab is brought up.
type ParamError struct{ Msg string }

func (e *ParamError) Error() string { return e.Msg }

// BadInput marks the error as bad input (exit code 2 in the CLI).
func (e *ParamError) BadInput() bool { return true }

// CheckNames checks the node, guest and host names given as parameters
// against the lab, so a typo fails before bring-up instead of after it.
func CheckNames(lab *topology.Lab, sel []Selected) error {
	for _, s := range sel {
		for _, p := range s.Scenario.Params() {
			v := s.Params[p.Name]
			if v == "" {
				continue
			}
			var ok bool
			var what string
			switch p.Kind {
			case KindNode:
				ok, what = lab.Node(v) != nil, "node"
			case KindGuest:
				ok, what = lab.Guest(v) != nil, "guest"
			case KindHost:
				ok, what = lab.Router(v) != nil || lab.Host(v) != nil || (v == "external" && len(lab.Hosts) > 0), "router or external host"
			default:
				continue
			}
			if !ok {
				return &ParamError{fmt.Sprintf("scenario %s: parameter %s: lab %s (%s) has no %s %q", s.Scenario.Name(), p.Name, lab.Name, lab.File, what, v)}
			}
		}
	}
	return nil
}
