package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/topology"
)

// agentCommand is the node's EVPN control plane. topology starts it inside
// the node's namespace; it is not meant to be run by hand.
func agentCommand() *command {
	return &command{
		name:    "agent",
		summary: "run a node's EVPN control plane (started by sdnlab up inside the node)",
		usage:   "--lab LAB --node NODE [--state DIR] [--config FILE]",
		hidden:  true,
		run:     runAgent,
	}
}

func runAgent(ctx context.Context, args []string) error {
	pf := newProcFlags("agent", "node")
	cfgFile := pf.fs.String("config", "", "agent configuration (JSON of evpn.Config) instead of the node's plan")
	if err := pf.parse(args); err != nil {
		return err
	}
	lab, node, state := pf.lab, pf.name, pf.state
	dir := *state
	if dir == "" {
		dir = filepath.Join(topology.DefaultStateDir, *lab)
	}
	nodeDir := filepath.Join(dir, "nodes", *node)
	var cfg evpn.Config
	if *cfgFile != "" {
		b, err := os.ReadFile(*cfgFile)
		if err != nil {
			return badInput("%v", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return badInput("%s: %v", *cfgFile, err)
		}
	} else {
		planFile := filepath.Join(nodeDir, "plan.json")
		b, err := os.ReadFile(planFile)
		if err != nil {
			return badInput("%v", err)
		}
		var plan plan.NodePlan
		if err := json.Unmarshal(b, &plan); err != nil {
			return badInput("%s: %v", planFile, err)
		}
		cfg, err = topology.AgentConfig(*lab, dir, *node, &plan)
		if err != nil {
			return badInput("%s: %v", planFile, err)
		}
	}
	if cfg.Node == "" {
		cfg.Node = *node
	}
	proc.LimitRuntime()
	if f := os.Getenv(evpn.TestFaultEnv); f != "" {
		cfg.TestFault = f
	}
	log := proc.Logger("node", *node)
	// GoBGP announces the hostname (FQDN capability): the node's name, as
	// a Proxmox node's bgpd does, in the UTS namespace topology gave us.
	if _, err := proc.SetOwnHostname(); err != nil {
		log.Warn("hostname", "err", err)
	}
	stdin := proc.ParentPipe(os.Stdin)
	if err := os.MkdirAll(nodeDir, 0o755); err != nil {
		return err
	}
	return evpn.Serve(ctx, cfg, filepath.Join(nodeDir, "agent.sock"), stdin, log)
}
