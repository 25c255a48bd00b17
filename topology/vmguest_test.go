package topology

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sdnlab/sdnlab/topology/vm"
)

// A second up finds the guest's QEMU that still runs (the newest live
// instance), not a dead one nor another guest's.
func TestRunningVMDir(t *testing.T) {
	state := t.TempDir()
	write := func(dir string, pid int) {
		d := filepath.Join(state, "vm", dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vm.PIDFile(d), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if d := runningVMDir(state, "vm1"); d != "" {
		t.Errorf("no instance: got %q", d)
	}
	write("vm1.0", 1<<22+12345) // no such process
	write("vm1.1", os.Getpid())
	write("vm1.2", 1<<22+12346) // the newest, dead
	write("vm10.3", os.Getpid())
	if d, want := runningVMDir(state, "vm1"), filepath.Join(state, "vm", "vm1.1"); d != want {
		t.Errorf("got %q, want %q", d, want)
	}
}
