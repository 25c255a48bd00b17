package scenarios

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/reports"
)

// Selected is one scenario to run with its given parameters.
type Selected struct {
	Scenario Scenario
	Params   map[string]string
}

// Select resolves --scenario arguments: a built-in name or the path of a
// scenario file (ends in .yaml or .yml), either optionally followed by
// parameters as :key=value,key=value. No argument selects every built-in
// scenario.
func Select(args []string) ([]Selected, error) {
	if len(args) == 0 {
		var out []Selected
		for _, s := range All() {
			out = append(out, Selected{Scenario: s})
		}
		return out, nil
	}
	var out []Selected
	for _, a := range args {
		name, rest := a, ""
		for _, ext := range []string{".yaml:", ".yml:"} {
			if i := strings.Index(a, ext); i >= 0 {
				name, rest = a[:i+len(ext)-1], a[i+len(ext):]
			}
		}
		if name == a {
			name, rest, _ = strings.Cut(a, ":")
		}
		var s Scenario
		if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
			f, err := LoadFile(name)
			if err != nil {
				return nil, err
			}
			s = f
		} else {
			var err error
			if s, err = Lookup(name); err != nil {
				return nil, err
			}
		}
		params := map[string]string{}
		if rest != "" {
			for _, kv := range strings.Split(rest, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("--scenario %s: %q is not key=value", a, kv)
				}
				params[k] = v
			}
		}
		if _, err := applyDefaults(s, params); err != nil {
			return nil, err
		}
		out = append(out, Selected{Scenario: s, Params: params})
	}
	return out, nil
}

// Runner runs scenarios one after another on one lab.
type Runner struct {
	Lab     Lab
	PcapDir string
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// Timeout bounds one scenario (0: 2 minutes).
	Timeout time.Duration
	// Strict turns warn findings into failures (--strict).
	Strict bool
}

// Run runs the selected scenarios in order and returns their results.
// Once ctx is cancelled (Ctrl-C) nothing more is started: the scenario
// that was running and the remaining ones end as errors with the reason
// "interrupted", so no verdict comes from a half-run scenario.
func (rn *Runner) Run(ctx context.Context, sel []Selected) []*Result {
	var results []*Result
	for i, s := range sel {
		name := s.Scenario.Name()
		if ctx.Err() != nil {
			// An error, not a skip: CI reading JUnit or JSON must not take
			// an interrupted run for a green one.
			res := NewResult(name).Errorf("%s before it ran", ReasonInterrupted)
			res.Interrupted = true
			rn.printf("[%d/%d] %s: ERROR (%s)\n", i+1, len(sel), name, res.Reason)
			results = append(results, res.Finish())
			continue
		}
		rn.printf("[%d/%d] %s: %s\n", i+1, len(sel), name, s.Scenario.Description())
		res := rn.runOne(ctx, s)
		if rn.Strict {
			res.MakeStrict()
		}
		if rn.Lab != nil {
			res.Lab = rn.Lab.Name()
		}
		line := fmt.Sprintf("[%d/%d] %s: %s (%v)", i+1, len(sel), name, strings.ToUpper(string(res.Verdict)), res.Duration.Round(time.Millisecond))
		if len(res.Figures) > 0 && !res.Interrupted {
			var fs []string
			for _, f := range res.Figures {
				fs = append(fs, f.String())
			}
			line += " " + strings.Join(fs, ", ")
		}
		rn.printf("%s\n", line)
		if res.Verdict != reports.Pass {
			for _, l := range strings.Split(strings.TrimRight(res.Explain(), "\n"), "\n") {
				rn.printf("      %s\n", l)
			}
		}
		results = append(results, res)
	}
	return results
}

// ReasonInterrupted is the reason of a result cut short by Ctrl-C.
const ReasonInterrupted = "interrupted"

