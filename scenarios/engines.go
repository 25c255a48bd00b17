package scenarios

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/topology"
)

// The cross-check: the same scenarios on the lab with agent nodes and again
// with FRR nodes. FRR is what Proxmox runs, so where the two disagree the
// agent is what must change; the run fails on any disagreement.

// EngineBoth asks for a run on each engine, compared.
const EngineBoth = "both"

// DivergenceScenario names the result that compares the engines.
const DivergenceScenario = "engine divergence"

// Engines are the engine runs an --engine value asks for: "" (as the lab
// file says), agent, frr, or both (agent, then frr).
func Engines(e string) ([]string, error) {
	switch e {
	case "":
		return []string{""}, nil
	case topology.EngineAgent, topology.EngineFRR:
		return []string{e}, nil
	case EngineBoth:
		return []string{topology.EngineAgent, topology.EngineFRR}, nil
	}
	return nil, fmt.Errorf("--engine %q: want agent, frr or both", e)
}

// Tagged gives each result the engine it ran on ("NAME [frr]"), so both
// runs of a scenario appear in one report.
func Tagged(results []*Result, engine string) []*Result {
	out := make([]*Result, 0, len(results))
	for _, r := range results {
		c := *r
		c.Scenario = r.Scenario + " [" + engine + "]"
		out = append(out, &c)
	}
	return out
}

// Compare is the "engine divergence" result of two runs of the same
// scenarios: one check per scenario (same verdict on both engines) and one
// per check either run made (same outcome on both). Any difference fails
// it, and its observation shows both sides. A scenario that ran on one
// engine only, or was interrupted, is an error: nothing was compared.
func Compare(agent, frr []*Result) *Result {
	res := NewResult(DivergenceScenario)
	byName := func(rs []*Result) map[string]*Result {
		m := map[string]*Result{}
		for _, r := range rs {
			m[r.Scenario] = r
		}
		return m
	}
	a, f := byName(agent), byName(frr)
	var names []string
	for n := range a {
		names = append(names, n)
	}
	for n := range f {
		if a[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	compared := 0
	var missing []string
	for _, n := range names {
		ra, rf := a[n], f[n]
		if ra == nil || rf == nil || ra.Interrupted || rf.Interrupted {
			missing = append(missing, n)
			continue
		}
		compared++
		why := "engine divergence: the agent does not do what FRR (Proxmox's engine) does here"
		if (ra.Verdict == reports.Pass || ra.Verdict == reports.Warn) && (rf.Verdict == reports.Fail || rf.Verdict == reports.Error) {
			// FRR is the reference, unless its own observation names a bug
			// of its release: the FRR side says which.
			why = "engine divergence: FRR fails where the agent passes; FRR is the reference unless its cause names a bug of its release"
		}
		res.Expect(n+": verdict", ra.Verdict == rf.Verdict, "the same verdict on both engines",
			fmt.Sprintf("agent %s%s | frr %s%s", ra.Verdict, reasonOf(ra), rf.Verdict, reasonOf(rf)), why)
		ca, cf := checksOf(ra), checksOf(rf)
		var checks []string
		for c := range ca {
			checks = append(checks, c)
		}
		for c := range cf {
			if _, ok := ca[c]; !ok {
				checks = append(checks, c)
			}
		}
		sort.Strings(checks)
		for _, c := range checks {
			xa, okA := ca[c]
			xf, okF := cf[c]
			if okA && okF && xa.Verdict() == xf.Verdict() {
				continue // same outcome: the verdict check covers it
			}
			res.Expect(n+": "+c, false, "the same outcome on both engines",
				fmt.Sprintf("agent: %s | frr: %s", checkText(xa, okA), checkText(xf, okF)),
				"engine divergence")
		}
	}
	res.Figure("scenarios compared", float64(compared), "")
	switch {
	case len(missing) > 0:
		res.Verdict = reports.Error
		res.Reason = "not run on both engines (nothing to compare): " + strings.Join(missing, ", ")
	case compared == 0:
		res.Verdict = reports.Error
		res.Reason = "no scenario ran on both engines"
	case len(res.Failed()) > 0:
		res.Verdict = reports.Fail
	default:
		res.Verdict = reports.Pass
	}
	res.Duration = time.Since(res.Started)
	return res
}

func reasonOf(r *Result) string {
	if r.Reason == "" {
		if f := r.Failed(); len(f) > 0 {
			return " (" + f[0].Name + ": " + f[0].Observed + ")"
		}
		return ""
	}
	return " (" + r.Reason + ")"
}

func checksOf(r *Result) map[string]Check {
	m := map[string]Check{}
	for _, c := range r.Checks {
		m[c.Name] = c
	}
	return m
}

func checkText(c Check, ok bool) string {
	switch {
	case !ok:
		return "check not made"
	case c.OK:
		return "ok, " + c.Observed
	}
	return strings.ToUpper(string(c.Verdict())) + ", " + c.Observed
}

// WriteSideBySide prints every figure of both runs side by side (agent |
// FRR) with their ratio where both are numbers.
func WriteSideBySide(w io.Writer, agent, frr []*Result) {
	type row struct{ scenario, figure, a, f, ratio string }
	var rows []row
	fr := map[string]*Result{}
	for _, r := range frr {
		fr[r.Scenario] = r
	}
	for _, ra := range agent {
		rf := fr[ra.Scenario]
		seen := map[string]bool{}
		figs := map[string]Figure{}
		if rf != nil {
			for _, x := range rf.Figures {
				figs[x.Name] = x
			}
		}
		add := func(name string, xa, xf *Figure) {
			r := row{scenario: ra.Scenario, figure: name, a: "-", f: "-"}
			if xa != nil {
				r.a = figText(*xa)
			}
			if xf != nil {
				r.f = figText(*xf)
			}
			if xa != nil && xf != nil && xa.Text == "" && xf.Text == "" && xa.Value != 0 {
				r.ratio = fmt.Sprintf("%.2f", xf.Value/xa.Value)
			}
			rows = append(rows, r)
		}
		for i := range ra.Figures {
			xa := ra.Figures[i]
			seen[xa.Name] = true
			if xf, ok := figs[xa.Name]; ok {
				add(xa.Name, &xa, &xf)
			} else {
				add(xa.Name, &xa, nil)
			}
		}
		if rf != nil {
			for i := range rf.Figures {
				if !seen[rf.Figures[i].Name] {
					add(rf.Figures[i].Name, nil, &rf.Figures[i])
				}
			}
		}
	}
	fmt.Fprintln(w, "\nFigures side by side (agent | FRR; ratio FRR/agent):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFIGURE\tAGENT\tFRR\tRATIO")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.scenario, r.figure, r.a, r.f, r.ratio)
	}
	tw.Flush()
}

func figText(f Figure) string {
	if f.Text != "" {
		return f.Text
	}
	v := fmt.Sprintf("%g", f.Value)
	if f.Value != math.Trunc(f.Value) {
		v = fmt.Sprintf("%.3g", f.Value)
	}
	if f.Unit != "" {
		v += " " + f.Unit
	}
	return v
}
