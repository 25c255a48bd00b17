package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sdnlab/sdnlab/topology"
)

func killCommand() *command {
	return &command{
		name:    "kill",
		summary: "crash a node's control plane (its EVPN agent) or a BGP router's speaker",
		usage:   "LAB NODE|ROUTER",
		run: func(ctx context.Context, args []string) error {
			return runControlPlane(ctx, args, os.Stdout, "kill")
		},
	}
}

// runControlPlane is kill and restart: one argument shape, one message.
func runControlPlane(ctx context.Context, args []string, out io.Writer, verb string) error {
	fs := newFlagSet(verb)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return badInput("expected LAB NODE|ROUTER")
	}
	lab, err := stateOf(pos[0])
	if err != nil {
		return err
	}
	if lab.Node(pos[1]) == nil && lab.Router(pos[1]) == nil {
		return badInput("lab %s has no node or router %q", lab.Name, pos[1])
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root")
	}
	opts := topology.Options{StateDir: defaultStateDir()}
	var what string
	if verb == "kill" {
		what, err = topology.KillControlPlane(lab, opts, pos[1])
	} else {
		what, err = topology.RestartControlPlane(ctx, lab, opts, pos[1])
	}
	if err != nil {
		return err
	}
	past := map[string]string{"kill": "killed", "restart": "started"}[verb]
	fmt.Fprintf(out, "%s: %s %s\n", pos[1], past, what)
	return nil
}
