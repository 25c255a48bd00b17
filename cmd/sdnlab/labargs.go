package main

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sdnlab/sdnlab/topology"
)

// newFlagSet returns a subcommand's flag set. Parse errors are returned (and
// reported as bad input, exit code 2) rather than printed by the flag package.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// stateFlag adds the --state flag the lab commands share.
func stateFlag(fs *flag.FlagSet) *string {
	return fs.String("state", defaultStateDir(), "state directory (default $SDNLAB_STATE, else "+topology.DefaultStateDir+")")
}

// defaultStateDir is where labs keep their state unless --state says
// otherwise: $SDNLAB_STATE, for the commands without the flag too (exec,
// shell, migrate), so every command finds the same labs.
func defaultStateDir() string {
	if s := os.Getenv("SDNLAB_STATE"); s != "" {
		return s
	}
	return topology.DefaultStateDir
}

// parseNoArgs parses flags and rejects any positional argument.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return badInput("%v", err)
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments (the flag package stops at the first one) and returns
// the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, badInput("%v", err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseWithOnePositional parses flags that may come before or after one
// positional argument.
func parseWithOnePositional(fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", badInput("expected one %s", what)
	}
	return pos[0], nil
}

// labName accepts a lab file (its name is resolved as up does) or a name.
func labName(arg string) (string, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		return topology.NameOf(arg)
	}
	if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") || strings.Contains(arg, "/") {
		return "", badInput("%s: no such lab file", arg)
	}
	return arg, nil
}

// stateOf reads the running lab named by a lab file or a name.
func stateOf(arg string) (*topology.Lab, error) {
	name, err := labName(arg)
	if err != nil {
		return nil, err
	}
	state := defaultStateDir()
	lab, err := topology.ReadState(state, name)
	if err == nil {
		return lab, nil
	}
	// Not up (or its state is gone): bad input, exit code 2, and say what to do.
	if !topology.LabExists(topology.Options{StateDir: state}, name) {
		return nil, badInput("lab %s is not up (sdnlab list shows the labs that are)", name)
	}
	return nil, badInput("lab %s has namespaces but no readable state (%v): sdnlab down %s, then up again", name, err, name)
}

// checkStateFlag rejects a --state that is, or lies under, something other
// than a directory (a typo like --state /etc/passwd is the flag's fault,
// exit code 2). A state directory that does not exist yet is fine: up
// creates it.
func checkStateFlag(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			return badInput("--state %s: %s is not a directory", dir, p)
		case err == nil:
			return nil
		case errors.Is(err, syscall.ENOTDIR):
			continue // a parent is a file: the loop reaches it
		case !errors.Is(err, fs.ErrNotExist):
			return nil // e.g. permission denied: up reports it
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
