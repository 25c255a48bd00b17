package reports

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// wellFormed parses s as XML: a stray < or & from a label breaks it.
func wellFormed(t *testing.T, what, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", what, err)
		}
	}
}

func TestTimelineSVGEscapesAndDraws(t *testing.T) {
	tl := sampleTimeline()
	tl.Title = hostile
	tl.Series[0].Name = hostile
	tl.Events = append(tl.Events, Event{At: 1500 * time.Millisecond, Kind: hostile, Label: hostile})
	out := TimelineSVG(&tl)
	wellFormed(t, "timeline", out)
	if strings.Contains(out, "<script") {
		t.Fatal("a label reached the SVG unescaped")
	}
	// Both lanes carry their losses; the detail panel is drawn because the
	// outage is a small part of the run.
	if n := strings.Count(out, `class="loss"`); n != 4 {
		t.Errorf("loss bands: %d, want 2 lanes x 2 panels", n)
	}
	if !strings.Contains(out, "detail ") {
		t.Error("no detail panel for a 60 ms outage in a 3 s run")
	}
	if !strings.Contains(out, "300 sent, 6 lost") {
		t.Error("lane summary missing")
	}
}

func TestTimelineWithoutLossHasNoBands(t *testing.T) {
	tl := Timeline{Title: "steady", Series: []Series{{Name: "a → b"}}}
	for i := range 100 {
		at := time.Duration(i) * 10 * time.Millisecond
		tl.Series[0].Probes = append(tl.Series[0].Probes, Probe{Seq: i, SentAt: at, RecvAt: at + time.Millisecond})
	}
	out := TimelineSVG(&tl)
	wellFormed(t, "timeline", out)
	if strings.Contains(out, `class="loss"`) || strings.Contains(out, "detail ") || !strings.Contains(out, "100 sent, 0 lost") {
		t.Fatalf("steady stream drawn wrongly:\n%s", out)
	}
}

func TestLossRuns(t *testing.T) {
	ms := time.Millisecond
	s := Series{Probes: []Probe{{SentAt: 0}, {SentAt: 10 * ms, Lost: true}, {SentAt: 20 * ms, Lost: true}, {SentAt: 30 * ms}, {SentAt: 40 * ms, Lost: true}}}
	got := lossRuns(s)
	want := []lossRun{{10 * ms, 30 * ms, 2}, {40 * ms, 50 * ms, 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("loss runs %+v, want %+v", got, want)
	}
}

func TestTopologyPictures(t *testing.T) {
	tp := sampleTopology()
	tp.Lab = hostile
	tp.Guests[0].Name = hostile
	out := TopologySVG(tp)
	wellFormed(t, "topology", out)
	for _, want := range []string{"node1", "node3", "r1", "upstream", "inet", "exit node", "control plane down", "rvnet1", "frr", "agent", "loss 2%"} {
		if !strings.Contains(out, want) {
			t.Errorf("topology SVG lacks %q", want)
		}
	}
	var dot, mm bytes.Buffer
	if err := TopologyDot(&dot, sampleTopology()); err != nil {
		t.Fatal(err)
	}
	if err := TopologyMermaid(&mm, sampleTopology()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"node:node1" -- "seg:rack1"`, `"router:r1" -- "seg:core"`, `subgraph "cluster_node2"`, `style=dashed, color=red`} {
		if !strings.Contains(dot.String(), want) {
			t.Errorf("dot lacks %q:\n%s", want, dot.String())
		}
	}
	for _, want := range []string{"flowchart TB", "seg_rack1 ---", "-.-", "subgraph sg_node1"} {
		if !strings.Contains(mm.String(), want) {
			t.Errorf("mermaid lacks %q:\n%s", want, mm.String())
		}
	}
}

func TestHTMLLinksEvidenceRelative(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	if err := WriteHTMLOpts(&b, browserRun(dir), HTMLOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`href="pcap/live-migration/merged.pcapng"`, `href="lab.yaml"`, "/etc/hostname (outside the report directory)", `<svg xmlns`} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "href=\"/") || strings.Contains(out, "file://") {
		t.Error("an absolute link in the report")
	}
	if strings.Contains(out, "<script") || strings.Contains(out, "http://") && !strings.Contains(out, "http://www.w3.org/2000/svg") {
		t.Error("the report loads or runs something")
	}
}

func TestEnginesSideBySide(t *testing.T) {
	r := &Run{Lab: "x", Scenarios: []Scenario{
		{Name: "migration", Engine: "agent", Verdict: Pass, Figures: []Figure{{Name: "lost", Value: 2, Unit: "pings"}}},
		{Name: "migration [frr]", Verdict: Fail, Figures: []Figure{{Name: "lost", Value: 6, Unit: "pings"}}},
	}}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Engines side by side", "<th>agent</th><th>frr</th>", `<td class="num">2 pings</td><td class="num">6 pings</td>`, `class="diff"`} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q", want)
		}
	}
}

func TestTimelineJSONRoundTrip(t *testing.T) {
	r := &Run{Lab: "x", Scenarios: []Scenario{{Name: "m", Verdict: Pass, Timelines: []Timeline{sampleTimeline()}}}}
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	got, want := back.Scenarios[0].Timelines[0], r.Scenarios[0].Timelines[0]
	if got.Title != want.Title || len(got.Series) != 2 || len(got.Events) != len(want.Events) {
		t.Fatalf("timeline after JSON: %+v", got)
	}
	for i, p := range want.Series[1].Probes {
		g := got.Series[1].Probes[i]
		if g.Seq != p.Seq || g.Lost != p.Lost || (g.SentAt-p.SentAt).Abs() > time.Microsecond || (g.RecvAt-p.RecvAt).Abs() > time.Microsecond {
			t.Fatalf("probe %d: %+v, want %+v", i, g, p)
		}
	}
	if got.Events[4] != want.Events[4] {
		t.Errorf("event %+v, want %+v", got.Events[4], want.Events[4])
	}
}
