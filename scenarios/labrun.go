package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

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
	// Scenarios is the time spent running scenarios only (not bring-up,
	// not the overlay wait).
	Scenarios time.Duration
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
	o := &Outcome{Started: time.Now()}
	lab, err := topology.Load(lr.LabFile, lr.Compile)
	if err != nil {
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
	}
	o.Ready, o.ReadyErr = WaitReady(ctx, s.Lab, rt)
	if o.ReadyErr != nil {
		lr.printf("lab %s: %v\n", lab.Name, o.ReadyErr)
	} else {
		lr.printf("lab %s: overlay ready in %v\n", lab.Name, o.Ready.Round(time.Millisecond))
	}
	return s, nil
}

// Run runs scenarios on the session's lab; results accumulate in Outcome.
func (s *Session) Run(ctx context.Context, sel []Selected) []*Result {
	rn := &Runner{Lab: s.Lab, PcapDir: s.lr.PcapDir, Out: s.lr.Out, Timeout: s.lr.ScenarioTimeout}
	t0 := time.Now()
	res := rn.Run(ctx, sel)
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
	s, err := lr.Start(ctx)
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
