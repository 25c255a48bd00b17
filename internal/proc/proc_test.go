package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

func TestStartAliveStop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	ns := fmt.Sprintf("sdnlab-t%d-proc", os.Getpid())
	if err := nsutil.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = KillIn(context.Background(), []string{ns}); _ = nsutil.Delete(ns) })
	dir := t.TempDir()
	s := Spec{Name: "test sleeper", NS: ns, Argv: []string{sleep, "60"}, TimerSlack: ControlPlaneSlack,
		LogFile: filepath.Join(dir, "sub", "sleep.log"), PIDFile: filepath.Join(dir, "sub", "sleep.pid")}
	if Alive(s) != 0 {
		t.Fatal("alive before start")
	}
	pid, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := Alive(s); got != pid {
		t.Fatalf("Alive = %d, want %d", got, pid)
	}
	if !InNS(pid, ns) {
		t.Fatalf("process %d is not in %s", pid, ns)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/timerslack_ns", pid)); err != nil {
		t.Fatal(err)
	} else if got := strings.TrimSpace(string(b)); got != strconv.Itoa(int(ControlPlaneSlack)) {
		t.Fatalf("timer slack of the started process = %s ns, want %d", got, ControlPlaneSlack)
	}
	// A second Start finds the running one instead of starting another.
	if again, err := Start(s); err != nil || again != pid {
		t.Fatalf("second Start = %d, %v; want %d", again, err, pid)
	}
	if err := Stop(context.Background(), s, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if ProcessAlive(pid) {
		t.Fatalf("process %d still alive after Stop", pid)
	}
	if _, err := os.Stat(s.PIDFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left after Stop: %v", err)
	}
	// A pid file naming a live process outside the namespace (PID reuse)
	// is not this process.
	if err := os.WriteFile(s.PIDFile, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Alive(s); got != 0 {
		t.Fatalf("Alive = %d for a process outside %s", got, ns)
	}
}

// Kill ends live processes (WaitGone sees them go) and takes one already
// gone as no error; WaitGone gives up on one that stays.
func TestKillWaitGone(t *testing.T) {
	var pids []int
	for range 2 {
		c := exec.Command("sleep", "30")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go c.Wait()
		pids = append(pids, c.Process.Pid)
	}
	live := exec.Command("sleep", "30")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { live.Process.Kill(); live.Wait() }()
	if err := WaitGone(context.Background(), []int{live.Process.Pid}, 50*time.Millisecond); err == nil {
		t.Fatal("WaitGone: a running process counted as gone")
	}
	if err := Kill(pids); err != nil {
		t.Fatal(err)
	}
	if err := WaitGone(context.Background(), pids, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := Kill(pids); err != nil {
		t.Fatalf("Kill of processes already gone: %v", err)
	}
}
