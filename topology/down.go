package topology

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Down removes everything of a lab: the processes in its namespaces (node
// agents, shells, captures), the namespaces (their veths and bridges go with
// them), and the state directory. It needs nothing but the lab name, so it
// also cleans up after an `up` killed with -9 or a lost state directory.
func Down(ctx context.Context, lab string, opts Options) error {
	if !labNameRE.MatchString(lab) {
		return fmt.Errorf("%q is not a lab name", lab)
	}
	prefix := NSPrefix(lab)
	names, err := nsutil.List(prefix)
	if err != nil {
		return err
	}
	var errs []error
	// Again while anything is left: a process that was starting others
	// (frrinit.sh after an `up` killed with -9) may have forked after the
	// first pass read /proc.
	for round := 0; round < 5; round++ {
		if err := killIn(ctx, names); err != nil {
			errs = append(errs, err)
			break
		}
		if left, _ := ProcsIn(names); len(left) == 0 {
			break
		}
	}
	// VRF namespaces last is not needed: a namespace dies with its last user.
	for _, n := range names {
		if err := nsutil.Delete(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(opts.LabDir(lab)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Labs lists the labs that have a namespace or a state directory.
func Labs(opts Options) ([]string, error) {
	seen := map[string]bool{}
	names, err := nsutil.List("sdnlab-")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		rest := strings.TrimPrefix(n, "sdnlab-")
		if i := strings.IndexByte(rest, '-'); i > 0 && labNameRE.MatchString(rest[:i]) {
			seen[rest[:i]] = true
		}
	}
	ents, err := os.ReadDir(opts.stateRoot())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() && labNameRE.MatchString(e.Name()) {
			seen[e.Name()] = true
		}
	}
	var out []string
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out, nil
}

// DownAll removes every lab on the machine.
func DownAll(ctx context.Context, opts Options) error {
	labs, err := Labs(opts)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range labs {
		if err := Down(ctx, l, opts); err != nil {
			errs = append(errs, fmt.Errorf("lab %s: %w", l, err))
		}
	}
	return errors.Join(errs...)
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

// inNS reports whether process pid lives in the named namespace: the one
// process ProcsIn would look at, without reading all of /proc.
func inNS(pid int, ns string) bool {
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

// killIn kills every process living in one of the namespaces and waits
// (up to 5 s) for them to be gone.
func killIn(ctx context.Context, nsNames []string) error {
	pids, err := ProcsIn(nsNames)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for processAlive(pid) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("process %d did not exit after SIGKILL", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// processAlive is false once the process is gone or a zombie (a zombie no
// longer holds its namespace).
func processAlive(pid int) bool {
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

// LabExists reports whether a lab has a namespace or a state directory.
func LabExists(opts Options, lab string) bool {
	if !labNameRE.MatchString(lab) {
		return false
	}
	if names, err := nsutil.List(NSPrefix(lab)); err == nil && len(names) > 0 {
		return true
	}
	_, err := os.Stat(opts.LabDir(lab))
	return err == nil
}
