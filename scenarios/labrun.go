package scenarios

import (
	"context"
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
	lab, err := topology.Load(lr.LabFile)
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
	res := rn.Run(ctx, sel)
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
	s, err := lr.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	s.Run(ctx, sel)
	return s.Outcome, nil
}
