package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// JUnitInput is one JUnit file to merge: Name (its path) names it in errors
// and in the properties that differ between inputs.
type JUnitInput struct {
	Name string
	Data []byte
}

// MergeSummary is what MergeJUnit merged.
type MergeSummary struct {
	Files                            int
	Tests, Failures, Errors, Skipped int
	// Shards is N when the inputs come from `sdnlab test --shard K/N`
	// (their "shard" property), 0 otherwise; Missing and Repeated are the
	// shares no input and more than one input came from.
	Shards            int
	Missing, Repeated []int
}

// Complete tells whether every share of a sharded run came exactly once
// (always true for unsharded inputs).
func (s MergeSummary) Complete() bool { return len(s.Missing) == 0 && len(s.Repeated) == 0 }

// MergeJUnit merges JUnit files, typically those of the shards of one
// `sdnlab test --shard K/N` matrix, into one document written to w:
// testsuites of the same name become one (test cases in input order),
// counts are recounted from the test cases, times are summed and the
// earliest timestamp kept. A property with one value everywhere it occurs
// is kept once; one whose value differs between inputs (each shard's own
// "lab up" time, hostname) is kept from each, its name prefixed by
// the input's shard ("2/4: lab up"), else by the input's name. Merged
// shards carry the property "shards" (N) instead of their "shard".
//
// Inputs are JUnit as WriteJUnit writes it (a testsuites root) or a single
// testsuite root. A file that is not JUnit, or shards of differing N, is an
// error naming the input; nothing is written then.
func MergeJUnit(w io.Writer, ins []JUnitInput) (MergeSummary, error) {
	var sum MergeSummary
	if len(ins) == 0 {
		return sum, errors.New("junit merge: no input file")
	}
	type parsed struct {
		label  string
		suites []junitSuite
	}
	var docs []parsed
	seen := map[int]int{} // shard K -> inputs
	plain := ""           // an input without a shard property
	for _, in := range ins {
		suites, err := parseJUnit(in.Data)
		if err != nil {
			return sum, fmt.Errorf("%s: %w", in.Name, err)
		}
		shard := ""
		for _, s := range suites {
			if v := s.prop("shard"); v != "" {
				if shard != "" && v != shard {
					return sum, fmt.Errorf("%s: testsuites of shards %s and %s in one file", in.Name, shard, v)
				}
				shard = v
			}
		}
		if shard == "" {
			plain = in.Name
			docs = append(docs, parsed{in.Name, suites})
			continue
		}
		k, n, err := parseShardValue(shard)
		if err != nil {
			return sum, fmt.Errorf("%s: property shard: %w", in.Name, err)
		}
		if sum.Shards != 0 && n != sum.Shards {
			return sum, fmt.Errorf("%s: shard %s of a %d-share run, the other inputs are of %d shares", in.Name, shard, n, sum.Shards)
		}
		sum.Shards = n
		seen[k]++
		docs = append(docs, parsed{shard, suites})
	}
	if plain != "" && sum.Shards != 0 {
		return sum, fmt.Errorf("%s: no shard property, but other inputs are shards of a sharded run", plain)
	}
	for k := 1; k <= sum.Shards; k++ {
		switch {
		case seen[k] == 0:
			sum.Missing = append(sum.Missing, k)
		case seen[k] > 1:
			sum.Repeated = append(sum.Repeated, k)
		}
	}
	sum.Files = len(docs)

	// Suites by name, in order of first appearance; each property's values
	// by suite, to tell shared ones from per-input ones.
	var order []string
	merged := map[string]*junitSuite{}
	values := map[string]map[string]map[string]bool{} // suite -> property -> values
	secs := map[string]float64{}
	for _, d := range docs {
		for _, s := range d.suites {
			m, ok := merged[s.Name]
			if !ok {
				m = &junitSuite{Name: s.Name, Hostname: s.Hostname, Timestamp: s.Timestamp}
				merged[s.Name] = m
				order = append(order, s.Name)
				values[s.Name] = map[string]map[string]bool{}
			}
			if m.Hostname != s.Hostname {
				m.Hostname = "" // several hosts: each stays in its own hostname property
			}
			if s.Timestamp != "" && (m.Timestamp == "" || s.Timestamp < m.Timestamp) {
				m.Timestamp = s.Timestamp
			}
			secs[s.Name] += parseSeconds(s.Time)
			m.Cases = append(m.Cases, s.Cases...)
			for _, p := range s.props() {
				if values[s.Name][p.Name] == nil {
					values[s.Name][p.Name] = map[string]bool{}
				}
				values[s.Name][p.Name][p.Value] = true
			}
		}
	}
	// Shared properties first, in order of appearance, then each input's
	// own values grouped by input.
	for pass := 0; pass < 2; pass++ {
		for _, d := range docs {
			for _, s := range d.suites {
				m := merged[s.Name]
				if m.Properties == nil {
					m.Properties = &junitProps{}
					if sum.Shards != 0 {
						m.Properties.Props = []junitProperty{{Name: "shards", Value: strconv.Itoa(sum.Shards)}}
					}
				}
				for _, p := range s.props() {
					shared := len(values[s.Name][p.Name]) == 1
					switch {
					case p.Name == "shard": // replaced by "shards"
					case shared && pass == 0 && !slices.Contains(m.Properties.Props, p):
						m.Properties.Props = append(m.Properties.Props, p)
					case !shared && pass == 1:
						p.Name = d.label + ": " + p.Name
						m.Properties.Props = append(m.Properties.Props, p)
					}
				}
			}
		}
	}
	doc := junitSuites{Name: "sdnlab"}
	var total float64
	for _, name := range order {
		m := merged[name]
		for _, c := range m.Cases {
			m.Tests++
			switch {
			case c.Failure != nil:
				m.Failures++
			case c.Error != nil:
				m.Errors++
			case c.Skipped != nil:
				m.Skipped++
			}
		}
		m.Time = strconv.FormatFloat(secs[name], 'f', 3, 64)
		total += secs[name]
		if m.Properties != nil && len(m.Properties.Props) == 0 {
			m.Properties = nil
		}
		doc.Tests += m.Tests
		doc.Failures += m.Failures
		doc.Errors += m.Errors
		sum.Skipped += m.Skipped
		doc.Suites = append(doc.Suites, *m)
	}
	doc.Time = strconv.FormatFloat(total, 'f', 3, 64)
	sum.Tests, sum.Failures, sum.Errors = doc.Tests, doc.Failures, doc.Errors

	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return sum, fmt.Errorf("junit merge: %w", err)
	}
	b.WriteString("\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return sum, fmt.Errorf("junit merge: %w", err)
	}
	return sum, nil
}

