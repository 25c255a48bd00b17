package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"

	"github.com/sdnlab/sdnlab/topology"
)

func execCommand() *command {
	return &command{
		name:    "exec",
		summary: "run a command inside a lab node, guest, router or external host",
		usage:   "LAB NODE|GUEST -- CMD...",
		run: func(ctx context.Context, args []string) error {
			return runExec(ctx, args)
		},
	}
}

// exitStatus carries a command's own exit code through to ours.
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return "command failed" }

func runExec(ctx context.Context, args []string) error {
	if len(args) < 4 || args[2] != "--" {
		return badInput("expected LAB NODE|GUEST -- CMD...")
	}
	lab, err := stateOf(args[0])
	if err != nil {
		return err
	}
	if lab.NS(args[1]) == "" && lab.Guest(args[1]) == nil {
		return badInput("lab %s has no node, guest, router, external host or switch %q (%s)", lab.Name, args[1], strings.Join(lab.Things(), " "))
	}
	err = lab.Exec(ctx, args[1], args[3:], os.Stdin, os.Stdout, os.Stderr)
	var ee *exec.ExitError
	var ge *topology.GuestExitError
	switch {
	case errors.As(err, &ee):
		// The command ran and failed: its own output said why.
		os.Exit(ee.ExitCode())
	case errors.As(err, &ge):
		os.Exit(ge.ExitCode())
	}
	return err
}
