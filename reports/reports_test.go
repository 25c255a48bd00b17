package reports

import (
	"bytes"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const hostile = `<script>alert("x")</script> & | ` + "`x` \x1b[31mred\x1b[0m\nsecond line \x00"

func sampleRun() *Run {
	return &Run{
		Lab:        "demo",
		Started:    time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		Duration:   12345 * time.Millisecond,
		Properties: map[string]string{"kernel": "6.1.0", "hostname": "ci-1"},
		Scenarios: []Scenario{
			{Name: "arp-suppression", Verdict: Pass, Duration: 850 * time.Millisecond,
				Figures: []Figure{{Name: "arp_crossing", Value: 0, Unit: "packets"}}},
			{Name: "live-migration", Verdict: Fail, Duration: 3200 * time.Millisecond,
				Figures:  []Figure{{Name: "lost", Value: 4, Unit: "pings"}, {Name: "gap", Value: 0.1234, Unit: "s"}, {Name: "mm", Text: "seq 0→1"}},
				Expected: "MAC mobility sequence 1 on first move", Observed: "sequence 0",
				Cause:    "first move bumped from 0 to 0",
				Evidence: []string{"/tmp/pcap/n1-up.pcap", "#12 05:06:07.000001 n1-up out ... BGP UPDATE"},
				Steps:    []string{"migrate vm1 n1 -> n2", "wait for route"}},
			{Name: "exit-failover", Verdict: Skip, Cause: "needs vrf"},
			{Name: hostile, Verdict: Error, Duration: time.Second, Cause: hostile, Observed: hostile,
				Figures:  []Figure{{Name: hostile, Text: hostile}, {Name: "nan", Value: math.NaN()}},
				Evidence: []string{hostile, "```", "]]> cdata end"}, Steps: []string{hostile}},
		},
	}
}

func TestCounts(t *testing.T) {
	r := sampleRun()
	c := r.Counts()
	if c != (Counts{Total: 4, Passed: 1, Failed: 1, Skipped: 1, Errors: 1}) || r.OK() {
		t.Fatalf("counts %+v ok %v", c, r.OK())
	}
	r.Scenarios = r.Scenarios[:1]
	if !r.OK() {
		t.Fatal("all-pass run not OK")
	}
}

func TestFigureString(t *testing.T) {
	for _, c := range []struct {
		f    Figure
		want string
	}{
		{Figure{Value: 1450, Unit: "bytes"}, "1450 bytes"},
		{Figure{Value: 0.1234, Unit: "s"}, "0.123 s"},
		{Figure{Value: 2.5}, "2.5"},
		{Figure{Value: 3, Text: "three"}, "three"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
}

// The JUnit file parses back with encoding/xml into the structure CI tools read.
func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, sampleRun()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Fatalf("no XML header:\n%s", out)
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Name      string `xml:"name,attr"`
			Tests     int    `xml:"tests,attr"`
			Failures  int    `xml:"failures,attr"`
			Errors    int    `xml:"errors,attr"`
			Skipped   int    `xml:"skipped,attr"`
			Time      string `xml:"time,attr"`
			Timestamp string `xml:"timestamp,attr"`
			Hostname  string `xml:"hostname,attr"`
			Props     []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Time      string `xml:"time,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"error"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, out)
	}
	if doc.Tests != 4 || doc.Failures != 1 || len(doc.Suites) != 1 {
		t.Fatalf("testsuites: %+v", doc)
	}
	s := doc.Suites[0]
	if s.Name != "sdnlab.demo" || s.Tests != 4 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 1 ||
		s.Time != "12.345" || s.Timestamp != "2026-03-04T05:06:07" || s.Hostname != "ci-1" || len(s.Cases) != 4 {
		t.Fatalf("testsuite: %+v", s)
	}
	props := map[string]string{}
	for _, p := range s.Props {
		props[p.Name] = p.Value
	}
	if props["lab"] != "demo" || props["kernel"] != "6.1.0" || props["live-migration: lost"] != "4 pings" || props["live-migration: gap"] != "0.123 s" {
		t.Fatalf("properties: %v", props)
	}
	pass, fail, skip, errc := s.Cases[0], s.Cases[1], s.Cases[2], s.Cases[3]
	if pass.Failure != nil || pass.Error != nil || pass.Skipped != nil || pass.Time != "0.850" || pass.Classname != "sdnlab.demo" {
		t.Fatalf("pass case: %+v", pass)
	}
	if fail.Failure == nil || fail.Failure.Message != "first move bumped from 0 to 0" ||
		!strings.Contains(fail.Failure.Body, "Expected: MAC mobility sequence 1 on first move") ||
		!strings.Contains(fail.Failure.Body, "Observed: sequence 0") ||
		!strings.Contains(fail.Failure.Body, "/tmp/pcap/n1-up.pcap") {
		t.Fatalf("failure: %+v", fail.Failure)
	}
	if !strings.Contains(fail.SystemOut, "figure lost = 4 pings") || !strings.Contains(fail.SystemOut, "migrate vm1 n1 -> n2") {
		t.Fatalf("system-out: %q", fail.SystemOut)
	}
	if skip.Skipped == nil || skip.Skipped.Message != "needs vrf" {
		t.Fatalf("skipped: %+v", skip)
	}
	if errc.Error == nil || strings.Contains(errc.Error.Message, "\n") || !strings.Contains(errc.Error.Body, "]]> cdata end") {
		t.Fatalf("error case: %+v", errc.Error)
	}
	// The hostile name survives (bar the characters XML cannot carry).
	if !strings.Contains(errc.Name, `<script>alert("x")</script> & |`) {
		t.Fatalf("hostile name mangled: %q", errc.Name)
	}
	// Raw "<script>" may only sit inside CDATA: TestJUnitSchemaShape would
	// see a stray element otherwise. Characters XML cannot carry are gone.
	if strings.ContainsRune(out, 0) || strings.ContainsRune(out, 0x1b) {
		t.Fatal("control characters in XML")
	}
}

// junitAllowed lists, per element, the attributes the Jenkins junit-10
// schema (the one GitLab and GitHub reporters also accept) permits.
var junitAllowed = map[string][]string{
	"testsuites": {"name", "time", "tests", "failures", "errors"},
	"testsuite":  {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"},
	"properties": {},
	"property":   {"name", "value"},
	"testcase":   {"name", "time", "classname", "group"},
	"failure":    {"type", "message"},
	"error":      {"type", "message"},
	"skipped":    {"type", "message"},
	"system-out": {},
	"system-err": {},
}

// junitParents is where each element may appear.
var junitParents = map[string][]string{
	"testsuites": {""}, "testsuite": {"testsuites", "testsuite"}, "properties": {"testsuite"}, "property": {"properties"},
	"testcase": {"testsuite"}, "failure": {"testcase"}, "error": {"testcase"}, "skipped": {"testcase"},
	"system-out": {"testcase", "testsuite"}, "system-err": {"testcase", "testsuite"},
}

func TestJUnitSchemaShape(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, sampleRun()); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	stack := []string{""}
	required := map[string][]string{"testsuite": {"name", "tests", "failures", "errors"}, "testcase": {"name"}, "property": {"name", "value"}}
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			name := el.Name.Local
			allowed, ok := junitAllowed[name]
			if !ok {
				t.Fatalf("element %s not in the schema", name)
			}
			if !slices.Contains(junitParents[name], stack[len(stack)-1]) {
				t.Errorf("element %s inside %s", name, stack[len(stack)-1])
			}
			have := map[string]bool{}
			for _, a := range el.Attr {
				if !slices.Contains(allowed, a.Name.Local) {
					t.Errorf("attribute %s on %s not in the schema", a.Name.Local, name)
				}
				have[a.Name.Local] = true
				if a.Name.Local == "time" && !regexp.MustCompile(`^[0-9]*(\.[0-9]*)?$`).MatchString(a.Value) {
					t.Errorf("time %q on %s is not a plain decimal", a.Value, name)
				}
			}
			for _, r := range required[name] {
				if !have[r] {
					t.Errorf("%s lacks required attribute %s", name, r)
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 1 {
		t.Fatalf("unbalanced document: %v", stack)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := sampleRun()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, in); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"schema": 1`, `"lab": "demo"`, `"duration_s": 12.345`, `"ok": false`, `"verdict": "fail"`, `"figures"`, `"evidence"`, `"cause"`, `"failed": 1`} {
		if !strings.Contains(buf.String(), field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
	out, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// NaN is written as an absent value and read back as NaN; compare the rest.
	nan := out.Scenarios[3].Figures[1].Value
	if !math.IsNaN(nan) {
		t.Fatalf("NaN figure read back as %v", nan)
	}
	out.Scenarios[3].Figures[1].Value = 0
	in.Scenarios[3].Figures[1].Value = 0
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs:\nin  %+v\nout %+v", in, out)
	}
	if _, err := ReadJSON(strings.NewReader(`{"schema":1,"scenarios":[{"name":"x","verdict":"maybe"}]}`)); err == nil ||
		!strings.Contains(err.Error(), "verdict") {
		t.Fatalf("bad verdict accepted: %v", err)
	}
}

func TestHTMLEscapes(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sampleRun()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "<script>") || strings.Contains(out, `alert("x")`) {
		t.Fatal("hostile string not escaped in HTML")
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; |") {
		t.Fatalf("escaped hostile string missing:\n%s", out)
	}
	for _, bad := range []string{"http://", "https://", "src=", "<link", "@import"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML refers to an external asset (%s)", bad)
		}
	}
	for _, want := range []string{"<title>sdnlab demo: FAIL</title>", "live-migration", "4 pings", "first move bumped from 0 to 0", "/tmp/pcap/n1-up.pcap", "kernel", "details id=\"s1\" open"} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, sampleRun()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	var table []string
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			table = append(table, l)
		}
	}
	if len(table) != 6 {
		t.Fatalf("table has %d lines, want 6:\n%s", len(table), out)
	}
	for _, l := range table {
		// Unescaped pipes delimit cells: every row has exactly 5.
		if n := strings.Count(l, "|") - strings.Count(l, `\|`); n != 5 {
			t.Errorf("row has %d cell delimiters: %q", n, l)
		}
	}
	if !strings.Contains(out, "| live-migration | ❌ fail | lost=4 pings, gap=0.123 s, mm=seq 0→1 | 3.2s |") {
		t.Errorf("live-migration row:\n%s", out)
	}
	// Outside code fences no raw HTML; inside, no control characters.
	inFence := false
	for _, l := range lines {
		if strings.HasPrefix(l, "```") {
			inFence = !inFence
			continue
		}
		if !inFence && strings.Contains(l, "<script>") {
			t.Errorf("raw HTML in Markdown: %q", l)
		}
		if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 && r != '\t' }) {
			t.Errorf("control character in Markdown: %q", l)
		}
	}
	if !strings.Contains(out, "````\n") {
		t.Error("evidence containing ``` needs a longer fence")
	}
	if !strings.Contains(out, "## sdnlab demo: FAIL") || !strings.Contains(out, "**Likely cause:** first move bumped from 0 to 0") {
		t.Errorf("markdown:\n%s", out)
	}
}

