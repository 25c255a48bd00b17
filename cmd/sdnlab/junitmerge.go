package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sdnlab/sdnlab/reports"
)

func junitMergeCommand() *command {
	return &command{
		name:    "junit-merge",
		summary: "merge the JUnit files of a sharded run (test --shard K/N) into one",
		usage:   "OUT.xml IN.xml...",
		run: func(_ context.Context, args []string) error {
			return runJUnitMerge(args, os.Stdout)
		},
	}
}

// runJUnitMerge writes the merged file, then judges the whole run as
// `sdnlab test` judges one: exit 1 when a test case failed or errored or a
// share of a sharded run is missing or came twice (missing evidence is no
// pass), 2 when no check ran anywhere or the input is bad (then nothing is
// written).
func runJUnitMerge(args []string, out io.Writer) error {
	fs := newFlagSet("junit-merge")
	if err := fs.Parse(args); err != nil {
		return badInput("%v", err)
	}
	if fs.NArg() < 2 {
		return badInput("an output file and at least one input file are needed, got %d arguments", fs.NArg())
	}
	dst := fs.Arg(0)
	var ins []reports.JUnitInput
	for _, p := range fs.Args()[1:] {
		b, err := os.ReadFile(p)
		if err != nil {
			return badInput("%v", err)
		}
		ins = append(ins, reports.JUnitInput{Name: p, Data: b})
	}
	var buf bytes.Buffer
	sum, err := reports.MergeJUnit(&buf, ins)
	if err != nil {
		return badInput("%v", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	shards := ""
	if sum.Shards != 0 {
		shards = fmt.Sprintf(" from %d of %d shards", sum.Shards-len(sum.Missing), sum.Shards)
	}
	fmt.Fprintf(out, "wrote %s: %d files%s, %d tests, %d failures, %d errors, %d skipped\n",
		dst, sum.Files, shards, sum.Tests, sum.Failures, sum.Errors, sum.Skipped)
	switch {
	case !sum.Complete():
		return &checkFailed{fmt.Sprintf("incomplete sharded run: shards missing %v, given more than once %v (of %d)", sum.Missing, sum.Repeated, sum.Shards)}
	case sum.Failures+sum.Errors > 0:
		return &checkFailed{fmt.Sprintf("%d failed, %d errors of %d tests", sum.Failures, sum.Errors, sum.Tests)}
	case sum.Tests == sum.Skipped:
		return &noCheckRan{fmt.Sprintf("no check ran: all %d tests of the merged run skipped", sum.Tests)}
	}
	return nil
}
