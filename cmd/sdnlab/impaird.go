package main

import "github.com/sdnlab/sdnlab/cmd/internal/daemon"

// impairdCommand holds one interface's impairment (the eBPF program and the
// paced path). `sdnlab impair` starts it inside the interface's namespace;
// the impairment lasts as long as it runs.
func impairdCommand() *command {
	return &command{
		name:    "impaird",
		summary: "hold an interface's impairment (started by sdnlab impair inside the namespace)",
		usage:   daemon.ImpairdUsage,
		hidden:  true,
		run:     daemon.Impaird,
	}
}