func TestTerminal(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTerminal(&buf, sampleRun(), TerminalOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0) {
		t.Fatal("control characters reached the terminal")
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// Columns are aligned: VERDICT starts at the same rune offset in every row.
	col := strings.Index(lines[0], "VERDICT")
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "FAIL:") {
			continue
		}
		r := []rune(l)
		if len(r) <= col || r[col-1] != ' ' || r[col] == ' ' {
			t.Errorf("verdict column not at %d: %q", col, l)
		}
	}
	if !strings.Contains(out, "    first move bumped from 0 to 0\n") {
		t.Errorf("cause line missing:\n%s", out)
	}
	if !strings.HasSuffix(out, "FAIL: 1 passed, 1 failed, 0 warnings, 1 skipped, 1 errors in 12.3s\n") {
		t.Errorf("totals line:\n%s", out)
	}
	buf.Reset()
	if err := WriteTerminal(&buf, sampleRun(), TerminalOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\x1b[32mPASS") {
		t.Error("no colour with Color set")
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"r.xml", "r.json", "r.md", "r.html", "sub/r.txt"} {
		p := filepath.Join(dir, name)
		if err := WriteFile(p, "", sampleRun()); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := WriteFile(filepath.Join(dir, "r.pdf"), "", sampleRun()); err == nil {
		t.Fatal("unknown extension accepted")
	}
}

// warnRun has one scenario per verdict on two labs, as the demo has.
func warnRun() *Run {
	return &Run{
		Lab: "demo", Duration: 3 * time.Second,
		Scenarios: []Scenario{
			{Name: "snat", Verdict: Pass, Duration: time.Second},
			{Name: "vxlan-injection", Verdict: Warn, Duration: time.Second, Cause: "VXLAN from a foreign source is accepted (as Proxmox deploys)",
				Expected: "injected frame dropped", Observed: "delivered to vm1"},
			{Name: "cross-rack-migration", Lab: "demoracks", Verdict: Pass, Duration: time.Second},
			{Name: "bgp-only-workaround", Lab: "demoracks", Verdict: Skip, Cause: "no routed port"},
		},
	}
}

// A warn verdict is shown as such by every writer, counted on its own, and
// does not make the run fail; the JUnit file has one suite per lab.
func TestWarnEverywhere(t *testing.T) {
	r := warnRun()
	if c := r.Counts(); c.Warned != 1 || c.Passed != 2 || !r.OK() || r.Status() != "WARN" {
		t.Fatalf("counts %+v ok %v status %s", c, r.OK(), r.Status())
	}
	var buf bytes.Buffer
	if err := WriteTerminal(&buf, r, TerminalOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WARN ", "    warning: VXLAN from a foreign source", "    skipped: no routed port", "WARN: 2 passed, 0 failed, 1 warnings, 1 skipped, 0 errors"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("terminal lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := WriteTerminal(&buf, r, TerminalOptions{Color: true}); err != nil || !strings.Contains(buf.String(), "\x1b[1;35mWARN") {
		t.Errorf("warn colour: %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## sdnlab demo: WARN", "| vxlan-injection | ⚠️ warn |", "### vxlan-injection: ⚠️ warn", "### bgp-only-workaround: ⏭️ skip", "**Why:** no routed port"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<td class="warn">warn</td>`, `.warn{`, `<span class="WARN">WARN</span>`, "<dt>Finding</dt>", "<dt>Why skipped</dt>"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	buf.Reset()
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"verdict": "warn"`, `"warned": 1`, `"lab": "demoracks"`, `"ok": true`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	back, err := ReadJSON(&buf)
	if err != nil || back.Scenarios[1].Verdict != Warn || back.Scenarios[2].Lab != "demoracks" {
		t.Fatalf("JSON read back: %v %+v", err, back)
	}
	buf.Reset()
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name      string    `xml:"name,attr"`
				Classname string    `xml:"classname,attr"`
				Failure   *struct{} `xml:"failure"`
				SystemOut string    `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Suites) != 2 || doc.Suites[0].Name != "sdnlab.demo" || doc.Suites[1].Name != "sdnlab.demoracks" ||
		doc.Suites[0].Tests != 2 || doc.Suites[1].Tests != 2 {
		t.Fatalf("one suite per lab expected: %+v", doc.Suites)
	}
	if c := doc.Suites[1].Cases[0]; c.Name != "cross-rack-migration" || c.Classname != "sdnlab.demoracks" {
		t.Errorf("rack scenario attributed to %s", c.Classname)
	}
	w := doc.Suites[0].Cases[1]
	if w.Failure != nil || !strings.HasPrefix(w.SystemOut, "WARNING: VXLAN from a foreign source") {
		t.Errorf("warn case: %+v", w)
	}
	found := false
	for _, p := range doc.Suites[0].Props {
		found = found || p.Name == "vxlan-injection: verdict" && p.Value == "warn"
	}
	if !found {
		t.Error("no verdict property for the warn scenario")
	}
}

// A run in which every scenario skipped checked nothing: not OK.
func TestNothingRan(t *testing.T) {
	r := &Run{Lab: "x", Scenarios: []Scenario{{Name: "a", Verdict: Skip, Cause: "no EVPN zone"}}}
	if r.OK() || r.Status() != "NO CHECK RAN" {
		t.Fatalf("ok %v status %s", r.OK(), r.Status())
	}
	if (&Run{}).OK() {
		t.Fatal("an empty run is OK")
	}
}
