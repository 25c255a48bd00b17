package main

import "github.com/sdnlab/sdnlab/cmd/internal/daemon"

// routerCommand is an underlay router's BGP speaker (routing: bgp). `up`
// starts it inside the router's namespace; it is not meant to be run by hand.
func routerCommand() *command {
	return &command{
		name:    "router",
		summary: "run an underlay router's BGP speaker (started by sdnlab up inside the router)",
		usage:   daemon.RouterUsage,
		hidden:  true,
		run:     daemon.Router,
	}
}
