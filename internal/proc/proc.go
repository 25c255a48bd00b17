// Package proc supervises the lab's long-running processes: node agents,
// underlay BGP routers and FRR daemons are all started, found and stopped
// the same way. A process runs inside a network namespace as a session
// leader, with stdin on /dev/null, its output appended to a log file and
// its PID in a pid file in the lab's state directory. Nothing lives only
// in the memory of the sdnlab that started it: any later sdnlab (status,
// up again, down) finds the process from its pid file, checked against
// its namespace because PIDs recycle, so an `up` killed with -9 leaves
// nothing that cannot be stopped.
package proc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Spec says how to run one supervised process.
type Spec struct {
	// Name is what messages call it ("node n1: agent").
	Name string
	// NS is the network namespace it runs in.
	NS string
	// Argv is the command line; Argv[0] is the program.
	Argv []string
	// Env, when not nil, is the process's whole environment.
	Env []string
	// LogFile receives stdout and stderr (appended).
	LogFile string
	// PIDFile records the PID.
	PIDFile string
	// Hostname, when set, gives the process a UTS namespace of its own
	// whose hostname it sets itself from HostnameEnv (SetOwnHostname): an
	// agent then announces its node's name in BGP, as a Proxmox node does.
	Hostname string
	// TimerSlack, when set, is how late the kernel may wake the process's
	// sleeping threads (ControlPlaneSlack); 0 keeps the default (50 us).
	TimerSlack time.Duration
}

// HostnameEnv carries Spec.Hostname to the process.
const HostnameEnv = "SDNLAB_HOSTNAME"

// SetOwnHostname sets the hostname HostnameEnv names, but only when this
// process has a UTS namespace of its own (Spec.Hostname): the host's
// hostname is never touched. It reports whether it did.
func SetOwnHostname() (bool, error) {
	name := os.Getenv(HostnameEnv)
	if name == "" {
		return false, nil
	}
	// Our UTS namespace must differ from the one of the process that
	// started us (Spec.Hostname made it at clone), which that process
	// wrote down: it may have exited by now. Anything unreadable or equal
	// leaves the hostname alone.
	self, err := os.Readlink("/proc/self/ns/uts")
	parent := os.Getenv(parentUTSEnv)
	if err != nil || parent == "" || self == parent {
		return false, nil
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return false, fmt.Errorf("hostname %s: %w", name, err)
	}
	return true, nil
}

// parentUTSEnv carries the starting process's UTS namespace to the child.
const parentUTSEnv = "SDNLAB_PARENT_UTS"

// ControlPlaneSlack is the timer slack of the lab's control planes (node
// agents, routers, reflectors): how late the kernel may wake their
// sleeping threads, so that it can serve several wake-ups at once. Each Go
// runtime's monitor thread (sysmon) naps 20 us at a time for a millisecond
// after every wake-up of its process; in a 100-node mesh (docs/SCALE.md 32)
// those naps were 9 % of the machine with the default 50 us slack and 4 %
// with 1 ms, and the lab's context switches fell from 43,000 to 22,500 a
// second. Their timers are BFD's (300 ms, jittered by up to 75 ms) and
// BGP's (seconds), to which a millisecond is nothing; a thread under
// SCHED_RR (a reflector's BFD process) gets no slack at all. Processes
// that pace packets (impairments) or run guests keep the default.
const ControlPlaneSlack = time.Millisecond

// Start starts s unless it is already running and returns its PID. A
// process that dies while this one lives is reaped.
func Start(s Spec) (int, error) {
	if len(s.Argv) == 0 {
		return 0, fmt.Errorf("%s: no command", s.Name)
	}
	if pid := Alive(s); pid != 0 {
		return pid, nil
	}
	for _, f := range []string{s.LogFile, s.PIDFile} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return 0, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.Name, err)
	}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = s.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if s.Hostname != "" {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		uts, err := os.Readlink("/proc/self/ns/uts")
		if err != nil {
			logf.Close()
			return 0, fmt.Errorf("%s: own UTS namespace: %w", s.Name, err)
		}
		cmd.Env = append(cmd.Env, HostnameEnv+"="+s.Hostname, parentUTSEnv+"="+uts)
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUTS
	}
	err = nsutil.StartWithSlack(s.NS, cmd, s.TimerSlack)
	logf.Close()
	if err != nil {
		return 0, fmt.Errorf("%s: start: %w", s.Name, err)
	}
	if err := os.WriteFile(s.PIDFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("%s: %w", s.Name, err)
	}
	// Reap it if it dies while this process lives (tests, long runs).
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}

// Alive returns the PID of s when its pid file names a live process in
// its namespace, else 0.
func Alive(s Spec) int { return LivePID(s.PIDFile, s.NS) }

// LivePID reads a pid file and checks that the process still lives in
// namespace ns (PIDs recycle); 0 when not.
func LivePID(file, ns string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() || !ProcessAlive(pid) {
		return 0
	}
	if !InNS(pid, ns) {
		return 0
	}
	return pid
}

// Stop ends s: SIGTERM, then SIGKILL after grace, and waits for it to be
// gone (or ctx). The pid file is removed. Stopping a process that is not
// running is not an error.
func Stop(ctx context.Context, s Spec, grace time.Duration) error {
	pid := Alive(s)
	if pid == 0 {
		_ = os.Remove(s.PIDFile)
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(ctx, pid, grace) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(ctx, pid, 5*time.Second) {
			return fmt.Errorf("%s: process %d did not exit after SIGKILL", s.Name, pid)
		}
	}
	if err := os.Remove(s.PIDFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// waitGone polls until pid is gone, for at most max; it reports whether it is.
func waitGone(ctx context.Context, pid int, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for ProcessAlive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// ProcsIn returns the PIDs of the processes whose network namespace is one
// of the named ones (found through /proc/PID/ns/net).
func ProcsIn(nsNames []string) ([]int, error) {
	inodes := map[uint64]bool{}
	for _, n := range nsNames {
		if ino, err := nsutil.Inode(n); err == nil {
			inodes[ino] = true
		}
	}
	if len(inodes) == 0 {
		return nil, nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) != nil {
			continue
		}
		if inodes[st.Ino] {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// InNS reports whether process pid lives in the named namespace: the one
// process ProcsIn would look at, without reading all of /proc.
func InNS(pid int, ns string) bool {
	ino, err := nsutil.Inode(ns)
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if unix.Stat(filepath.Join("/proc", strconv.Itoa(pid), "ns", "net"), &st) != nil {
		return false
	}
	return st.Ino == ino
}

// Kill sends SIGKILL to each of pids (a crash: no goodbye); one already
// gone is no error.
func Kill(pids []int) error {
	var errs []error
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// WaitGone waits, up to max in all, until each of pids is gone.
func WaitGone(ctx context.Context, pids []int, max time.Duration) error {
	deadline := time.Now().Add(max)
	for _, pid := range pids {
		if !waitGone(ctx, pid, time.Until(deadline)) {
			return fmt.Errorf("process %d did not exit after SIGKILL", pid)
		}
	}
	return nil
}

// KillIn kills every process living in one of the namespaces (supervised
// or not: shells, captures) and waits (up to 5 s) for them to be gone.
func KillIn(ctx context.Context, nsNames []string) error {
	pids, err := ProcsIn(nsNames)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		if !waitGone(ctx, pid, 5*time.Second) {
			return fmt.Errorf("process %d did not exit after SIGKILL", pid)
		}
	}
	return nil
}

// ProcessAlive is false once the process is gone or a zombie (a zombie no
// longer holds its namespace).
func ProcessAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}
