package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// shardPairs is a run over two labs: every built-in scenario on each, and
// mtu twice more with parameters (a scenario may be selected several times).
func shardPairs() []Pair {
	var pairs []Pair
	for _, lab := range []string{"racks", "evpn"} {
		for _, s := range All() {
			pairs = append(pairs, Pair{Lab: lab, Sel: Selected{Scenario: s}})
		}
		mtu, _ := Lookup("mtu")
		pairs = append(pairs,
			Pair{Lab: lab, Sel: Selected{Scenario: mtu, Params: map[string]string{"size": "9000", "family": "6"}}},
			Pair{Lab: lab, Sel: Selected{Scenario: mtu, Params: map[string]string{"size": "1400"}}})
	}
	return pairs
}

func pairID(p Pair) string { return strings.ReplaceAll(p.Key(), "\x00", " ") }

// The shares of N = 1..5 together hold every pair exactly once, none is
// empty while N <= pairs, their sizes differ by at most one, and each share
// keeps the order it was given.
func TestShardUnion(t *testing.T) {
	pairs := shardPairs()
	for n := 1; n <= 5; n++ {
		seen := map[string]int{}
		lo, hi := len(pairs), 0
		for k := 1; k <= n; k++ {
			got := Shard{K: k, N: n}.Take(pairs)
			lo, hi = min(lo, len(got)), max(hi, len(got))
			last := -1
			for _, p := range got {
				seen[pairID(p)]++
				i := slices.IndexFunc(pairs, func(q Pair) bool { return q.Key() == p.Key() })
				if i < last {
					t.Errorf("shard %d/%d: %s out of the given order", k, n, pairID(p))
				}
				last = i
			}
		}
		for _, p := range pairs {
			if seen[pairID(p)] != 1 {
				t.Errorf("N=%d: %s is in %d shards, want 1", n, pairID(p), seen[pairID(p)])
			}
		}
		if len(seen) != len(pairs) {
			t.Errorf("N=%d: %d distinct pairs in the shards, want %d", n, len(seen), len(pairs))
		}
		if lo == 0 || hi-lo > 1 {
			t.Errorf("N=%d: shard sizes from %d to %d", n, lo, hi)
		}
	}
	if got := (Shard{}).Take(pairs); len(got) != len(pairs) {
		t.Errorf("no sharding: %d pairs, want %d", len(got), len(pairs))
	}
}

// The assignment depends only on the pairs: not on their order, on map
// iteration (parameters) or on the run; and it is pinned, so a change that
// would move pairs between shards (and desynchronise runners on different
// sdnlab versions) shows up here.
func TestShardStable(t *testing.T) {
	pairs := shardPairs()
	assign := func(ps []Pair, n int) map[string]int {
		m := map[string]int{}
		for k := 1; k <= n; k++ {
			for _, p := range (Shard{K: k, N: n}).Take(ps) {
				m[pairID(p)] = k
			}
		}
		return m
	}
	for n := 1; n <= 5; n++ {
		want := assign(pairs, n)
		for run := 0; run < 20; run++ {
			// Reversed and rotated input, fresh parameter maps.
			ps := slices.Clone(pairs)
			slices.Reverse(ps)
			r := run % len(ps)
			ps = append(ps[r:], ps[:r]...)
			for i := range ps {
				if ps[i].Sel.Params != nil {
					m := map[string]string{}
					for k, v := range ps[i].Sel.Params {
						m[k] = v
					}
					ps[i].Sel.Params = m
				}
			}
			got := assign(ps, n)
			for id, k := range want {
				if got[id] != k {
					t.Fatalf("N=%d run %d: %s in shard %d, was %d", n, run, id, got[id], k)
				}
			}
		}
	}
	// Pinned: sorted by lab then scenario, shard 1 of 3 takes the 1st,
	// 4th, 7th, ... pair.
	pairs = nil
	for _, n := range []string{"e", "a", "d", "b", "g", "c", "f"} {
		lab := "lab1"
		if n == "c" { // the second lab sorts after the first
			lab = "lab2"
		}
		pairs = append(pairs, Pair{Lab: lab, Sel: Selected{Scenario: funcScenario{name: n}}})
	}
	names := func(ps []Pair) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Sel.Scenario.Name())
		}
		return fmt.Sprint(out)
	}
	// Sorted: lab1/a b d e f g, then lab2/c; shard 1 takes a, e and c.
	for k, want := range map[int]string{1: "[e a c]", 2: "[b f]", 3: "[d g]"} {
		if got := names(Shard{K: k, N: 3}.Take(pairs)); got != want {
			t.Errorf("shard %d/3: %v, want %v (in the given order)", k, got, want)
		}
	}
	// More shards than pairs: the last ones are empty.
	if got := (Shard{K: 3, N: 3}).Take(pairs[:2]); len(got) != 0 {
		t.Errorf("shard 3/3 of two pairs: %d, want none", len(got))
	}
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"1/1": {1, 1}, "2/4": {2, 4}, "4/4": {4, 4}, " 3 / 5 ": {3, 5}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"0/3": "K must be between 1 and N", "4/3": "K must be between 1 and N", "-1/3": "K must be between",
		"1/0": "N must be at least 1", "1/-2": "N must be at least 1",
		"3": "want K/N", "": "want K/N", "a/b": "want K/N", "1/2/3": "want K/N", "1.5/2": "want K/N",
	} {
		if _, err := ParseShard(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseShard(%q): %v, want %q", in, err, msg)
		}
	}
}
