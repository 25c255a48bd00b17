package main

import "github.com/sdnlab/sdnlab/cmd/internal/daemon"

// agentCommand is the node's EVPN control plane. topology starts it inside
// the node's namespace (through sdnlab-engine when it sits beside this
// binary); it is not meant to be run by hand.
func agentCommand() *command {
	return &command{
		name:    "agent",
		summary: "run a node's EVPN control plane (started by sdnlab up inside the node)",
		usage:   daemon.AgentUsage,
		hidden:  true,
		run:     daemon.Agent,
	}
}
