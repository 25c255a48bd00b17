package scenarios

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/reports"
)

// ToReport converts results into the reports model (JUnit, JSON, ...).
func ToReport(lab string, started time.Time, results []*Result, props map[string]string) *reports.Run {
	run := &reports.Run{Lab: lab, Started: started, Duration: time.Since(started), Properties: props}
	for _, r := range results {
		s := reports.Scenario{Name: r.Scenario, Lab: r.Lab, Verdict: r.Verdict, Duration: r.Duration, Timelines: r.Timelines}
		for _, f := range r.Figures {
			s.Figures = append(s.Figures, reports.Figure{Name: f.Name, Value: f.Value, Unit: f.Unit, Text: f.Text})
		}
		var exp, obs, cause []string
		var failed []Check
		if !r.Interrupted { // an interrupted run's failed checks are no finding
			failed = r.Failed()
		}
		for _, c := range failed {
			exp = append(exp, c.Name+": "+c.Expected)
			obs = append(obs, c.Name+": "+c.Observed)
			if c.Cause != "" {
				cause = append(cause, c.Name+": "+c.Cause)
			}
		}
		if r.Reason != "" {
			cause = append([]string{r.Reason}, cause...)
		}
		s.Expected = strings.Join(exp, "\n")
		s.Observed = strings.Join(obs, "\n")
		s.Cause = strings.Join(cause, "\n")
		for _, e := range r.Evidence {
			switch {
			case e.Path != "":
				s.Evidence = append(s.Evidence, e.Name+": "+e.Path)
				s.Files = append(s.Files, reports.File{Name: e.Name, Path: e.Path})
				// Beside a merged capture lie the per-interface pcaps.
				if filepath.Base(e.Path) == capture.MergedFile {
					per, _ := filepath.Glob(filepath.Join(filepath.Dir(e.Path), "*.pcap"))
					for _, f := range per {
						s.Files = append(s.Files, reports.File{Name: e.Name + " " + strings.TrimSuffix(filepath.Base(f), ".pcap"), Path: f})
					}
				}
			case e.Text != "":
				s.Evidence = append(s.Evidence, e.Name+":\n"+e.Text)
			}
		}
		for _, c := range r.Checks {
			mark := "ok"
			switch c.Verdict() {
			case reports.Fail:
				mark = "FAILED"
			case reports.Warn:
				mark = "WARNING"
			case reports.Error:
				mark = "UNPROVEN"
			}
			s.Steps = append(s.Steps, fmt.Sprintf("%s %s: expected %s; observed %s", mark, c.Name, c.Expected, c.Observed))
		}
		run.Scenarios = append(run.Scenarios, s)
	}
	return run
}
