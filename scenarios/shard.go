package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Shard is share K of N of a run's (lab, scenario) pairs: N CI runners,
// each given its own K, together run every pair exactly once. The
// assignment depends only on the lab names, scenario names and
// parameters, never on map order, hash seeds, the machine or the order of
// the --scenario flags, so every runner computes the same split.
type Shard struct{ K, N int }

// All is the zero Shard: no sharding, every pair.
func (s Shard) All() bool { return s.N == 0 }

// String is "K/N", or "" for no sharding.
func (s Shard) String() string {
	if s.All() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// ParseShard reads "K/N" with 1 <= K <= N.
func ParseShard(v string) (Shard, error) {
	ks, ns, ok := strings.Cut(v, "/")
	k, kerr := strconv.Atoi(strings.TrimSpace(ks))
	n, nerr := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case !ok || kerr != nil || nerr != nil:
		return Shard{}, errors.New("want K/N, e.g. 2/4 for the second of four shares")
	case n < 1:
		return Shard{}, errors.New("N must be at least 1")
	case k < 1 || k > n:
		return Shard{}, fmt.Errorf("K must be between 1 and N (%d)", n)
	}
	return Shard{K: k, N: n}, nil
}

// Pair is one selected scenario on one lab.
type Pair struct {
	Lab string
	Sel Selected
}

// Key orders the pairs: lab, scenario and its parameters as sorted
// key=value (a map's order would differ from run to run).
func (p Pair) Key() string {
	keys := make([]string, 0, len(p.Sel.Params))
	for k := range p.Sel.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(p.Lab)
	b.WriteByte(0)
	b.WriteString(p.Sel.Scenario.Name())
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%s=%s", k, p.Sel.Params[k])
	}
	return b.String()
}

// Take returns the pairs of shard s in their given order: the pairs sorted
// by Key (ties, a pair given twice, keep their order), every N-th one
// starting at the K-th. Round robin over a sorted list keeps the shares
// within one pair of each other, so with N no larger than the number of
// pairs no share is empty.
func (s Shard) Take(pairs []Pair) []Pair {
	if s.All() {
		return pairs
	}
	idx := make([]int, len(pairs))
	for i := range idx {
		idx[i] = i
	}
	keys := make([]string, len(pairs))
	for i, p := range pairs {
		keys[i] = p.Key()
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	mine := make([]bool, len(pairs))
	for pos := s.K - 1; pos < len(idx); pos += s.N {
		mine[idx[pos]] = true
	}
	var out []Pair
	for i, p := range pairs {
		if mine[i] {
			out = append(out, p)
		}
	}
	return out
}
