package main

import (
	"context"
	"os"

	"github.com/sdnlab/sdnlab/topology"
)

// routerCommand is an underlay router's BGP speaker (routing: bgp). `up`
// starts it inside the router's namespace; it is not meant to be run by hand.
func routerCommand() *command {
	return &command{
		name:    "router",
		summary: "run an underlay router's BGP speaker (started by sdnlab up inside the router)",
		usage:   "--lab LAB --router ROUTER [--state DIR]",
		hidden:  true,
		run:     runRouter,
	}
}

func runRouter(ctx context.Context, args []string) error {
	fs := newFlagSet("router")
	lab := fs.String("lab", "", "lab name")
	router := fs.String("router", "", "router name")
	state := fs.String("state", "", "lab state directory (default /run/sdnlab/LAB)")
	if err := fs.Parse(args); err != nil {
		return badInput("%v", err)
	}
	if *lab == "" || *router == "" {
		return badInput("--lab and --router are required")
	}
	return topology.RunRouter(ctx, *lab, *router, *state, os.Stdin)
}
