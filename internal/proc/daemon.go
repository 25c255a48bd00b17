package proc

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
)

// The side of a supervised process: how it logs and how it learns that
// its parent wants it gone.

// Logger is the log of a supervised process: text on stderr (which Start
// appends to its log file), at debug level when SDNLAB_DEBUG is set.
func Logger(attrs ...any) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("SDNLAB_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With(attrs...)
}

// ParentPipe returns f when it is a pipe, else nil. A parent that holds a
// process's stdin as a pipe ends it by closing the pipe (tests); with
// stdin on /dev/null (sdnlab up) the lab's teardown kills it instead.
func ParentPipe(f *os.File) io.Reader {
	if f == nil {
		return nil
	}
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
		return f
	}
	return nil
}

// Runtime limits of a lab daemon. A lab runs one agent per node, so a
// 100-node lab has 100 Go runtimes on a few cores. Measured (docs/SCALE.md):
// with GOMAXPROCS at the core count each idle process kept several threads
// waking each other (sysmon, work stealing, a futex wake per timer), and
// half of the agents' CPU in a steady full mesh went to context switches.
// A daemon that serves one node gets two Ps, not one: with one, its BFD
// scheduler waited behind GoBGP's goroutines whenever sessions came up,
// and at 100 nodes its peers declared it down (29,873 BFD downs in 80 s,
// never converged); with two it runs on the idle P at its timer (510 BFD
// downs during bring-up, then none; converged). A soft memory limit keeps the
// heap of each small without a GC percent that costs CPU. The limit grows
// with the sessions: measured, a route reflector of 300 clients under a
// flat 32 MiB limit (its 1,900 goroutines' stacks alone near 16 MiB) ran
// 7 GC cycles a second, its BFD passed late and its clients' sessions
// flapped. A reflector serves every node of the lab and gets every core.
// The environment (GOMAXPROCS, GOMEMLIMIT, GOGC) still wins.
const (
	DaemonProcs    = 2
	DaemonMemLimit = 32 << 20
	// DaemonMemPerPeer is added to the memory limit per BGP session.
	DaemonMemPerPeer = 256 << 10
)

// Load is what a daemon serves, for its runtime limits.
type Load struct {
	Peers     int  // BGP sessions
	Reflector bool // serves every node of the lab
	// Single: one goroutine does all the work (a BFD process): one P.
	Single bool
}

// LimitRuntime applies the daemon limits unless the environment sets them.
func LimitRuntime(l Load) {
	if os.Getenv("GOMAXPROCS") == "" {
		procs := min(DaemonProcs, runtime.NumCPU())
		switch {
		case l.Reflector:
			procs = runtime.NumCPU()
		case l.Single:
			procs = 1
		}
		runtime.GOMAXPROCS(procs)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DaemonMemLimit + int64(l.Peers)*DaemonMemPerPeer)
	}
}
