// Package scenarios drives conformance scenarios against a running sdnlab
// lab: each scenario provokes something (traffic, a migration, a crash),
// observes it (probe replies, kernel tables, packets on the wire) and ends
// with a verdict, its measured figures and the evidence it collected.
//
// Scenarios are Go code registered explicitly in All(); a YAML scenario file
// (see yamlfile.go) composes the same building blocks as steps.
package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/reports"
)

// Param is a parameter a scenario accepts, with its default.
type Param struct {
	Name    string
	Default string
	Help    string
	// Kind is the value's type, checked when the scenario is selected
	// (before any lab is brought up); "" accepts any string.
	Kind ParamKind
	// Choices, when set, are the only accepted values.
	Choices []string
}

// ParamKind is the type of a parameter value.
type ParamKind string

const (
	KindString   ParamKind = ""
	KindDuration ParamKind = "duration" // time.ParseDuration, not negative
	KindBool     ParamKind = "bool"     // true or false
	KindInt      ParamKind = "int"
	KindIPv4     ParamKind = "ipv4"
	// Names of lab objects: checked against the lab file before bring-up
	// (CheckNames); "" means "pick one".
	KindNode  ParamKind = "node"
	KindGuest ParamKind = "guest"
	KindHost  ParamKind = "host" // a router or "external"
)

// check validates a value of the parameter's kind (lab names excepted:
// they need the lab, see CheckNames).
func (p Param) check(v string) error {
	if len(p.Choices) > 0 && !slices.Contains(p.Choices, v) {
		return fmt.Errorf("parameter %s: %q is not one of %s", p.Name, v, quoteAll(p.Choices))
	}
	switch p.Kind {
	case KindDuration:
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return fmt.Errorf("parameter %s: %q is not a duration (like 50ms)", p.Name, v)
		}
	case KindBool:
		if v != "true" && v != "false" {
			return fmt.Errorf("parameter %s: %q is not true or false", p.Name, v)
		}
	case KindInt:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("parameter %s: %q is not an integer", p.Name, v)
		}
	case KindIPv4:
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return fmt.Errorf("parameter %s: %q is not an IPv4 address", p.Name, v)
		}
	}
	return nil
}

func quoteAll(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Scenario is one conformance check.
type Scenario interface {
	Name() string
	Description() string
	Params() []Param
	// Run drives the scenario on env.Lab and returns its result; it never
	// returns nil. A scenario that cannot observe what it claims reports
	// Error or Skip, never Pass.
	Run(ctx context.Context, env *Env) *Result
}

// Env is what a scenario runs with.
type Env struct {
	Lab Lab
	// Params are the scenario's parameters, defaults already applied.
	Params map[string]string
	// PcapDir is where captures are written; "" keeps them in memory only.
	PcapDir string
	// Progress receives one-line progress messages; may be nil.
	Progress func(msg string)
}

func (e *Env) progress(format string, a ...any) {
	if e.Progress != nil {
		e.Progress(fmt.Sprintf(format, a...))
	}
}

// Duration reads a duration parameter.
func (e *Env) Duration(name string) (time.Duration, error) {
	v := e.Params[name]
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %q is not a duration (like 50ms)", name, v)
	}
	return d, nil
}

// Int reads an integer parameter.
func (e *Env) Int(name string) (int, error) {
	v := e.Params[name]
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(v) {
		return 0, fmt.Errorf("parameter %s: %q is not an integer", name, v)
	}
	return n, nil
}

// Check is one expectation and what was observed.
type Check struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	// Cause is the likely cause when the check failed.
	Cause string `json:"cause,omitempty"`
	// Warn marks a check whose failure is a finding Proxmox deploys by
	// default: the scenario's verdict is warn, not fail (fail with --strict).
	Warn bool `json:"warn,omitempty"`
	// Unproven says why the check could not be judged (its evidence is
	// missing: a capture that lost frames); the verdict is then error.
	Unproven string `json:"unproven,omitempty"`
}

// Verdict is the check's own verdict.
func (c Check) Verdict() reports.Verdict {
	switch {
	case c.Unproven != "":
		return reports.Error
	case c.OK:
		return reports.Pass
	case c.Warn:
		return reports.Warn
	}
	return reports.Fail
}

// Figure is a measured number.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	// Text is a short finding shown instead of the value when set.
	Text string `json:"text,omitempty"`
}

func (f Figure) String() string {
	if f.Text != "" {
		return f.Name + ": " + f.Text
	}
	v := fmt.Sprintf("%g", f.Value)
	if f.Unit == "" {
		return fmt.Sprintf("%s=%s", f.Name, v)
	}
	return fmt.Sprintf("%s=%s %s", f.Name, v, f.Unit)
}

