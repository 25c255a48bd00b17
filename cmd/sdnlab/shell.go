package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

func shellCommand() *command {
	return &command{
		name:    "shell",
		summary: "an interactive shell inside a lab node, guest, router or external host",
		usage:   "LAB NODE|GUEST",
		run: func(ctx context.Context, args []string) error {
			return runShell(ctx, args)
		},
	}
}

func runShell(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return badInput("expected LAB NODE|GUEST")
	}
	lab, err := stateOf(args[0])
	if err != nil {
		return err
	}
	if lab.NS(args[1]) == "" {
		return badInput("lab %s has no node, guest, router or host %q", lab.Name, args[1])
	}
	argv := []string{"bash", "--norc", "--noprofile", "-i"}
	if _, err := exec.LookPath("bash"); err != nil {
		argv = []string{"sh", "-i"}
	}
	os.Setenv("PS1", fmt.Sprintf("[%s/%s] \\w# ", lab.Name, args[1]))
	os.Setenv("SDNLAB_LAB", lab.Name)
	os.Setenv("SDNLAB_NS", lab.NS(args[1]))
	err = lab.Exec(ctx, args[1], argv, os.Stdin, os.Stdout, os.Stderr)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // the shell's last command failed: not ours to report
	}
	return err
}
