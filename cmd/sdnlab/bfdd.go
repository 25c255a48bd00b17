package main

import "github.com/sdnlab/sdnlab/cmd/internal/daemon"

// bfddCommand runs a route reflector's BFD sessions in a process of their
// own; the reflector's agent starts it from its own binary.
func bfddCommand() *command {
	return &command{
		name:    "bfdd",
		summary: "run a reflector's BFD sessions (started by its agent)",
		usage:   daemon.BFDDUsage,
		hidden:  true,
		run:     daemon.BFDD,
	}
}
