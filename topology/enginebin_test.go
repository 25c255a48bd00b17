package topology

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The daemons run from sdnlab-engine beside the CLI only when it is an
// executable at least as new as the CLI; anything else falls back to the
// CLI, which runs the same daemons.
func TestEngineBeside(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "sdnlab")
	engine := filepath.Join(dir, EngineName)
	write := func(p string, mode os.FileMode, at time.Time) {
		t.Helper()
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	write(exe, 0o755, now)
	if got := engineBeside(exe); got != exe {
		t.Errorf("no engine: got %s, want the CLI", got)
	}
	write(engine, 0o755, now.Add(time.Second))
	if got := engineBeside(exe); got != engine {
		t.Errorf("newer engine: got %s, want it", got)
	}
	write(engine, 0o644, now.Add(time.Second))
	if got := engineBeside(exe); got != exe {
		t.Errorf("engine not executable: got %s, want the CLI", got)
	}
	write(engine, 0o755, now.Add(-time.Hour))
	if got := engineBeside(exe); got != exe {
		t.Errorf("engine older than the CLI: got %s, want the CLI", got)
	}
}
