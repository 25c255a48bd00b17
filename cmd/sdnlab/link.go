package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sdnlab/sdnlab/topology"
)

func linkCommand() *command {
	return &command{
		name:    "link",
		summary: "fail or restore a link: node, router or host to a segment, or between two of them",
		usage:   "LAB A B down|up",
		run: func(ctx context.Context, args []string) error {
			return runLink(ctx, args, os.Stdout)
		},
	}
}

func runLink(_ context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("link")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 4 {
		return badInput("expected LAB A B down|up")
	}
	state := pos[3]
	if state != "down" && state != "up" {
		return badInput("%q: the last argument is down or up", state)
	}
	lab, err := stateOf(pos[0])
	if err != nil {
		return err
	}
	if _, err := lab.ResolveLink(pos[1], pos[2]); err != nil {
		return badInput("%v", err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root")
	}
	f, err := topology.SetLink(lab, topology.Options{StateDir: defaultStateDir()}, pos[1], pos[2], state == "up")
	if err != nil {
		return err
	}
	var how string
	switch {
	case f.P2P != "":
		how = "point-to-point link " + f.P2P
	case len(f.Ports) == 1:
		how = "switch port " + f.Ports[0] + " of " + f.Segment
	case len(f.Ports) == 2:
		how = "path " + f.Ports[0] + " <-> " + f.Ports[1] + " in switch " + f.Segment
	}
	fmt.Fprintf(out, "link %s %s: %s (%s)\n", pos[1], pos[2], state, how)
	return nil
}
