package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// SchemaVersion is written into JSON reports; bump it when a field changes meaning.
const SchemaVersion = 1

// The JSON shape is fixed here, apart from the model, so that renaming a Go
// field never changes the file format. Durations are seconds (float).
type jsonRun struct {
	Schema     int               `json:"schema"`
	Lab        string            `json:"lab"`
	Started    *time.Time        `json:"started,omitempty"`
	DurationS  float64           `json:"duration_s"`
	OK         bool              `json:"ok"`
	Counts     jsonCounts        `json:"counts"`
	Properties map[string]string `json:"properties,omitempty"`
	Scenarios  []jsonScenario    `json:"scenarios"`
}

type jsonCounts struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Warned  int `json:"warned"`
	Skipped int `json:"skipped"`
	Errors  int `json:"errors"`
}

type jsonScenario struct {
	Name      string       `json:"name"`
	Lab       string       `json:"lab,omitempty"`
	Verdict   Verdict      `json:"verdict"`
	DurationS float64      `json:"duration_s"`
	Figures   []jsonFigure `json:"figures,omitempty"`
	Expected  string       `json:"expected,omitempty"`
	Observed  string       `json:"observed,omitempty"`
	Cause     string       `json:"cause,omitempty"`
	Evidence  []string     `json:"evidence,omitempty"`
	Steps     []string     `json:"steps,omitempty"`
}

type jsonFigure struct {
	Name  string   `json:"name"`
	Value *float64 `json:"value,omitempty"` // omitted when not finite (JSON has no NaN)
	Unit  string   `json:"unit,omitempty"`
	Text  string   `json:"text,omitempty"`
}

// WriteJSON writes the run as indented JSON with stable field names.
func WriteJSON(w io.Writer, r *Run) error {
	c := r.Counts()
	j := jsonRun{Schema: SchemaVersion, Lab: r.Lab, DurationS: r.Duration.Seconds(), OK: r.OK(),
		Counts:     jsonCounts{Total: c.Total, Passed: c.Passed, Failed: c.Failed, Warned: c.Warned, Skipped: c.Skipped, Errors: c.Errors},
		Properties: r.Properties, Scenarios: []jsonScenario{}}
	if !r.Started.IsZero() {
		t := r.Started.UTC()
		j.Started = &t
	}
	for _, s := range r.Scenarios {
		js := jsonScenario{Name: s.Name, Lab: s.Lab, Verdict: s.Verdict, DurationS: s.Duration.Seconds(), Expected: s.Expected,
			Observed: s.Observed, Cause: s.Cause, Evidence: s.Evidence, Steps: s.Steps}
		for _, f := range s.Figures {
			jf := jsonFigure{Name: f.Name, Unit: f.Unit, Text: f.Text}
			if !math.IsNaN(f.Value) && !math.IsInf(f.Value, 0) {
				v := f.Value
				jf.Value = &v
			}
			js.Figures = append(js.Figures, jf)
		}
		j.Scenarios = append(j.Scenarios, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(rd io.Reader) (*Run, error) {
	var j jsonRun
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("json report: %w", err)
	}
	if j.Schema != SchemaVersion {
		return nil, fmt.Errorf("json report: schema %d, want %d", j.Schema, SchemaVersion)
	}
	r := &Run{Lab: j.Lab, Duration: secondsToDuration(j.DurationS), Properties: j.Properties}
	if j.Started != nil {
		r.Started = *j.Started
	}
	for i, js := range j.Scenarios {
		if !js.Verdict.Known() {
			return nil, fmt.Errorf("json report: scenarios[%d] (%q): field verdict: unknown value %q", i, js.Name, js.Verdict)
		}
		s := Scenario{Name: js.Name, Lab: js.Lab, Verdict: js.Verdict, Duration: secondsToDuration(js.DurationS), Expected: js.Expected,
			Observed: js.Observed, Cause: js.Cause, Evidence: js.Evidence, Steps: js.Steps}
		for _, jf := range js.Figures {
			f := Figure{Name: jf.Name, Unit: jf.Unit, Text: jf.Text, Value: math.NaN()}
			if jf.Value != nil {
				f.Value = *jf.Value
			}
			s.Figures = append(s.Figures, f)
		}
		r.Scenarios = append(r.Scenarios, s)
	}
	return r, nil
}

func secondsToDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
