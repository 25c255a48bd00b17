package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

var updateFabricErrors = flag.Bool("update-fabric-errors", false, "rewrite testdata/fabric-errors/*/errors")

// Every message of the fabric types, for fabrics.cfg files full of
// mistakes (one per protocol, and protocols mixed), is pinned: the
// decoding and validation the fabric types own must not drift.
func TestFabricErrors(t *testing.T) {
	dirs, err := filepath.Glob("testdata/fabric-errors/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, err := config.Load(dir, registry.Config())
			if err == nil {
				t.Fatal("loaded without an error")
			}
			got := err.Error() + "\n"
			file := filepath.Join(dir, "errors")
			if *updateFabricErrors {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s:\ngot:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}