// Interrupted tells whether a run was cut short (some result interrupted).
func Interrupted(results []*Result) bool {
	for _, r := range results {
		if r.Interrupted {
			return true
		}
	}
	return false
}

func (rn *Runner) runOne(ctx context.Context, s Selected) (res *Result) {
	name := s.Scenario.Name()
	defer func() {
		// A scenario bug must not take the whole run down.
		if p := recover(); p != nil {
			res = NewResult(name).Errorf("scenario panicked: %v", p)
			res.Finish()
		}
	}()
	params, err := applyDefaults(s.Scenario, s.Params)
	if err != nil {
		return NewResult(name).Errorf("%v", err).Finish()
	}
	to := rn.Timeout
	if to == 0 {
		to = 2 * time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	env := &Env{Lab: rn.Lab, Params: params, PcapDir: rn.PcapDir, Progress: func(m string) { rn.printf("      %s\n", m) }}
	res = s.Scenario.Run(cctx, env)
	if res == nil {
		res = NewResult(name).Errorf("scenario returned no result")
	}
	if res.Duration == 0 {
		res.Duration = time.Since(res.Started)
	}
	if ctx.Err() != nil {
		// Cancelled from outside: whatever failed may have failed because
		// of the cancellation, so no verdict (and no "likely cause").
		res.Verdict = reports.Error
		res.Reason = ReasonInterrupted
		res.Interrupted = true
		return res
	}
	if cctx.Err() != nil && (res.Verdict == reports.Pass || res.Verdict == reports.Warn) {
		res.Verdict = reports.Error
		res.Reason = "timed out after " + to.String()
	}
	return res
}

func (rn *Runner) printf(format string, a ...any) {
	if rn.Out != nil {
		fmt.Fprintf(rn.Out, format, a...)
	}
}

// Summary renders a plain-text table of results; a skipped scenario's row
// says why it skipped.
func Summary(results []*Result) string {
	var b strings.Builder
	w := 8
	for _, r := range results {
		w = max(w, len(r.Scenario))
	}
	fmt.Fprintf(&b, "%-*s  %-7s  %9s  %s\n", w, "SCENARIO", "VERDICT", "TIME", "FIGURES")
	n := map[reports.Verdict]int{}
	for _, r := range results {
		n[r.Verdict]++
		var fs []string
		for _, f := range r.Figures {
			fs = append(fs, f.String())
		}
		figs := strings.Join(fs, ", ")
		if r.Verdict != reports.Pass && r.Reason != "" {
			figs = r.Reason
		} else if r.Verdict == reports.Fail || r.Verdict == reports.Warn {
			if f := r.Failed(); len(f) > 0 {
				figs = f[0].Name + ": expected " + f[0].Expected + ", observed " + f[0].Observed
			}
		}
		fmt.Fprintf(&b, "%-*s  %-7s  %9s  %s\n", w, r.Scenario, r.Verdict, r.Duration.Round(time.Millisecond), figs)
	}
	fmt.Fprintf(&b, "%d of %d passed", n[reports.Pass], len(results))
	if n[reports.Warn] > 0 {
		fmt.Fprintf(&b, ", %d with warnings", n[reports.Warn])
	}
	b.WriteString("\n")
	if NothingRan(results) {
		b.WriteString(NoCheckRan + "\n")
	}
	return b.String()
}

// NoCheckRan is what a run says when every scenario skipped.
const NoCheckRan = "no check ran: every scenario skipped"

// NothingRan tells whether no scenario made a check (all skipped, or none
// selected): such a run is not a pass.
func NothingRan(results []*Result) bool {
	for _, r := range results {
		if r.Verdict != reports.Skip {
			return false
		}
	}
	return true
}

// AnyFailed tells whether a result failed or errored (skips and warnings
// are fine; --strict has made warnings failures already).
func AnyFailed(results []*Result) bool {
	for _, r := range results {
		if r.Verdict == reports.Fail || r.Verdict == reports.Error {
			return true
		}
	}
	return false
}
