package topology

import (
	"path/filepath"
	"testing"
)

// A plan rewritten with other content is a change (the agent restarts),
// the first write and the same content again are not.
func TestWriteJSONChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes", "n1", "plan.json")
	for i, c := range []struct {
		v    any
		want bool
	}{{map[string]int{"a": 1}, false}, {map[string]int{"a": 1}, false}, {map[string]int{"a": 2}, true}} {
		got, err := writeJSONChanged(path, c.v)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("write %d (%v): changed = %v, want %v", i, c.v, got, c.want)
		}
	}
}
