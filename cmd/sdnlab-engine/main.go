// Command sdnlab-engine runs the lab's long-running processes that
// `sdnlab up` starts inside namespaces: a node's EVPN agent, an underlay
// router's BGP speaker and an interface's impairment, with the same
// arguments as `sdnlab agent`, `sdnlab router` and `sdnlab impaird`. It exists to be small: a lab runs one agent per node,
// and this binary links none of the CLI's capture, report and scenario
// code (see cmd/internal/daemon).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sdnlab/sdnlab/cmd/internal/daemon"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(run(os.Args[1:]))
}

// commands is the explicit registry of the engine's daemons.
var commands = map[string]struct {
	run   func(context.Context, []string) error
	usage string
}{
	"agent":   {daemon.Agent, daemon.AgentUsage},
	"router":  {daemon.Router, daemon.RouterUsage},
	"impaird": {daemon.Impaird, daemon.ImpairdUsage},
	"bfdd":    {daemon.BFDD, daemon.BFDDUsage},
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sdnlab-engine agent|router|impaird|bfdd ARGS (started by sdnlab up, not by hand)")
		return 2
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "sdnlab-engine: unknown command %q (agent, router, impaird, bfdd)\n", args[0])
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, args[1:])
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "sdnlab-engine %s: %v\n", args[0], err)
	var bad *daemon.BadInput
	if errors.As(err, &bad) {
		fmt.Fprintf(os.Stderr, "usage: sdnlab-engine %s %s\n", args[0], c.usage)
		return 2
	}
	return 1
}
