package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input to `sdnlab test` and `sdnlab demo` exits 2 (before any root
// check), naming the file and line where there is one.
func TestTestCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nsteps:\n  - ping: {from: vm1, too: vm2}\n"), 0o644); err != nil {
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
