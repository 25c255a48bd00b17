package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/sdnlab/sdnlab/topology/impair"
)

// impairdCommand holds one interface's impairment (the eBPF program and the
// paced path). `sdnlab impair` starts it inside the interface's namespace;
// the impairment lasts as long as it runs.
func impairdCommand() *command {
	return &command{
		name:    "impaird",
		summary: "hold an interface's impairment (started by sdnlab impair inside the namespace)",
		usage:   "--if IFACE --spec JSON [--ready FILE]",
		hidden:  true,
		run:     runImpaird,
	}
}

func runImpaird(ctx context.Context, args []string) error {
	fs := newFlagSet("impaird")
	ifname := fs.String("if", "", "interface")
	specJSON := fs.String("spec", "", "the impairment (JSON)")
	ready := fs.String("ready", "", "file to create once the impairment is in force")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var spec impair.Spec
	if err := json.Unmarshal([]byte(*specJSON), &spec); err != nil {
		return badInput("--spec: %v", err)
	}
	return impair.Serve(ctx, *ifname, spec, func() {
		if *ready != "" {
			_ = os.WriteFile(*ready, []byte("ready\n"), 0o644)
		}
	})
}