// Evidence is something collected during the run: a pcap file, a table
// dump, a command's output.
type Evidence struct {
	Kind string `json:"kind"` // pcap, text
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	Text string `json:"text,omitempty"`
}

// Result is what a scenario run produced.
type Result struct {
	Scenario string          `json:"scenario"`
	Verdict  reports.Verdict `json:"verdict"`
	// Lab is the lab the scenario ran on (set by the Runner).
	Lab    string `json:"lab,omitempty"`
	Reason string `json:"reason,omitempty"` // for error and skip
	// Interrupted marks a result cut short by cancellation (Ctrl-C): its
	// checks are kept as evidence but say nothing about the lab.
	Interrupted bool       `json:"interrupted,omitempty"`
	Checks      []Check    `json:"checks"`
	Figures     []Figure   `json:"figures"`
	Evidence    []Evidence `json:"evidence"`
	// Timelines are drawn in the HTML report: probe streams and events.
	Timelines []reports.Timeline `json:"timelines,omitempty"`
	Started   time.Time          `json:"started"`
	Duration  time.Duration      `json:"duration"`
}

// NewResult starts a result for the named scenario.
func NewResult(name string) *Result {
	return &Result{Scenario: name, Started: time.Now()}
}

// Expect records a check.
func (r *Result) Expect(name string, ok bool, expected, observed, cause string) bool {
	c := Check{Name: name, OK: ok, Expected: expected, Observed: observed}
	if !ok {
		c.Cause = cause
	}
	r.Checks = append(r.Checks, c)
	return ok
}

// ExpectWarn records a check whose failure is a warn finding, not a
// failure: something Proxmox deploys by default that the team must read
// (VXLAN injection accepted, inbound loss with static upstream routes).
// cause should say what it means and the remedy. --strict makes it a fail.
func (r *Result) ExpectWarn(name string, ok bool, expected, observed, cause string) bool {
	c := Check{Name: name, OK: ok, Expected: expected, Observed: observed, Warn: true}
	if !ok {
		c.Cause = cause
	}
	r.Checks = append(r.Checks, c)
	return ok
}

// Unproven records a check that could not be judged because its evidence
// is missing: the verdict becomes error, never pass.
func (r *Result) Unproven(name, expected, why string) {
	r.Checks = append(r.Checks, Check{Name: name, Expected: expected, Observed: "not judged: " + why, Unproven: why})
}

// ExpectNone records a "nothing of this kind crossed" check judged on a
// capture: n matching frames were found. When none was found but the
// capture lost frames (kernel drops, over its limits), the missing frames
// may have been the very ones, so the check is unproven (error), not passed.
func (r *Result) ExpectNone(cr *capture.Result, name string, n int, expected, observed, cause string) bool {
	if n == 0 && cr != nil {
		if lost := cr.Lost(); lost != "" {
			r.Unproven(name, expected, "the capture lost frames ("+lost+"): absence cannot be shown")
			return false
		}
	}
	return r.Expect(name, n == 0, expected, observed, cause)
}

// ExpectAbsent records an absence assertion of the capture package (None,
// NoARPRequestFor, NoOuterFragments, BroadcastReplicatedOnce): nil passes,
// a *capture.IncompleteError is unproven, any other error fails with the
// frames it names as the observation.
func (r *Result) ExpectAbsent(name string, err error, expected, cause string) bool {
	var ie *capture.IncompleteError
	if errors.As(err, &ie) {
		r.Unproven(name, expected, "the capture lost frames ("+ie.Lost+"): absence cannot be shown")
		return false
	}
	obs := "none"
	if err != nil {
		obs = err.Error()
	}
	return r.Expect(name, err == nil, expected, obs, cause)
}

// Figure records a measured number.
func (r *Result) Figure(name string, value float64, unit string) {
	r.Figures = append(r.Figures, Figure{Name: name, Value: value, Unit: unit})
}

// Finding records a short textual finding among the figures.
func (r *Result) Finding(name, text string) {
	r.Figures = append(r.Figures, Figure{Name: name, Text: text})
}

// Ms records a duration figure in milliseconds.
func (r *Result) Ms(name string, d time.Duration) {
	r.Figure(name, float64(d.Microseconds())/1000, "ms")
}

// Text attaches a piece of textual evidence.
func (r *Result) Text(name, text string) {
	r.Evidence = append(r.Evidence, Evidence{Kind: "text", Name: name, Text: text})
}

