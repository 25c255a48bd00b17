// Command sdnlab is a network lab simulator and conformance tester for
// Proxmox-VE-style SDN. Each subcommand lives in its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes of the CLI contract.
const (
	exitOK       = 0
	exitFailed   = 1 // a check failed
	exitBadInput = 2 // bad input: the message names file, line and field
)

// command is one subcommand. run gets the arguments after the command name.
type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, args []string) error
	// hidden commands (the node agent) are not listed in help.
	hidden bool
}

// commands is the explicit registry of subcommands.
func commands() []*command {
	return []*command{
		// one line per command file; keep sorted by name
		agentCommand(),
		captureCommand(),
		demoCommand(),
		diffCommand(),
		downCommand(),
		execCommand(),
		graphCommand(),
		impairCommand(),
		impairdCommand(),
		bfddCommand(),
		junitMergeCommand(),
		killCommand(),
		linkCommand(),
		listCommand(),
		migrateCommand(),
		renderCommand(),
		restartCommand(),
		routerCommand(),
		shellCommand(),
		showCommand(),
		statusCommand(),
		testCommand(),
		upCommand(),
		validateCommand(),
	}
}

// usageError is bad input on the command line or in a file: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badInput(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// checkFailed reports that a check ran and failed: exit code 1.
type checkFailed struct{ msg string }

func (e *checkFailed) Error() string { return e.msg }

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})))
	os.Exit(run(os.Args[1:]))
}

func logLevel() slog.Level {
	if os.Getenv("SDNLAB_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func run(args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printHelp(cmds)
		if len(args) == 0 {
			return exitBadInput
		}
		return exitOK
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:])
		return exitCode(c, err)
	}
	fmt.Fprintf(os.Stderr, "sdnlab: unknown command %q (see sdnlab help)\n", args[0])
	return exitBadInput
}

func exitCode(c *command, err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var cf *checkFailed
	var be interface{ BadInput() bool }
	var ec interface{ ExitCode() int }
	switch {
	case errors.As(err, &ec):
		fmt.Fprintf(os.Stderr, "sdnlab %s: %v\n", c.name, err)
		return ec.ExitCode()
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "sdnlab %s: %v\n", c.name, err)
		if c.usage != "" {
			fmt.Fprintf(os.Stderr, "usage: sdnlab %s %s\n", c.name, c.usage)
		}
		return exitBadInput
	case errors.As(err, &be) && be.BadInput():
		fmt.Fprintln(os.Stderr, err)
		return exitBadInput
	case errors.As(err, &cf):
		fmt.Fprintf(os.Stderr, "sdnlab %s: %v\n", c.name, err)
		return exitFailed
	default:
		fmt.Fprintf(os.Stderr, "sdnlab %s: %v\n", c.name, err)
		return exitFailed
	}
}

func printHelp(cmds []*command) {
	fmt.Println("sdnlab: a network lab and conformance tester for Proxmox VE SDN")
	fmt.Println()
	sorted := append([]*command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	width := 0
	for _, c := range sorted {
		width = max(width, len(c.name))
	}
	for _, c := range sorted {
		if !c.hidden {
			fmt.Printf("  %-*s %s\n", width, c.name, c.summary)
		}
	}
}
