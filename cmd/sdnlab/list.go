package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/topology"
)

func listCommand() *command {
	return &command{
		name:    "list",
		summary: "list the labs on this machine",
		usage:   "[--state DIR]",
		run: func(ctx context.Context, args []string) error {
			return runList(ctx, args, os.Stdout)
		},
	}
}

func runList(_ context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("list")
	state := stateFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	opts := topology.Options{StateDir: *state}
	labs, err := topology.Labs(opts)
	if err != nil {
		return err
	}
	for _, l := range labs {
		ns, _ := nsutil.List(topology.NSPrefix(l))
		file := "(no state)"
		if st, err := topology.ReadState(*state, l); err == nil {
			file = st.File
		}
		fmt.Fprintf(out, "%-12s %3d namespaces  %s\n", l, len(ns), file)
	}
	return nil
}
