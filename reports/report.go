// Package reports turns the outcome of a conformance run into JUnit XML,
// JSON, Markdown, a self-contained HTML page and a terminal table.
//
// The model (Run, Scenario, Figure) is neutral: scenarios fill it, writers
// only read it. Every writer escapes what it prints, so scenario names,
// packet summaries and log lines may contain anything.
package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Verdict is the outcome of a scenario or of one of its checks. It is the
// project's only verdict type: scenarios fill it, every writer shows it.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "pass"
	Fail Verdict = "fail" // the lab behaved wrongly: an assertion failed
	// Warn is a finding the team must read but that Proxmox deploys by
	// default (VXLAN injection accepted, inbound loss with static upstream
	// routes); --strict turns it into Fail.
	Warn  Verdict = "warn"
	Skip  Verdict = "skip"  // not run (the lab lacks what the scenario needs, ...)
	Error Verdict = "error" // the scenario could not observe what it claims
)

// Known tells whether v is one of the verdicts above.
func (v Verdict) Known() bool {
	switch v {
	case Pass, Fail, Warn, Skip, Error:
		return true
	}
	return false
}

// Run is one conformance run over a lab.
type Run struct {
	Lab        string
	Started    time.Time
	Duration   time.Duration
	Properties map[string]string // free-form facts: kernel, sdnlab version, config dir, ...
	Scenarios  []Scenario
	// Topologies are the pictures of the labs the run used (the demo uses
	// two).
	Topologies []*Topology
	// Files are the run's evidence beside the scenarios': the lab file, each
	// node's rendered configuration, ... The HTML report links them
	// relative to its own directory.
	Files []File
}

// File is a piece of evidence on disk.
type File struct {
	Name string
	Path string
}

// Scenario is the outcome of one scenario.
type Scenario struct {
	Name    string
	Verdict Verdict
	// Lab is the lab the scenario ran on ("": the run's Lab); a run over
	// several labs (the demo) keeps each scenario with its own.
	Lab      string
	Duration time.Duration
	Figures  []Figure
	// On failure: what was expected, what was observed and the likely cause.
	Expected string
	Observed string
	Cause    string
	Evidence []string // pcap paths, packet summaries
	Steps    []string // log lines, in order
	// Timelines: probe streams and events over time (migration, failover, ...).
	Timelines []Timeline
	// Files are the scenario's evidence files (pcaps, the merged pcapng).
	Files []File
	// Engine is the SDN engine the scenario ran on ("" when only one was
	// used); scenarios of one name on several engines are compared side by
	// side.
	Engine string
}

// Figure is one measured value (a loss count, a convergence time, an MTU) or,
// when Text is set, a short textual finding.
type Figure struct {
	Name  string
	Value float64
	Unit  string
	Text  string
}

// String is "value unit" or the text.
func (f Figure) String() string {
	if f.Text != "" {
		return f.Text
	}
	v := formatValue(f.Value)
	if f.Unit == "" {
		return v
	}
	return v + " " + f.Unit
}

// formatValue prints integers without decimals and other values with at
// most three decimals.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Counts tallies the verdicts.
type Counts struct {
	Total, Passed, Failed, Warned, Skipped, Errors int
}

// Counts tallies the scenarios' verdicts. Unknown verdicts count as errors.
func (r *Run) Counts() Counts {
	c := Counts{Total: len(r.Scenarios)}
	for _, s := range r.Scenarios {
		switch s.Verdict {
		case Pass:
			c.Passed++
		case Fail:
			c.Failed++
		case Warn:
			c.Warned++
		case Skip:
			c.Skipped++
		default:
			c.Errors++
		}
	}
	return c
}

// Ran is the number of scenarios that made checks (not skipped).
func (c Counts) Ran() int { return c.Total - c.Skipped }

// OK reports whether nothing failed or errored and at least one scenario
// ran: warnings are fine, a run in which everything skipped checked nothing.
func (r *Run) OK() bool {
	c := r.Counts()
	return c.Failed == 0 && c.Errors == 0 && c.Ran() > 0
}

// Status is the run's one-word outcome: PASS, WARN (passed with
// findings), FAIL, or NOTHING RAN.
func (r *Run) Status() string {
	c := r.Counts()
	switch {
	case c.Failed > 0 || c.Errors > 0:
		return "FAIL"
	case c.Ran() == 0:
		return "NO CHECK RAN"
	case c.Warned > 0:
		return "WARN"
	}
	return "PASS"
}

func (c Counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d warnings, %d skipped, %d errors", c.Passed, c.Failed, c.Warned, c.Skipped, c.Errors)
}

// labOf is the lab a scenario ran on.
func (r *Run) labOf(s Scenario) string {
	if s.Lab != "" {
		return s.Lab
	}
	if r.Lab != "" {
		return r.Lab
	}
	return "lab"
}

// figuresText joins the figures as "name=value unit, ...".
func figuresText(fs []Figure, max int) string {
	var parts []string
	for i, f := range fs {
		if max > 0 && i == max {
			parts = append(parts, fmt.Sprintf("+%d", len(fs)-max))
			break
		}
		parts = append(parts, f.Name+"="+f.String())
	}
	return strings.Join(parts, ", ")
}

// seconds formats a duration as seconds with millisecond precision.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// humanDuration is a short duration for tables: 850ms, 12.3s, 2m05s.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
