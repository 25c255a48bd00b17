package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad --shard is bad input (exit 2) before anything is loaded or built.
func TestShardBadInput(t *testing.T) {
	for _, v := range []string{"0/3", "4/3", "1/0", "3", "a/b", "-1/2", ""} {
		var out strings.Builder
		err := runTest(context.Background(), []string{"../../examples/evpn/lab.yaml", "--shard", v}, &out)
		if err == nil || exitCode(testCommand(), err) != exitBadInput || !strings.Contains(err.Error(), "-shard") {
			t.Errorf("test --shard %q: %v, want exit 2 naming the flag", v, err)
		}
		err = runDemo(context.Background(), []string{"--shard", v}, &out)
		if err == nil || exitCode(demoCommand(), err) != exitBadInput || !strings.Contains(err.Error(), "-shard") {
			t.Errorf("demo --shard %q: %v, want exit 2 naming the flag", v, err)
		}
	}
}

// A share with no pair brings nothing up and is no pass: exit 2, "no check
// ran", and the JUnit file says zero tests and which share it was.
func TestShardEmpty(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "junit.xml")
	var out strings.Builder
	err := runTest(context.Background(), []string{"../../examples/evpn/lab.yaml", "--scenario", "mtu", "--shard", "2/2", "--junit", junit}, &out)
	if err == nil || exitCode(testCommand(), err) != exitBadInput || !strings.Contains(err.Error(), "no check ran: shard 2/2 holds none of the 1") {
		t.Fatalf("got %v, want exit 2 with no check ran", err)
	}
	b, rerr := os.ReadFile(junit)
	if rerr != nil || !strings.Contains(string(b), `tests="0"`) || !strings.Contains(string(b), `name="shard" value="2/2"`) {
		t.Errorf("junit: %v\n%s", rerr, b)
	}
	if !strings.Contains(out.String(), "shard 2/2: 0 of the 1 (lab, scenario) pairs") {
		t.Errorf("output:\n%s", out.String())
	}
	// The demo's pairs: two selected scenarios, three shares.
	out.Reset()
	err = runDemo(context.Background(), []string{"--scenario", "mtu", "--scenario", "snat", "--shard", "3/3"}, &out)
	if err == nil || exitCode(demoCommand(), err) != exitBadInput || !strings.Contains(err.Error(), "holds none of the 2") {
		t.Fatalf("demo: got %v, want exit 2 with no check ran", err)
	}
}
