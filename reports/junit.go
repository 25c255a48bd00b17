package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// JUnit XML in the shape Jenkins, GitLab and GitHub test reporters read
// (the Jenkins junit-10 schema): testsuites > testsuite > testcase with
// failure, error or skipped children. That schema has properties only on the
// testsuite, so figures are suite properties named "<scenario>: <figure>" and
// are repeated in the test case's system-out.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// junitText is element text as CDATA, so multi-line output stays readable
// in the file (encoding/xml splits a "]]>" inside it safely).
type junitText struct {
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// WriteJUnit writes the run as JUnit XML: one testsuite per lab the
// scenarios ran on (named sdnlab.<lab>, in order of first appearance), one
// testcase per scenario. JUnit knows no warning: a warn scenario is a
// passing testcase whose system-out starts with "WARNING:", and its suite
// carries the property "<scenario>: verdict" = "warn".
func WriteJUnit(w io.Writer, r *Run) error {
	var labs []string
	byLab := map[string][]Scenario{}
	for _, s := range r.Scenarios {
		l := r.labOf(s)
		if _, ok := byLab[l]; !ok {
			labs = append(labs, l)
		}
		byLab[l] = append(byLab[l], s)
	}
	if len(labs) == 0 {
		labs = []string{r.labOf(Scenario{})}
	}
	c := r.Counts()
	doc := junitSuites{Name: "sdnlab", Tests: c.Total, Failures: c.Failed, Errors: c.Errors, Time: seconds(r.Duration)}
	for _, lab := range labs {
		doc.Suites = append(doc.Suites, junitSuiteOf(r, lab, byLab[lab]))
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	return nil
}

// junitSuiteOf is the testsuite of one lab's scenarios.
func junitSuiteOf(r *Run, lab string, scens []Scenario) junitSuite {
	c := (&Run{Scenarios: scens}).Counts()
	var d time.Duration
	for _, s := range scens {
		d += s.Duration
	}
	if len(r.Scenarios) == len(scens) {
		d = r.Duration // one lab: the run's own time, bring-up included
	}
	suite := junitSuite{
		Name: "sdnlab." + lab, Tests: c.Total, Failures: c.Failed, Errors: c.Errors, Skipped: c.Skipped,
		Time: seconds(d),
	}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	suite.Hostname = r.Properties["hostname"]
	var props []junitProperty
	props = append(props, junitProperty{Name: "lab", Value: lab})
	keys := make([]string, 0, len(r.Properties))
	for k := range r.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		props = append(props, junitProperty{Name: k, Value: r.Properties[k]})
	}
	for _, s := range scens {
		if s.Verdict == Warn {
			props = append(props, junitProperty{Name: s.Name + ": verdict", Value: string(Warn)})
		}
		for _, f := range s.Figures {
			props = append(props, junitProperty{Name: s.Name + ": " + f.Name, Value: f.String()})
		}
		suite.Cases = append(suite.Cases, junitCase(lab, s))
	}
	suite.Properties = &junitProps{Props: props}
	return suite
}

func junitCase(lab string, s Scenario) junitTestCase {
	tc := junitTestCase{Name: s.Name, Classname: "sdnlab." + lab, Time: seconds(s.Duration)}
	var out strings.Builder
	switch s.Verdict {
	case Pass:
	case Warn:
		fmt.Fprintf(&out, "WARNING: %s\n", firstNonEmpty(s.Cause, s.Observed, "a finding Proxmox deploys by default"))
		if b := problemText(s); b != "" {
			out.WriteString(b)
		}
	case Skip:
		tc.Skipped = &junitSkipped{Message: firstNonEmpty(s.Cause, s.Observed)}
	case Fail:
		tc.Failure = &junitProblem{Message: firstLine(firstNonEmpty(s.Cause, s.Observed, "failed")), Type: "AssertionFailure", Body: xmlSafe(problemText(s))}
	default:
		tc.Error = &junitProblem{Message: firstLine(firstNonEmpty(s.Cause, s.Observed, "error")), Type: "ScenarioError", Body: xmlSafe(problemText(s))}
	}
	for _, f := range s.Figures {
		fmt.Fprintf(&out, "figure %s = %s\n", f.Name, f.String())
	}
	for _, l := range s.Steps {
		out.WriteString(l)
		out.WriteByte('\n')
	}
	if out.Len() > 0 {
		tc.SystemOut = &junitText{xmlSafe(out.String())}
	}
	return tc
}

// problemText is the body of a failure/error element.
func problemText(s Scenario) string {
	var b strings.Builder
	if s.Expected != "" {
		fmt.Fprintf(&b, "Expected: %s\n", s.Expected)
	}
	if s.Observed != "" {
		fmt.Fprintf(&b, "Observed: %s\n", s.Observed)
	}
	if s.Cause != "" {
		fmt.Fprintf(&b, "Likely cause: %s\n", s.Cause)
	}
	if len(s.Evidence) > 0 {
		b.WriteString("Evidence:\n")
		for _, e := range s.Evidence {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	return b.String()
}

// xmlSafe replaces characters XML 1.0 cannot carry (NUL, ESC and other
// controls, lone surrogates) with U+FFFD. Attribute values need no help:
// encoding/xml does this for them, but not inside CDATA.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF, r == utf8.RuneError:
			return '\uFFFD'
		}
		return r
	}, s)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
