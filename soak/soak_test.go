package soak

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// nextMove always brings every guest home after exactly the requested
// number of migrations, and never "moves" a guest to where it is.
func TestNextMoveEndsHome(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		s := &soakLab{nodes: []string{"n1", "n2", "n3"}, home: map[string]string{}, where: map[string]string{}, moves: map[string]int{}}
		for i, g := range []string{"a", "b", "c", "d"} {
			s.home[g], s.where[g] = s.nodes[i%3], s.nodes[i%3]
		}
		n := 2 + int(seed%40)
		for i := 0; i < n; i++ {
			g, to := s.nextMove(rng, n-i)
			if to == s.where[g] || !slices.Contains(s.nodes, to) {
				t.Fatalf("seed %d: move %d sends %s from %s to %s", seed, i, g, s.where[g], to)
			}
			s.where[g] = to
		}
		for g := range s.home {
			if s.where[g] != s.home[g] {
				t.Fatalf("seed %d, %d moves: %s ends on %s, home is %s", seed, n, g, s.where[g], s.home[g])
			}
		}
	}
}

func TestDiffTables(t *testing.T) {
	want := map[string][]string{"n1": {"a", "b"}, "n2": {"c"}}
	if d := diffTables(want, map[string][]string{"n1": {"a", "b"}, "n2": {"c"}}); len(d) != 0 {
		t.Errorf("equal tables differ: %v", d)
	}
	d := diffTables(want, map[string][]string{"n1": {"a", "x"}, "n2": {}})
	if !slices.Equal(d, []string{"n1: missing: b", "n1: stale: x", "n2: missing: c"}) {
		t.Errorf("diff %v", d)
	}
}

func TestWithin10(t *testing.T) {
	for _, c := range []struct {
		a, b int
		ok   bool
	}{{100, 110, true}, {100, 111, false}, {100, 90, true}, {100, 89, false}, {38, 38, true}} {
		if within10(c.a, c.b) != c.ok {
			t.Errorf("within10(%d, %d) = %v", c.a, c.b, !c.ok)
		}
	}
}
