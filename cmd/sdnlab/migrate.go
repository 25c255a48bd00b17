package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sdnlab/sdnlab/topology"
)

func migrateCommand() *command {
	return &command{
		name:    "migrate",
		summary: "live-migrate a guest to another node (tap moves, guest announces itself)",
		usage:   "LAB GUEST NODE [--pause 50ms]",
		run: func(ctx context.Context, args []string) error {
			return runMigrate(ctx, args, os.Stdout)
		},
	}
}

func runMigrate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("migrate")
	pause := fs.Duration("pause", 50*time.Millisecond, "downtime between leaving the old and joining the new bridge (namespace guests; a VM guest pauses as QEMU decides)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return badInput("expected LAB GUEST NODE")
	}
	if *pause < 0 {
		return badInput("--pause %s: the downtime cannot be negative", *pause)
	}
	lab, err := stateOf(pos[0])
	if err != nil {
		return err
	}
	g := lab.Guest(pos[1])
	if g == nil {
		return badInput("lab %s has no guest %q", lab.Name, pos[1])
	}
	if lab.Node(pos[2]) == nil {
		return badInput("lab %s has no node %q", lab.Name, pos[2])
	}
	from := g.Node
	if from == pos[2] {
		return badInput("guest %s is already on %s", g.Name, from)
	}
	t0 := time.Now()
	if g.IsVM() {
		st, err := topology.MigrateVM(ctx, lab, pos[1], pos[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "guest %s (VM): %s -> %s in %s by QEMU live migration: downtime %s (QEMU), total %s, %.1f MiB sent\n",
			pos[1], from, pos[2], time.Since(t0).Round(time.Millisecond), st.Downtime, st.TotalTime, float64(st.Transferred)/(1<<20))
		return nil
	}
	mv, err := topology.Migrate(ctx, lab, pos[1], pos[2], *pause)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "guest %s: %s -> %s in %s (pause %s, %d guest processes frozen, carrier up %s after the pause, %d RARP rounds)\n",
		pos[1], from, pos[2], mv.CarrierUp.Sub(t0).Round(time.Microsecond), *pause, len(mv.Frozen),
		mv.CarrierUp.Sub(mv.PauseEnd).Round(time.Microsecond), len(mv.Announces))
	return nil
}
