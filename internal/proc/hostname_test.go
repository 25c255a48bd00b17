package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Without a UTS namespace of its own (the one Spec.Hostname makes), a
// process asked to set its hostname leaves the host's alone.
func TestSetOwnHostnameLeavesHostAlone(t *testing.T) {
	before, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(HostnameEnv, "sdnlab-must-not-be-set")
	did, err := SetOwnHostname()
	after, _ := os.Hostname()
	if did || err != nil || after != before {
		t.Fatalf("set %v (err %v): hostname %q, was %q", did, err, after, before)
	}
}

// A process started with Spec.Hostname sets that name in its own UTS
// namespace; the starting process's hostname stays.
func TestStartedProcessSetsItsHostname(t *testing.T) {
	if os.Getenv("SDNLAB_TEST_HOSTNAME_CHILD") != "" {
		did, err := SetOwnHostname()
		name, _ := os.Hostname()
		fmt.Printf("set=%v err=%v hostname=%s\n", did, err, name)
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: a UTS and a network namespace")
	}
	ns := fmt.Sprintf("sdnlab-t%d-uts", os.Getpid())
	if err := nsutil.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nsutil.Delete(ns) })
	before, _ := os.Hostname()
	dir := t.TempDir()
	s := Spec{Name: "hostname child", NS: ns, Argv: []string{os.Args[0], "-test.run=^TestStartedProcessSetsItsHostname$"},
		Env:     append(os.Environ(), "SDNLAB_TEST_HOSTNAME_CHILD=1"),
		LogFile: filepath.Join(dir, "child.log"), PIDFile: filepath.Join(dir, "child.pid"), Hostname: "node7"}
	if _, err := Start(s); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(s.LogFile)
		if strings.Contains(string(b), "hostname=") {
			if !strings.Contains(string(b), "set=true err=<nil> hostname=node7") {
				t.Fatalf("child: %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child said nothing: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after, _ := os.Hostname(); after != before {
		t.Fatalf("our hostname changed to %q (was %q)", after, before)
	}
}
