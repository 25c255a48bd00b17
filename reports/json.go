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
	// Timelines: times are seconds from the timeline's start.
	Timelines []jsonTimeline `json:"timelines,omitempty"`
}

type jsonTimeline struct {
	Title  string       `json:"title"`
	Start  *time.Time   `json:"start,omitempty"`
	EndS   float64      `json:"end_s,omitempty"`
	Series []jsonSeries `json:"series"`
	Events []jsonEvent  `json:"events,omitempty"`
}

type jsonSeries struct {
	Name string `json:"name"`
	// Probes are [seq, sent_s, recv_s] with recv_s null for a lost probe:
	// compact, as a migration records thousands.
	Probes [][3]*float64 `json:"probes"`
}

type jsonEvent struct {
	AtS   float64 `json:"at_s"`
	Kind  string  `json:"kind"`
	Label string  `json:"label"`
}

func toJSONTimeline(t Timeline) jsonTimeline {
	jt := jsonTimeline{Title: t.Title, EndS: t.End.Seconds()}
	if !t.Start.IsZero() {
		st := t.Start.UTC()
		jt.Start = &st
	}
	f := func(v float64) *float64 { return &v }
	for _, s := range t.Series {
		js := jsonSeries{Name: s.Name, Probes: [][3]*float64{}}
		for _, p := range s.Probes {
			row := [3]*float64{f(float64(p.Seq)), f(p.SentAt.Seconds()), nil}
			if !p.Lost {
				row[2] = f(p.RecvAt.Seconds())
			}
			js.Probes = append(js.Probes, row)
		}
		jt.Series = append(jt.Series, js)
	}
	for _, e := range t.Events {
		jt.Events = append(jt.Events, jsonEvent{AtS: e.At.Seconds(), Kind: e.Kind, Label: e.Label})
	}
	return jt
}

func fromJSONTimeline(jt jsonTimeline) Timeline {
	t := Timeline{Title: jt.Title, End: secondsToDuration(jt.EndS)}
	if jt.Start != nil {
		t.Start = *jt.Start
	}
	for _, js := range jt.Series {
		s := Series{Name: js.Name}
		for _, row := range js.Probes {
			if row[0] == nil || row[1] == nil {
				continue
			}
			p := Probe{Seq: int(*row[0]), SentAt: secondsToDuration(*row[1]), Lost: row[2] == nil}
			if row[2] != nil {
				p.RecvAt = secondsToDuration(*row[2])
			}
			s.Probes = append(s.Probes, p)
		}
		t.Series = append(t.Series, s)
	}
	for _, e := range jt.Events {
		t.Events = append(t.Events, Event{At: secondsToDuration(e.AtS), Kind: e.Kind, Label: e.Label})
	}
	return t
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
		for _, t := range s.Timelines {
			js.Timelines = append(js.Timelines, toJSONTimeline(t))
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
		for _, jt := range js.Timelines {
			s.Timelines = append(s.Timelines, fromJSONTimeline(jt))
		}
		r.Scenarios = append(r.Scenarios, s)
	}
	return r, nil
}

func secondsToDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
