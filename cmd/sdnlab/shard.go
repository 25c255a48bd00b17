package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios"
)

// --shard K/N, shared by `sdnlab test` and `sdnlab demo`: a CI matrix of N
// jobs, job K passing --shard K/N, runs every (lab, scenario) pair once
// (scenarios.Shard says how the pairs are split); `sdnlab junit-merge`
// joins the jobs' JUnit files.

// shardFlag is the --shard value; the zero value runs every pair.
type shardFlag struct{ scenarios.Shard }

func (f *shardFlag) String() string { return f.Shard.String() }

func (f *shardFlag) Set(v string) error {
	s, err := scenarios.ParseShard(v)
	if err != nil {
		return err
	}
	f.Shard = s
	return nil
}

func addShardFlag(fs *flag.FlagSet) *shardFlag {
	f := &shardFlag{}
	fs.Var(f, "shard", "run only share K of N of the (lab, scenario) pairs, for a CI matrix of N jobs (K/N, 1 <= K <= N)")
	return f
}

// take returns the pairs of this job's share, in the order given, and
// says how many of how many it runs.
func (f *shardFlag) take(out io.Writer, pairs []scenarios.Pair) []scenarios.Pair {
	if f.All() {
		return pairs
	}
	got := f.Take(pairs)
	fmt.Fprintf(out, "shard %s: %d of the %d (lab, scenario) pairs\n", f.Shard, len(got), len(pairs))
	return got
}

// onLab makes the pairs of scenarios run on one lab.
func onLab(lab string, sel []scenarios.Selected) []scenarios.Pair {
	pairs := make([]scenarios.Pair, len(sel))
	for i, s := range sel {
		pairs[i] = scenarios.Pair{Lab: lab, Sel: s}
	}
	return pairs
}

// selections are the scenarios of pairs.
func selections(pairs []scenarios.Pair) []scenarios.Selected {
	out := make([]scenarios.Selected, len(pairs))
	for i, p := range pairs {
		out[i] = p.Sel
	}
	return out
}

// shardProps are the report properties of a sharded run: junit-merge reads
// "shard" to check that it was given every share exactly once.
func shardProps(sh scenarios.Shard) map[string]string {
	if sh.All() {
		return nil
	}
	return map[string]string{"shard": sh.String()}
}

// emptyShard ends a sharded run whose share holds no pair (N is larger
// than the number of pairs). Nothing is brought up; the reports asked for
// are written with no test case, so a merge sees the share; and, like a
// run in which every scenario skipped, it is no pass: exit 2.
func emptyShard(out io.Writer, sh scenarios.Shard, lab string, pairs int, junit, jsonOut string) error {
	run := scenarios.ToReport(lab, time.Now(), nil, shardProps(sh))
	for _, f := range []struct {
		path string
		fmt  reports.Format
	}{{junit, reports.JUnit}, {jsonOut, reports.JSON}} {
		if f.path == "" {
			continue
		}
		if err := reports.WriteFile(f.path, f.fmt, run); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		fmt.Fprintf(out, "wrote %s\n", f.path)
	}
	msg := fmt.Sprintf("no check ran: shard %s holds none of the %d (lab, scenario) pairs of this run; use at most %d shards", sh, pairs, pairs)
	fmt.Fprintln(out, msg)
	return &noCheckRan{msg}
}
