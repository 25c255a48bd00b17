package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

// Bad input to `sdnlab test` and `sdnlab demo` exits 2 (before any root
// check), naming the file and line where there is one.
func TestTestCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nsteps:\n  - ping: {from: vm1, too: vm2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{nil, "exactly one lab file"},
		{[]string{"lab.yaml", "--scenario", "no-such"}, `unknown scenario "no-such"`},
		{[]string{"lab.yaml", "--scenario", "mtu:colour=red"}, "unknown parameter colour"},
		{[]string{"lab.yaml", "--scenario", bad}, "bad.yaml:3: step 1 (ping): unknown field \"too\""},
		{[]string{"lab.yaml", "--frobnicate"}, "flag provided but not defined"},
		// Parameter values are typed and checked before any bring-up.
		{[]string{"lab.yaml", "--scenario", "vm-live-migration:pause=abc"}, `parameter pause: "abc" is not a duration`},
		{[]string{"../../examples/evpn/lab.yaml", "--scenario", "vm-live-migration:to=node9"}, `has no node "node9"`},
		{[]string{"lab.yaml", "--scenario", empty}, "empty.yaml: empty scenario file"},
		{[]string{"/dev/zero", "--scenario", "mtu"}, "/dev/zero: cannot read lab file: not a regular file"},
		// The engine flags are checked before any root check or bring-up.
		{[]string{"../../examples/evpn/lab.yaml", "--engine", "bird"}, `--engine "bird": want agent, frr or both`},
		{[]string{"../../examples/evpn/lab.yaml", "--frr", "9"}, `--frr: "9" is not an FRR release`},
		{[]string{"../../examples/evpn/lab.yaml", "--engine", "both", "--keep"}, "--keep does not go with --engine both"},
		// An impairment's target is a name in the lab file: a typo must not
		// cost a bring-up (its interfaces exist only once the lab is up).
		{[]string{"../../examples/evpn/lab.yaml", "--impair", "node9:loss=2%"}, `--impair node9: lab evpn has no node, router, host, guest, switch or segment "node9"`},
		{[]string{"../../examples/evpn/lab.yaml", "--impair", "node9:eth0:delay=5ms"}, `segment "node9"`},
	}
	for _, c := range cases {
		var out strings.Builder
		err := runTest(context.Background(), c.args, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("test %v: error %v, want %q", c.args, err, c.want)
			continue
		}
		if code := exitCode(testCommand(), err); code != exitBadInput {
			t.Errorf("test %v: exit code %d, want %d", c.args, code, exitBadInput)
		}
	}
	var out strings.Builder
	if err := runDemo(context.Background(), []string{"--scenario", "no-such"}, &out); err == nil || exitCode(demoCommand(), err) != exitBadInput {
		t.Errorf("demo with an unknown scenario: %v", err)
	}
}

func TestTestCommandList(t *testing.T) {
	var out strings.Builder
	if err := runTest(context.Background(), []string{"--list"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bum-replication", "vm-live-migration", "pause=\"50ms\""} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("--list lacks %s:\n%s", name, out.String())
		}
	}
}

// An interrupted run writes its reports, says so, and ends with the
// interrupted error (exit 130), not a failure.
func TestFinishRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sel := []scenarios.Selected{{Scenario: scenarios.All()[0]}}
	res := (&scenarios.Runner{}).Run(ctx, sel)
	o := &scenarios.Outcome{Lab: &topology.Lab{Name: "t"}, Started: time.Now(), Results: res,
		ReadyErr: fmt.Errorf("wait: %w", scenarios.ErrInterrupted), Ready: 300 * time.Millisecond, Scenarios: time.Millisecond}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	var out strings.Builder
	err := finishRun(&out, o, junit, "")
	var ie *interrupted
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an interrupted error", err)
	}
	b, rerr := os.ReadFile(junit)
	if rerr != nil || !strings.Contains(string(b), "interrupted") {
		t.Errorf("junit: %v\n%s", rerr, b)
	}
	s := out.String()
	for _, want := range []string{"interrupted: 0 of 1 scenarios completed", "scenarios took 1ms; total", "wait: interrupted"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "overlay ready in") {
		t.Errorf("summary claims the overlay was ready:\n%s", s)
	}
}

// A run in which every scenario skipped checked nothing: exit 2, "no check
// ran", and the table says why each one skipped.
func TestFinishRunNothingRan(t *testing.T) {
	res := []*scenarios.Result{
		scenarios.NewResult("arp-nd-suppression").Skipf("no EVPN VNet with two guests on different nodes"),
		scenarios.NewResult("snat").Skipf("no guest in a subnet with snat"),
	}
	for _, r := range res {
		r.Finish()
	}
	o := &scenarios.Outcome{Lab: &topology.Lab{Name: "t"}, Started: time.Now(), Results: res}
	jsonOut := filepath.Join(t.TempDir(), "r.json")
	var out strings.Builder
	err := finishRun(&out, o, "", jsonOut)
	if err == nil || exitCode(testCommand(), err) != exitBadInput || !strings.Contains(err.Error(), "no check ran") {
		t.Fatalf("got %v, want exit 2 with no check ran", err)
	}
	for _, want := range []string{"skipped: no EVPN VNet with two guests", "skipped: no guest in a subnet with snat", "NO CHECK RAN:", "no check ran"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if b, _ := os.ReadFile(jsonOut); !strings.Contains(string(b), `"ok": false`) {
		t.Errorf("JSON report of a run that checked nothing says ok:\n%s", b)
	}
}

// checkImpairTargets takes every name ResolveIfaces does (a segment, a
// node, guest, router, host or switch, with or without an interface).
func TestCheckImpairTargetsKnownNames(t *testing.T) {
	lab, err := topology.Load("../../examples/evpn/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"lan", "node1", "node2:eth0", "vm11", "inet", "sw-lan:p0"} {
		im, err := scenarios.ParseImpairment(target + ":loss=1%")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkImpairTargets(lab, []scenarios.Impairment{im}); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
}
