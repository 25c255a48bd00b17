package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/topology"
)

// shardFile writes the JUnit file of one share as `sdnlab test --shard`
// does (finishRun), with the given results.
func shardFile(t *testing.T, dir string, sh scenarios.Shard, res ...*scenarios.Result) string {
	t.Helper()
	for _, r := range res {
		r.Finish()
	}
	o := &scenarios.Outcome{Lab: &topology.Lab{Name: "evpn"}, Started: time.Now(), Results: res, Props: shardProps(sh)}
	path := filepath.Join(dir, strings.ReplaceAll(sh.String(), "/", "of"), "junit.xml")
	_ = finishRun(&strings.Builder{}, o, path, "") // its verdict is not what is tested here
	return path
}

func pass(name string) *scenarios.Result {
	r := scenarios.NewResult(name)
	r.Expect("reply", true, "a reply", "a reply", "")
	return r
}

// The shards of a run merge into one JUnit file; the merge judges the whole
// run: 0 when every share came and passed, 1 on a failure or a missing
// share (the file is still written), 2 when nothing ran or the input is bad.
func TestJUnitMerge(t *testing.T) {
	dir := t.TempDir()
	s1 := shardFile(t, dir, scenarios.Shard{K: 1, N: 3}, pass("mtu"), scenarios.NewResult("snat").Skipf("no snat subnet"))
	s2 := shardFile(t, dir, scenarios.Shard{K: 2, N: 3}, pass("urpf"))
	// Share 3 of a run with two pairs is empty: the real empty-shard path.
	s3 := filepath.Join(dir, "3of3", "junit.xml")
	if err := runTest(context.Background(), []string{"../../examples/evpn/lab.yaml", "--scenario", "mtu", "--scenario", "urpf", "--shard", "3/3", "--junit", s3}, &strings.Builder{}); err == nil {
		t.Fatal("empty shard passed")
	}
	fail := scenarios.NewResult("tenant-isolation")
	fail.Expect("isolated", false, "no reply", "a reply", "")
	s2bad := shardFile(t, filepath.Join(dir, "bad"), scenarios.Shard{K: 2, N: 3}, fail)
	skip1 := shardFile(t, filepath.Join(dir, "skip"), scenarios.Shard{K: 1, N: 2}, scenarios.NewResult("snat").Skipf("no snat subnet"))
	skip2 := shardFile(t, filepath.Join(dir, "skip"), scenarios.Shard{K: 2, N: 2}, scenarios.NewResult("mtu").Skipf("no EVPN zone"))

	out := filepath.Join(dir, "merged", "junit.xml")
	var log strings.Builder
	if err := runJUnitMerge([]string{out, s3, s1, s2}, &log); err != nil {
		t.Fatalf("complete passing run: %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`tests="3" failures="0" errors="0"`, `name="mtu"`, `name="urpf"`, `name="snat"`, `<property name="shards" value="3">`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("merged file lacks %s:\n%s", want, b)
		}
	}
	if !strings.Contains(log.String(), "3 files from 3 of 3 shards, 3 tests, 0 failures, 0 errors, 1 skipped") {
		t.Errorf("summary: %s", log.String())
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{out, s1, s2bad, s3}, exitFailed, "1 failed, 0 errors of 3 tests"},
		{[]string{out, s1, s3}, exitFailed, "shards missing [2]"},
		{[]string{out, s1, s2, s2, s3}, exitFailed, "given more than once [2]"},
		{[]string{out, skip1, skip2}, exitBadInput, "no check ran"},
	}
	for _, c := range cases {
		os.Remove(out)
		err := runJUnitMerge(c.args, &strings.Builder{})
		if err == nil || exitCode(junitMergeCommand(), err) != c.code || !strings.Contains(err.Error(), c.want) {
			t.Errorf("merge %v: %v, want exit %d with %q", c.args[1:], err, c.code, c.want)
		}
		if _, err := os.Stat(out); err != nil {
			t.Errorf("merge %v: the merged file was not written: %v", c.args[1:], err)
		}
	}
	notJUnit := filepath.Join(dir, "report.json")
	if err := os.WriteFile(notJUnit, []byte(`{"ok": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		args []string
		want string
	}{
		{nil, "at least one input"},
		{[]string{out}, "at least one input"},
		{[]string{out, filepath.Join(dir, "nope.xml")}, "nope.xml: no such file"},
		{[]string{out, s1, notJUnit}, "report.json: not JUnit XML"},
		{[]string{out, s1, skip2}, "shard 2/2 of a 2-share run, the other inputs are of 3 shares"},
	}
	for _, c := range bad {
		os.Remove(out)
		err := runJUnitMerge(c.args, &strings.Builder{})
		if err == nil || exitCode(junitMergeCommand(), err) != exitBadInput || !strings.Contains(err.Error(), c.want) {
			t.Errorf("merge %v: %v, want exit 2 with %q", c.args, err, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("merge %v: wrote a file on bad input", c.args)
		}
	}
}
