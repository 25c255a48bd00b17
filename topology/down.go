package topology

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/proc"
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
		if err := proc.KillIn(ctx, names); err != nil {
			errs = append(errs, err)
			break
		}
		if left, _ := proc.ProcsIn(names); len(left) == 0 {
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
