package reports

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// shardJUnit writes share k of n of sampleRun (every n-th scenario) as
// `sdnlab test --shard k/n --junit` would.
func shardJUnit(t *testing.T, k, n int, upTime string) JUnitInput {
	t.Helper()
	r := sampleRun()
	r.Properties = map[string]string{"kernel": "6.1.0", "hostname": fmt.Sprintf("ci-%d", k), "lab up": upTime, "shard": fmt.Sprintf("%d/%d", k, n)}
	var mine []Scenario
	for i, s := range r.Scenarios {
		if i%n == k-1 {
			mine = append(mine, s)
		}
	}
	r.Scenarios = mine
	r.Started = r.Started.Add(time.Duration(k) * time.Minute)
	var b bytes.Buffer
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	return JUnitInput{Name: fmt.Sprintf("shard-%d/junit.xml", k), Data: b.Bytes()}
}

func caseNames(t *testing.T, data []byte) []string {
	t.Helper()
	suites, err := parseJUnit(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range suites {
		for _, c := range s.Cases {
			out = append(out, s.Name+"/"+c.Name)
		}
	}
	slices.Sort(out)
	return out
}

// The shards' JUnit files merge into one that holds the test cases of the
// unsharded run, recounted, with shared properties once and each shard's
// own values under its shard; an empty shard (no test case) merges too.
func TestMergeJUnit(t *testing.T) {
	var whole bytes.Buffer
	if err := WriteJUnit(&whole, sampleRun()); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 5; n++ { // sampleRun has 4 scenarios: shard 5/5 is empty
		var ins []JUnitInput
		for k := n; k >= 1; k-- { // any order
			ins = append(ins, shardJUnit(t, k, n, fmt.Sprintf("%dms", 100*k)))
		}
		var out bytes.Buffer
		sum, err := MergeJUnit(&out, ins)
		if err != nil {
			t.Fatalf("N=%d: %v", n, err)
		}
		if got, want := caseNames(t, out.Bytes()), caseNames(t, whole.Bytes()); !slices.Equal(got, want) {
			t.Errorf("N=%d: merged cases %v, want %v", n, got, want)
		}
		if sum.Files != n || sum.Shards != n || !sum.Complete() || sum.Tests != 4 || sum.Failures != 1 || sum.Errors != 1 || sum.Skipped != 1 {
			t.Errorf("N=%d: summary %+v", n, sum)
		}
		s := out.String()
		for _, want := range []string{`tests="4" failures="1" errors="1"`, `skipped="1"`, `<property name="shards" value="` + fmt.Sprint(n) + `">`,
			`<property name="kernel" value="6.1.0">`, `<property name="live-migration: lost" value="4 pings">`,
			`timestamp="2026-03-04T05:07:07"`, "cdata end", "first move bumped from 0 to 0"} {
			if !strings.Contains(s, want) {
				t.Errorf("N=%d: merged JUnit lacks %s:\n%s", n, want, s)
			}
		}
		if n > 1 && (!strings.Contains(s, fmt.Sprintf(`<property name="%d/%d: lab up" value="%dms">`, n, n, 100*n)) ||
			!strings.Contains(s, `<property name="1/`+fmt.Sprint(n)+`: hostname" value="ci-1">`)) {
			t.Errorf("N=%d: per-shard properties missing:\n%s", n, s)
		}
		if strings.Contains(s, `name="shard"`) || strings.Count(s, `name="kernel"`) != 1 {
			t.Errorf("N=%d: shard or kernel property not merged:\n%s", n, s)
		}
		// The merged file is JUnit again.
		if _, err := MergeJUnit(&bytes.Buffer{}, []JUnitInput{{Name: "merged.xml", Data: out.Bytes()}}); err != nil {
			t.Errorf("N=%d: merged file does not parse: %v", n, err)
		}
	}
}

// A missing or repeated share is reported; files that are not JUnit, of
// different N, or sharded and unsharded mixed are errors naming the file.
func TestMergeJUnitProblems(t *testing.T) {
	s1, s2, s3 := shardJUnit(t, 1, 3, "1s"), shardJUnit(t, 2, 3, "1s"), shardJUnit(t, 3, 3, "1s")
	sum, err := MergeJUnit(&bytes.Buffer{}, []JUnitInput{s1, s3, s3})
	if err != nil || sum.Complete() || fmt.Sprint(sum.Missing) != "[2]" || fmt.Sprint(sum.Repeated) != "[3]" {
		t.Errorf("shards 1,3,3 of 3: %+v, %v", sum, err)
	}
	var plain bytes.Buffer
	if err := WriteJUnit(&plain, sampleRun()); err != nil {
		t.Fatal(err)
	}
	bare := []byte(`<?xml version="1.0"?><testsuite name="other" tests="1"><testcase name="x" classname="other"><skipped/></testcase></testsuite>`)
	sum, err = MergeJUnit(&bytes.Buffer{}, []JUnitInput{{Name: "a.xml", Data: plain.Bytes()}, {Name: "b.xml", Data: bare}})
	if err != nil || sum.Shards != 0 || !sum.Complete() || sum.Tests != 5 || sum.Skipped != 2 {
		t.Errorf("unsharded files: %+v, %v", sum, err)
	}
	for _, c := range []struct {
		ins  []JUnitInput
		want string
	}{
		{nil, "no input file"},
		{[]JUnitInput{s1, {Name: "bad.xml", Data: []byte("not xml")}}, "bad.xml: not JUnit XML"},
		{[]JUnitInput{{Name: "html.xml", Data: []byte("<html></html>")}}, "html.xml: not JUnit XML: root element <html>"},
		{[]JUnitInput{s1, shardJUnit(t, 2, 4, "1s")}, "shard-2/junit.xml: shard 2/4 of a 4-share run, the other inputs are of 3 shares"},
		{[]JUnitInput{s1, s2, {Name: "plain.xml", Data: plain.Bytes()}}, "plain.xml: no shard property"},
		{[]JUnitInput{{Name: "odd.xml", Data: bytes.Replace(s1.Data, []byte(`value="1/3"`), []byte(`value="4/3"`), 1)}}, `odd.xml: property shard: "4/3" is not K/N`},
	} {
		var out bytes.Buffer
		if _, err := MergeJUnit(&out, c.ins); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		} else if out.Len() != 0 {
			t.Errorf("%q: wrote %d bytes on error", c.want, out.Len())
		}
	}
}
