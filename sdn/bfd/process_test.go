package bfd

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary the BFD process (TestMain).
const childEnv = "SDNLAB_BFD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := Serve(context.Background(), os.Stdin, os.Stdout, slog.New(slog.DiscardHandler)); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A session run by a BFD process comes up with an in-process one, the
// parent hears the change and reads states and counters; when the
// process ends, the other end declares the session down.
func TestProcessRunsSessions(t *testing.T) {
	var a *Manager
	var b *Process
	la, lb := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	quiet := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	var heard []bool
	t.Setenv(childEnv, "1")
	inOwnNS(t, func() (err error) {
		if a, err = Start(context.Background(), Config{Interval: 100 * time.Millisecond, DetectMult: 3, Port: 47845, Addrs: []netip.Addr{la}}, quiet, nil); err != nil {
			return err
		}
		b, err = StartProcess(context.Background(), []string{os.Args[0]},
			Config{Interval: 100 * time.Millisecond, DetectMult: 3, Port: 47845, Addrs: []netip.Addr{lb}}, quiet,
			func(_ netip.Addr, up bool) { mu.Lock(); heard = append(heard, up); mu.Unlock() })
		return err
	})
	defer a.Close()
	checkPriority(t, b)
	a.Add(lb, la, false)
	b.Add(la, lb, false)
	if !bothUp(a, b, la, lb, 20*time.Second) {
		b.Close()
		t.Fatalf("sessions not up in 20 s: in-process %q, process %q", a.State(lb), b.State(la))
	}
	time.Sleep(200 * time.Millisecond)
	if st := b.Stats(); st.Sessions != 1 || st.Sent == 0 || st.Received == 0 {
		t.Errorf("process counters %+v: want one session, packets both ways", st)
	}
	mu.Lock()
	if len(heard) == 0 || !heard[0] {
		t.Errorf("the parent heard %v, want the session going up", heard)
	}
	mu.Unlock()
	b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for a.State(lb) == "Up" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if a.State(lb) == "Up" {
		t.Fatal("the session stayed up after its BFD process ended")
	}
}

// A process that ends before it runs anything (the wrong binary) is an
// error of StartProcess, not a BFD that silently never runs.
func TestProcessStartFails(t *testing.T) {
	_, err := StartProcess(context.Background(), []string{"/bin/true"},
		Config{Interval: 100 * time.Millisecond, DetectMult: 3, Port: 47846}, slog.New(slog.DiscardHandler), func(netip.Addr, bool) {})
	if err == nil {
		t.Fatal("StartProcess of a program that exits at once succeeded")
	}
	t.Log(err)
}

// checkPriority: the process runs at the priority it reports (set on the
// thread it was forked from, so every thread of it has it).
func checkPriority(t *testing.T, b *Process) {
	t.Helper()
	pid := b.Pid()
	attr, err := unix.SchedGetAttr(pid, 0)
	if err != nil {
		t.Fatalf("read the BFD process's scheduling: %v", err)
	}
	nice, err := unix.Getpriority(unix.PRIO_PROCESS, pid)
	if err != nil {
		t.Fatalf("read the BFD process's nice value: %v", err)
	}
	switch b.Priority {
	case "SCHED_RR " + strconv.Itoa(Realtime):
		if attr.Policy != unix.SCHED_RR || attr.Priority != Realtime {
			t.Errorf("reported %s, the process has policy %d priority %d", b.Priority, attr.Policy, attr.Priority)
		}
	case "nice -20":
		if nice != 40 { // the system call returns 20 - nice
			t.Errorf("reported nice -20, the process has %d", 20-nice)
		}
	default:
		if os.Geteuid() == 0 {
			t.Errorf("as root the BFD process runs at priority %q, want real time or nice -20", b.Priority)
		}
	}
}