// Pcap attaches a capture file.
func (r *Result) Pcap(name, path string) {
	r.Evidence = append(r.Evidence, Evidence{Kind: "pcap", Name: name, Path: path})
}

// Errorf ends the result as an error: the scenario could not observe what it
// claims.
func (r *Result) Errorf(format string, a ...any) *Result {
	r.Verdict = reports.Error
	r.Reason = fmt.Sprintf(format, a...)
	return r
}

// Skipf ends the result as skipped.
func (r *Result) Skipf(format string, a ...any) *Result {
	r.Verdict = reports.Skip
	r.Reason = fmt.Sprintf(format, a...)
	return r
}

// Finish computes the verdict from the checks: a run without a single check
// has observed nothing and is an error, never a pass. A failed check makes
// it fail (the lab is wrong whatever else could not be judged); else an
// unproven check makes it an error; else a warn finding makes it warn.
func (r *Result) Finish() *Result {
	r.Duration = time.Since(r.Started)
	if r.Verdict == reports.Error || r.Verdict == reports.Skip {
		return r
	}
	if len(r.Checks) == 0 {
		r.Verdict = reports.Error
		if r.Reason == "" {
			r.Reason = "no check was made: nothing observed"
		}
		return r
	}
	r.Verdict = verdictOf(r.Checks)
	if r.Verdict == reports.Error && r.Reason == "" {
		for _, c := range r.Checks {
			if c.Unproven != "" {
				r.Reason = fmt.Sprintf("check %q could not be judged: %s", c.Name, c.Unproven)
				break
			}
		}
	}
	return r
}

// verdictOf ranks the checks' verdicts: fail, error, warn, pass.
func verdictOf(cs []Check) reports.Verdict {
	rank := map[reports.Verdict]int{reports.Pass: 0, reports.Warn: 1, reports.Error: 2, reports.Fail: 3}
	v := reports.Pass
	for _, c := range cs {
		if cv := c.Verdict(); rank[cv] > rank[v] {
			v = cv
		}
	}
	return v
}

// MakeStrict turns warn findings into failures (--strict): a warn check
// becomes a failed check and the verdict is recomputed.
func (r *Result) MakeStrict() {
	changed := false
	for i := range r.Checks {
		c := &r.Checks[i]
		if c.Warn && !c.OK {
			c.Warn = false
			c.Cause = "(a warning, failed by --strict) " + c.Cause
			changed = true
		}
	}
	if changed && r.Verdict == reports.Warn {
		r.Verdict = verdictOf(r.Checks)
	}
}

// Failed returns the checks that did not pass (failed, warn or unproven).
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Explain is a multi-line human explanation of a non-passing result.
func (r *Result) Explain() string {
	var b strings.Builder
	if r.Reason != "" {
		fmt.Fprintf(&b, "%s: %s\n", r.Verdict, r.Reason)
	}
	if r.Interrupted {
		return b.String()
	}
	for _, c := range r.Failed() {
		what := "failed"
		switch c.Verdict() {
		case reports.Warn:
			what = "is a warning"
		case reports.Error:
			what = "could not be judged"
		}
		fmt.Fprintf(&b, "check %q %s\n  expected: %s\n  observed: %s\n", c.Name, what, c.Expected, c.Observed)
		if c.Cause != "" {
			fmt.Fprintf(&b, "  likely cause: %s\n", c.Cause)
		}
	}
	return b.String()
}

// FigureMap returns figures by name.
func (r *Result) FigureMap() map[string]Figure {
	m := make(map[string]Figure, len(r.Figures))
	for _, f := range r.Figures {
		m[f.Name] = f
	}
	return m
}

// applyDefaults merges given parameters over a scenario's defaults and
// rejects unknown names.
func applyDefaults(s Scenario, given map[string]string) (map[string]string, error) {
	out := map[string]string{}
	known := map[string]bool{}
	for _, p := range s.Params() {
		out[p.Name] = p.Default
		known[p.Name] = true
	}
	var unknown []string
	for k, v := range given {
		if !known[k] {
			unknown = append(unknown, k)
			continue
		}
		out[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var names []string
		for _, p := range s.Params() {
			names = append(names, p.Name)
		}
		return nil, fmt.Errorf("scenario %s: unknown parameter %s (known: %s)", s.Name(), strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	for _, p := range s.Params() {
		if _, ok := given[p.Name]; !ok {
			continue // a default may be "" for "pick one"
		}
		if err := p.check(out[p.Name]); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name(), err)
		}
	}
	return out, nil
}
