package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

func upCommand() *command {
	return &command{
		name:    "up",
		summary: "bring up a lab: namespaces, underlay, each node's SDN plan, guests",
		usage:   "LAB.yaml [--name NAME] [--state DIR] [--agents=auto|yes|no] [-q]",
		run: func(ctx context.Context, args []string) error {
			return runUp(ctx, args, os.Stdout)
		},
	}
}

// hasCommand reports whether a subcommand is registered (the node agent is
// started only when this binary has one).
func hasCommand(name string) bool {
	for _, c := range commands() {
		if c.name == name {
			return true
		}
	}
	return false
}

func runUp(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("up")
	state := stateFlag(fs)
	agents := fs.String("agents", "auto", "start the EVPN agent on nodes with a controller: auto (if this binary has one), yes, no")
	quiet := fs.Bool("q", false, "no progress output")
	name := fs.String("name", "", "lab name (default: the file's name: field or its directory); run one file twice side by side")
	file, err := parseWithOnePositional(fs, args, "LAB.yaml")
	if err != nil {
		return err
	}
	if err := checkStateFlag(*state); err != nil {
		return err
	}
	// A bad --name is the flag's fault, not the lab file's.
	if *name != "" {
		if err := topology.CheckLabName(*name); err != nil {
			return badInput("--name %v", err)
		}
	}
	opts := topology.Options{StateDir: *state, Progress: out}
	if *quiet {
		opts.Progress = nil
	}
	switch *agents {
	case "auto":
		opts.StartAgents = hasCommand("agent")
	case "yes":
		opts.StartAgents = true
	case "no":
	default:
		return badInput("--agents %q: expected auto, yes or no", *agents)
	}
	t0 := time.Now()
	var lab *topology.Lab
	if *name != "" {
		lab, err = topology.LoadNamed(file, *name, sdn.Compile)
	} else {
		lab, err = topology.Load(file, sdn.Compile)
	}
	if err != nil {
		return err
	}
	if *quiet {
		// Up prints them with its progress; -q silences progress, not these.
		for _, w := range lab.Warnings {
			fmt.Fprintf(os.Stderr, "warning: %s\n", w)
		}
	}
	lab, err = topology.Up(ctx, lab, opts)
	var inUse *topology.InUseError
	if errors.As(err, &inUse) {
		return badInput("%v or choose another --name", inUse)
	}
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(out, "lab %s up in %s: %d nodes, %d guests; sdnlab exec %s NODE|GUEST -- CMD, sdnlab down %s\n",
			lab.Name, time.Since(t0).Round(time.Millisecond), len(lab.Nodes), len(lab.Guests), lab.Name, lab.Name)
	}
	return nil
}
