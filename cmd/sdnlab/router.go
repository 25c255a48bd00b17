package main

import (
	"context"
	"flag"
	"os"

	"github.com/sdnlab/sdnlab/internal/proc"
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
	pf := newProcFlags("router", "router")
	if err := pf.parse(args); err != nil {
		return err
	}
	proc.LimitRuntime()
	return topology.RunRouter(ctx, *pf.lab, *pf.name, *pf.state, os.Stdin)
}

// procFlags are the flags of the processes `up` starts inside a lab
// (agent, router): --lab, --<what> NAME and --state.
type procFlags struct {
	fs               *flag.FlagSet
	what             string
	lab, name, state *string
}

func newProcFlags(cmd, what string) *procFlags {
	fs := newFlagSet(cmd)
	return &procFlags{
		fs:    fs,
		what:  what,
		lab:   fs.String("lab", "", "lab name"),
		name:  fs.String(what, "", what+" name"),
		state: fs.String("state", "", "lab state directory (default /run/sdnlab/LAB)"),
	}
}

// parse parses args; --lab and --<what> are required.
func (p *procFlags) parse(args []string) error {
	if err := p.fs.Parse(args); err != nil {
		return badInput("%v", err)
	}
	if *p.lab == "" || *p.name == "" {
		return badInput("--lab and --%s are required", p.what)
	}
	return nil
}
