package sdn

import "github.com/sdnlab/sdnlab/sdn/plan"

// NodeFacts are the host facts a plan is compiled from (node name, host
// interfaces, underlay MAC, frr.conf.local); see plan.NodeFacts for the
// derivations Proxmox makes from them (LocalIP, RouteGet, IsVlanAware,
// IsOVSBridge, BridgePhysicalPorts).
type NodeFacts = plan.NodeFacts

// ErrNoLocalIP is returned by NodeFacts.LocalIP when no source address
// can be derived.
var ErrNoLocalIP = plan.ErrNoLocalIP
