package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sdnlab/sdnlab/topology"
)

func downCommand() *command {
	return &command{
		name:    "down",
		summary: "remove a lab (every namespace, veth, process and state file), or all labs",
		usage:   "LAB.yaml|LAB | --all [--state DIR]",
		run: func(ctx context.Context, args []string) error {
			return runDown(ctx, args, os.Stdout)
		},
	}
}

func runDown(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("down")
	state := stateFlag(fs)
	all := fs.Bool("all", false, "remove every lab on this machine")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := checkStateFlag(*state); err != nil {
		return err
	}
	opts := topology.Options{StateDir: *state}
	if *all {
		if len(pos) > 0 {
			return badInput("--all takes no lab")
		}
		labs, _ := topology.Labs(opts)
		if err := topology.DownAll(ctx, opts); err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %d lab(s) %s\n", len(labs), strings.Join(labs, " "))
		return nil
	}
	if len(pos) != 1 {
		return badInput("expected LAB.yaml, a lab name or --all")
	}
	name, err := labName(pos[0])
	if err != nil {
		return err
	}
	if !topology.LabExists(opts, name) {
		// Idempotent, so cleanup scripts can always call it: exit code 0.
		fmt.Fprintf(out, "lab %s is not up: nothing to remove\n", name)
		return nil
	}
	if err := topology.Down(ctx, name, opts); err != nil {
		return err
	}
	fmt.Fprintf(out, "lab %s removed\n", name)
	return nil
}