// parseJUnit reads a testsuites or a single testsuite document.
func parseJUnit(data []byte) ([]junitSuite, error) {
	var root struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("not JUnit XML: %w", err)
	}
	switch root.XMLName.Local {
	case "testsuites":
		var doc junitSuites
		if err := xml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("not JUnit XML: %w", err)
		}
		return doc.Suites, nil
	case "testsuite":
		var s junitSuite
		if err := xml.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("not JUnit XML: %w", err)
		}
		return []junitSuite{s}, nil
	}
	return nil, fmt.Errorf("not JUnit XML: root element <%s>, want <testsuites> or <testsuite>", root.XMLName.Local)
}

// parseShardValue reads the "K/N" of a shard property.
func parseShardValue(v string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(v, "/")
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	if !ok || kerr != nil || nerr != nil || n < 1 || k < 1 || k > n {
		return 0, 0, fmt.Errorf("%q is not K/N with 1 <= K <= N", v)
	}
	return k, n, nil
}

// parseSeconds reads a time attribute; a missing or odd one counts as 0.
func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 {
		return 0
	}
	return f
}

func (s junitSuite) props() []junitProperty {
	if s.Properties == nil {
		return nil
	}
	return s.Properties.Props
}

func (s junitSuite) prop(name string) string {
	for _, p := range s.props() {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}
