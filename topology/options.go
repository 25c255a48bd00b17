package topology

// Options of Up and Down and where a lab keeps its state.

import (
	"io"
	"path/filepath"
	"runtime"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// DefaultStateDir holds one directory per running lab.
const DefaultStateDir = "/run/sdnlab"

// Options tune Up and Down.
type Options struct {
	// StateDir is the parent of the per-lab state directory
	// (default /run/sdnlab).
	StateDir string
	// Progress receives one line per step and node; nil is quiet.
	Progress io.Writer
	// StartAgents starts the SDN engine of every node whose plan has a
	// controller (plan.FRR != nil): `<AgentPath> agent --lab LAB --node
	// NODE --state DIR` on agent nodes, FRR (package frrnode) on FRR nodes.
	// Off by default: the agent command lives in another package.
	StartAgents bool
	// AgentPath is the sdnlab binary (default os.Executable()).
	AgentPath string
	// RouterPath is the binary run as `router` in the namespace of each
	// underlay router with routing: bgp (default AgentPath, else
	// os.Executable()). BGP routers are always started: without them the
	// underlay has no routes between their segments.
	RouterPath string
	// BGPWait bounds how long Up waits for the underlay BGP routers to
	// learn every segment (default DefaultBGPWait).
	BGPWait time.Duration
	// FabricWait bounds how long Up waits for the fabrics to converge
	// (default DefaultFabricWait).
	FabricWait time.Duration
	// Workers bounds how many namespaces are built at once (default 4 x CPUs).
	Workers int
	// Caps, when set, replaces kernel capability detection (tests that
	// build many labs assume the reference machine's set).
	Caps *nsutil.Caps
}

func (o *Options) stateRoot() string {
	if o.StateDir == "" {
		return DefaultStateDir
	}
	return o.StateDir
}

// LabDir is the state directory of a lab.
func (o Options) LabDir(lab string) string { return filepath.Join(o.stateRoot(), lab) }

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return 4 * runtime.NumCPU()
}
