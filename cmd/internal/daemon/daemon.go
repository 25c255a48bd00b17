// Package daemon holds the command lines of the lab's long-running
// processes that `sdnlab up` starts inside a namespace: a node's EVPN
// agent, an underlay router's BGP speaker and an interface's impairment.
// Both binaries run them: the sdnlab CLI (`sdnlab agent`, `sdnlab router`,
// `sdnlab impaird`) and the lean sdnlab-engine, which links nothing else.
// A lab runs one agent per node, so what every process pays at start and
// keeps resident matters: measured, the CLI's packet decoders alone
// (gopacket's layer tables) wrote 6.4 MB into every agent at start, 1.9 GB
// for a 300-node lab.
package daemon

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn/bfd"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/topology"
	"github.com/sdnlab/sdnlab/topology/impair"
)

// BadInput is an error in the command line or a file it names (exit
// code 2).
type BadInput struct{ Msg string }

func (e *BadInput) Error() string { return e.Msg }

// BadInput marks the error for the CLI's exit codes.
func (e *BadInput) BadInput() bool { return true }

func badInput(format string, a ...any) error { return &BadInput{fmt.Sprintf(format, a...)} }

// flags are the flags every daemon takes: --lab, --<what> NAME, --state.
type flags struct {
	fs               *flag.FlagSet
	what             string
	lab, name, state *string
}

func newFlags(cmd, what string) *flags {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{
		fs:    fs,
		what:  what,
		lab:   fs.String("lab", "", "lab name"),
		name:  fs.String(what, "", what+" name"),
		state: fs.String("state", "", "lab state directory (default /run/sdnlab/LAB)"),
	}
}

// parse parses args; --lab and --<what> are required.
func (f *flags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return badInput("%v", err)
	}
	if *f.lab == "" || *f.name == "" {
		return badInput("--lab and --%s are required", f.what)
	}
	return nil
}

// AgentUsage and RouterUsage are the daemons' argument summaries.
const (
	AgentUsage  = "--lab LAB --node NODE [--state DIR] [--config FILE]"
	RouterUsage = "--lab LAB --router ROUTER [--state DIR]"
)

// Agent runs a node's EVPN control plane (and a route reflector's, which
// `up` starts with --config) until ctx ends.
func Agent(ctx context.Context, args []string) error {
	f := newFlags("agent", "node")
	cfgFile := f.fs.String("config", "", "agent configuration (JSON of evpn.Config) instead of the node's plan")
	if err := f.parse(args); err != nil {
		return err
	}
	node := *f.name
	dir := *f.state
	if dir == "" {
		dir = filepath.Join(topology.DefaultStateDir, *f.lab)
	}
	nodeDir := filepath.Join(dir, "nodes", node)
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
		var p plan.NodePlan
		if err := json.Unmarshal(b, &p); err != nil {
			return badInput("%s: %v", planFile, err)
		}
		cfg, err = topology.AgentConfig(*f.lab, dir, node, &p)
		if err != nil {
			return badInput("%s: %v", planFile, err)
		}
	}
	if cfg.Node == "" {
		cfg.Node = node
	}
	load := proc.Load{Peers: len(cfg.Neighbors)}
	for _, n := range cfg.Neighbors {
		load.Reflector = load.Reflector || n.RRClient
	}
	proc.LimitRuntime(load)
	if load.Reflector {
		// A reflector's BFD runs in a process of its own (sdn/bfd,
		// process.go): inside this one it waited behind GoBGP's reflection.
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bfd process: %w", err)
		}
		cfg.BFDProcess = []string{exe, "bfdd"}
	}
	if fault := os.Getenv(evpn.TestFaultEnv); fault != "" {
		cfg.TestFault = fault
	}
	log := proc.Logger("node", node)
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

// BFDDUsage is the BFD process's argument summary.
const BFDDUsage = "(no arguments: its sessions come on stdin)"

// BFDD runs a node's BFD sessions for its agent (bfd.StartProcess): the
// configuration and sessions on stdin, state changes on stdout, until
// stdin closes.
func BFDD(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return badInput("bfdd takes no arguments")
	}
	proc.LimitRuntime(proc.Load{Single: true})
	return bfd.Serve(ctx, os.Stdin, os.Stdout, proc.Logger("proto", "bfd", "process", "bfdd"))
}

// Router runs an underlay router's BGP speaker (routing: bgp) until ctx
// ends.
func Router(ctx context.Context, args []string) error {
	f := newFlags("router", "router")
	if err := f.parse(args); err != nil {
		return err
	}
	proc.LimitRuntime(proc.Load{})
	return topology.RunRouter(ctx, *f.lab, *f.name, *f.state, os.Stdin)
}

// ImpairdUsage is the impairment daemon's argument summary.
const ImpairdUsage = "--if IFACE --spec JSON [--ready FILE]"

// Impaird holds one interface's impairment (the eBPF program and the
// paced path) until ctx ends; `sdnlab impair` starts it inside the
// interface's namespace.
func Impaird(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("impaird", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ifname := fs.String("if", "", "interface")
	specJSON := fs.String("spec", "", "the impairment (JSON)")
	ready := fs.String("ready", "", "file to create once the impairment is in force")
	if err := fs.Parse(args); err != nil {
		return badInput("%v", err)
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
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
