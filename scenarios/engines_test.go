package scenarios

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/reports"
)

func resultOf(name string, v reports.Verdict, checks ...Check) *Result {
	return &Result{Scenario: name, Verdict: v, Checks: checks}
}

// The same verdicts and check outcomes on both engines pass; any
// difference fails and shows both observations; a scenario run on one
// engine only is an error, never a pass.
func TestCompareEngines(t *testing.T) {
	ok := Check{Name: "fdb", OK: true, Observed: "3 entries"}
	bad := Check{Name: "fdb", OK: false, Observed: "0 entries"}
	same := Compare([]*Result{resultOf("a", reports.Pass, ok)}, []*Result{resultOf("a", reports.Pass, ok)})
	if same.Verdict != reports.Pass {
		t.Errorf("same outcomes: %s\n%s", same.Verdict, same.Explain())
	}
	diff := Compare([]*Result{resultOf("a", reports.Pass, ok)}, []*Result{resultOf("a", reports.Fail, bad)})
	if diff.Verdict != reports.Fail {
		t.Fatalf("diverging outcomes: %s", diff.Verdict)
	}
	ex := diff.Explain()
	for _, want := range []string{"agent pass", "frr fail", "agent: ok, 3 entries", "frr: FAIL, 0 entries"} {
		if !strings.Contains(ex, want) {
			t.Errorf("explanation lacks %q:\n%s", want, ex)
		}
	}
	one := Compare([]*Result{resultOf("a", reports.Pass, ok)}, nil)
	if one.Verdict != reports.Error {
		t.Errorf("one engine only: %s", one.Verdict)
	}
	if none := Compare(nil, nil); none.Verdict != reports.Error {
		t.Errorf("nothing compared: %s", none.Verdict)
	}
	var b bytes.Buffer
	a := resultOf("a", reports.Pass)
	a.Figure("gap", 10, "ms")
	f := resultOf("a", reports.Pass)
	f.Figure("gap", 25, "ms")
	WriteSideBySide(&b, []*Result{a}, []*Result{f})
	if !strings.Contains(b.String(), "10 ms") || !strings.Contains(b.String(), "25 ms") || !strings.Contains(b.String(), "2.50") {
		t.Errorf("side by side:\n%s", b.String())
	}
	if _, err := Engines("bogus"); err == nil {
		t.Error("--engine bogus accepted")
	}
}

// A failure between an FRR node without IPv6 VTEPs and an IPv6 VTEP names
// the release and why; IPv4 underlays and FRR 10.6 or later are left alone.
func TestNoIPv6VTEP(t *testing.T) {
	v6 := func(name, engine, version string) Node {
		return Node{Name: name, Engine: engine, FRRVersion: version, VTEP: netip.MustParseAddr("fd00:10::1")}
	}
	if got := noIPv6VTEP(v6("node1", "frr", "8.4.4"), v6("node2", "agent", "")); !strings.Contains(got, "node1 runs FRR 8.4.4, which has no IPv6 VTEP (FRR has them from 10.6)") {
		t.Errorf("FRR 8.4.4: %q", got)
	}
	if got := noIPv6VTEP(v6("node2", "agent", ""), v6("node1", "frr", "10.3")); !strings.Contains(got, "node1 runs FRR 10.3") {
		t.Errorf("FRR 10.3: %q", got)
	}
	if got := noIPv6VTEP(v6("node1", "frr", "10.6.1"), v6("node2", "agent", "")); got != "" {
		t.Errorf("FRR 10.6.1: %q", got)
	}
	v4 := Node{Name: "node1", Engine: "frr", FRRVersion: "8.4.4", VTEP: netip.MustParseAddr("192.168.0.1")}
	if got := noIPv6VTEP(v4, Node{Name: "node2", Engine: "agent", VTEP: netip.MustParseAddr("192.168.0.2")}); got != "" {
		t.Errorf("IPv4 underlay: %q", got)
	}
}
