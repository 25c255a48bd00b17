package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
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

// WriteJUnit writes the run as JUnit XML: one testsuite named after the lab,
// one testcase per scenario.
func WriteJUnit(w io.Writer, r *Run) error {
	c := r.Counts()
	lab := r.Lab
	if lab == "" {
		lab = "lab"
	}
	suite := junitSuite{
		Name: "sdnlab." + lab, Tests: c.Total, Failures: c.Failed, Errors: c.Errors, Skipped: c.Skipped,
		Time: seconds(r.Duration),
	}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	suite.Hostname = r.Properties["hostname"]
	var props []junitProperty
	props = append(props, junitProperty{Name: "lab", Value: r.Lab})
	keys := make([]string, 0, len(r.Properties))
	for k := range r.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		props = append(props, junitProperty{Name: k, Value: r.Properties[k]})
	}
	for _, s := range r.Scenarios {
		for _, f := range s.Figures {
			props = append(props, junitProperty{Name: s.Name + ": " + f.Name, Value: f.String()})
		}
		suite.Cases = append(suite.Cases, junitCase(lab, s))
	}
	suite.Properties = &junitProps{Props: props}
	// The schema has no skipped count on testsuites; it is on the testsuite.
	doc := junitSuites{Name: "sdnlab", Tests: c.Total, Failures: c.Failed, Errors: c.Errors,
		Time: seconds(r.Duration), Suites: []junitSuite{suite}}
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

func junitCase(lab string, s Scenario) junitTestCase {
	tc := junitTestCase{Name: s.Name, Classname: "sdnlab." + lab, Time: seconds(s.Duration)}
	switch s.Verdict {
	case Pass:
	case Skip:
		tc.Skipped = &junitSkipped{Message: firstNonEmpty(s.Cause, s.Observed)}
	case Fail:
		tc.Failure = &junitProblem{Message: firstLine(firstNonEmpty(s.Cause, s.Observed, "failed")), Type: "AssertionFailure", Body: xmlSafe(problemText(s))}
	default:
		tc.Error = &junitProblem{Message: firstLine(firstNonEmpty(s.Cause, s.Observed, "error")), Type: "ScenarioError", Body: xmlSafe(problemText(s))}
	}
	var out strings.Builder
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
