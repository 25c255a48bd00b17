package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sdnlab/sdnlab/topology"
	"github.com/sdnlab/sdnlab/topology/impair"
)

func impairCommand() *command {
	return &command{
		name:    "impair",
		summary: "add loss, delay, jitter or a rate limit to a lab interface or segment (--clear removes)",
		usage:   "LAB THING[:IFACE]|SEGMENT... [--loss 2%] [--delay 5ms] [--jitter 1ms] [--rate 10mbit] | LAB [THING[:IFACE]|SEGMENT...] --clear",
		run: func(ctx context.Context, args []string) error {
			return runImpair(ctx, args, os.Stdout)
		},
	}
}

func runImpair(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("impair")
	loss := fs.String("loss", "", "share of packets dropped, like 2%")
	delay := fs.String("delay", "", "added delay, like 5ms")
	jitter := fs.String("jitter", "", "delay variation (uniform ±), like 1ms; order is kept")
	rate := fs.String("rate", "", "rate limit, like 10mbit")
	clear := fs.Bool("clear", false, "remove the impairments (all of the lab's when no target is named)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return badInput("expected LAB and at least one THING[:IFACE] or SEGMENT")
	}
	var spec impair.Spec
	for _, f := range []struct{ key, val string }{{"loss", *loss}, {"delay", *delay}, {"jitter", *jitter}, {"rate", *rate}} {
		if f.val == "" {
			continue
		}
		if err := spec.Set(f.key, f.val); err != nil {
			return badInput("--%s: %v", f.key, err)
		}
	}
	if err := spec.Check(); err != nil {
		return badInput("%v", err)
	}
	if *clear && !spec.Zero() {
		return badInput("--clear takes no --loss, --delay, --jitter or --rate")
	}
	if !*clear && spec.Zero() {
		return badInput("nothing to do: give --loss, --delay, --jitter or --rate (or --clear)")
	}
	if !*clear && len(pos) < 2 {
		return badInput("expected LAB and at least one THING[:IFACE] or SEGMENT")
	}
	lab, err := stateOf(pos[0])
	if err != nil {
		return err
	}
	var targets []topology.IfaceRef
	for _, what := range pos[1:] {
		t, err := lab.ResolveIfaces(what)
		if err != nil {
			return badInput("%v", err)
		}
		targets = append(targets, t...)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root")
	}
	opts := topology.Options{StateDir: defaultStateDir()}
	if *clear {
		removed, err := topology.ClearImpairments(lab, opts, targets)
		for _, im := range removed {
			fmt.Fprintf(out, "cleared %s\n", im)
		}
		if err == nil && len(removed) == 0 {
			fmt.Fprintln(out, "no impairment to clear")
		}
		return err
	}
	done, err := topology.Impair(ctx, lab, opts, targets, spec)
	for _, im := range done {
		fmt.Fprintf(out, "impaired %s\n", im)
	}
	return err
}
