// Package nsutil is the only place in sdnlab that enters network namespaces.
//
// A goroutine does not carry a namespace, an OS thread does. Every function
// here that needs to be "inside" a namespace runs on a fresh goroutine that
// locks its OS thread, calls setns and never unlocks: when the goroutine
// returns, the Go runtime terminates that thread, so no thread in a foreign
// namespace is ever handed back to the scheduler.
//
// Namespaces are persistent and named like `ip netns add` makes them: a bind
// mount of the namespace file at /run/netns/<name>, so `ip netns exec`,
// `ip -n` and tcpdump users can inspect a lab by hand.
package nsutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RunDir is where named namespaces are bind-mounted (the iproute2 convention).
const RunDir = "/run/netns"

// Path is the bind-mount path of the named namespace.
func Path(name string) string { return filepath.Join(RunDir, name) }

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid namespace name %q", name)
	}
	return nil
}

// Exists reports whether a named namespace is mounted at /run/netns/<name>.
func Exists(name string) bool {
	if checkName(name) != nil {
		return false
	}
	return isNsfs(Path(name))
}

// isNsfs tells a live namespace bind mount from a stale empty file left by a
// crash between "create file" and "mount".
func isNsfs(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// List returns the names of mounted namespaces that start with prefix, sorted.
// Stale files (not a namespace mount) are listed too so that cleanup finds them.
func List(prefix string) ([]string, error) {
	ents, err := os.ReadDir(RunDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Create makes a new persistent network namespace /run/netns/<name>. It is
// idempotent: an existing namespace of that name is kept (and is not an error),
// a stale file from an interrupted create is replaced.
func Create(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if Exists(name) {
		return nil
	}
	if err := ensureRunDir(); err != nil {
		return err
	}
	p := Path(name)
	// A stale file (crash between create and mount): remove and retry.
	_ = unix.Unmount(p, unix.MNT_DETACH)
	_ = os.Remove(p)
	f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	f.Close()
	err = onThread(func() error {
		// This thread is locked and is thrown away afterwards, so leaving it
		// in the new namespace is fine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		if err := unix.Mount("/proc/thread-self/ns/net", p, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount: %w", err)
		}
		return nil
	})
	if err != nil {
		_ = os.Remove(p)
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// ensureRunDir makes /run/netns a shared mount point like iproute2 does, so
// namespaces created here are visible to `ip netns` in other mount namespaces.
func ensureRunDir() error {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", RunDir, err)
	}
	// Try to make it shared; if it is not a mount point yet, bind it onto
	// itself first. Failures only cost visibility from other mount
	// namespaces, so they are not fatal.
	if err := unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err == nil {
		return nil
	}
	if err := unix.Mount(RunDir, RunDir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
		_ = unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	return nil
}

// Delete unmounts and removes the named namespace. The namespace itself dies
// when the last process and open file in it are gone. Deleting a namespace
// that does not exist is not an error.
func Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := Path(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete namespace %s: unmount: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// Open returns a file descriptor for the named namespace (for
// netlink.LinkSetNsFd, nftables.WithNetNSFd, ...). The caller closes it.
func Open(name string) (netns.NsHandle, error) {
	if err := checkName(name); err != nil {
		return netns.None(), err
	}
	fd, err := unix.Open(Path(name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return netns.None(), fmt.Errorf("open namespace %s: %w", name, err)
	}
	return netns.NsHandle(fd), nil
}

// onThread runs fn on a new goroutine locked to its OS thread. The thread is
// never unlocked, so the runtime discards it when the goroutine ends: whatever
// fn did to the thread (setns, unshare) cannot leak.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go lockedRun(fn, errc)
	return <-errc
}

// lockedRun locks the current OS thread and runs fn on it. The main thread is
// special: /proc/self follows it, and the runtime does not end it when a locked
// goroutine exits (it parks it for good). So if we landed there, we leave it
// locked and parked (harmless) and move to another goroutine, which cannot be
// scheduled on the main thread again.
func lockedRun(fn func() error, errc chan<- error) {
	runtime.LockOSThread()
	// Deliberately no UnlockOSThread.
	if unix.Gettid() == unix.Getpid() {
		go lockedRun(fn, errc)
		return
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("panic in namespace thread: %v", r)
			}
		}()
		errc <- fn()
	}()
}

// Do runs fn on a fresh OS thread that has entered the named namespace and
// returns fn's error. Only fn's own code runs in the namespace: goroutines it
// starts do not. Sockets fn opens stay in the namespace and may be used from
// any goroutine afterwards.
func Do(name string, fn func() error) error {
	ns, err := Open(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	return onThread(func() error {
		if err := unix.Setns(int(ns), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns %s: %w", name, err)
		}
		return fn()
	})
}

// Handle returns a netlink handle bound to the named namespace. It may be used
// from any goroutine; the caller calls Close (Delete on the handle).
func Handle(name string) (*netlink.Handle, error) {
	ns, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", name, err)
	}
	return h, nil
}

// SetLinkUp sets link name in namespace ns administratively up or down
// (down: its veth peer loses carrier, as when a cable is pulled).
func SetLinkUp(ns, name string, up bool) error {
	h, err := Handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	if up {
		return h.LinkSetUp(l)
	}
	return h.LinkSetDown(l)
}

// Start starts cmd inside the named namespace: the fork happens on a locked
// thread that has done setns, so the child and all its threads live there.
// The caller owns the process (cmd.Wait, cmd.Process). Note that
// SysProcAttr.Pdeathsig would fire when the forking thread exits, which is
// right after Start returns; for lifetime give the child a stdin pipe and let
// it exit on EOF, or record its PID and kill it.
func Start(name string, cmd *exec.Cmd) error { return StartWithSlack(name, cmd, 0) }

// StartWithSlack is Start with the child's timer slack (how late the kernel
// may wake its sleeping threads) set to slack; 0 keeps the default. The
// slack is set on the forking thread, which ends after the fork, so it
// reaches only the child, whose threads all inherit it.
func StartWithSlack(name string, cmd *exec.Cmd, slack time.Duration) error {
	if cmd.SysProcAttr != nil && cmd.SysProcAttr.Pdeathsig != 0 {
		return fmt.Errorf("start %s in %s: Pdeathsig would fire at once (the forking thread exits); use a stdin pipe", cmd.Path, name)
	}
	return Do(name, func() error {
		if slack > 0 {
			if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0); err != nil {
				return fmt.Errorf("start %s in %s: timer slack: %w", cmd.Path, name, err)
			}
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s in %s: %w", cmd.Path, name, err)
		}
		return nil
	})
}

// Output runs argv inside the namespace, waits, and returns its combined
// stdout and stderr. ctx cancels (kills) the command.
func Output(ctx context.Context, name string, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("nsutil.Output: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var buf strings.Builder
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := Start(name, cmd); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	if err != nil {
		return []byte(buf.String()), fmt.Errorf("%s in %s: %w", strings.Join(argv, " "), name, err)
	}
	return []byte(buf.String()), nil
}

// SysctlPath maps a sysctl key to its /proc/sys path (see sysctlPath), for
// callers that write several in one Do.
func SysctlPath(key string) (string, error) { return sysctlPath(key) }

// sysctlPath maps a key to its /proc/sys path. A key with a slash is a path
// below /proc/sys ("net/ipv4/conf/vmbr0.100/rp_filter", needed when an
// interface name has a dot); otherwise dots separate ("net.ipv4.ip_forward").
func sysctlPath(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("invalid sysctl key %q", key)
	}
	if strings.Contains(key, "/") {
		return filepath.Join("/proc/sys", key), nil
	}
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/")), nil
}

// Sysctl writes value to a sysctl inside the named namespace
// (/proc/sys/net follows the calling thread's namespace).
func Sysctl(name, key, value string) error {
	p, err := sysctlPath(key)
	if err != nil {
		return err
	}
	return Do(name, func() error {
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s in %s: %w", key, value, name, err)
		}
		return nil
	})
}

// ReadSysctl reads a sysctl inside the named namespace (trimmed).
func ReadSysctl(name, key string) (string, error) {
	p, err := sysctlPath(key)
	if err != nil {
		return "", err
	}
	var out string
	err = Do(name, func() error {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("sysctl %s in %s: %w", key, name, err)
		}
		out = strings.TrimSpace(string(b))
		return nil
	})
	return out, err
}

// Inode returns the namespace inode (as in /proc/PID/ns/net) of the named
// namespace, to compare namespaces.
func Inode(name string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(Path(name), &st); err != nil {
		return 0, fmt.Errorf("stat namespace %s: %w", name, err)
	}
	return st.Ino, nil
}
