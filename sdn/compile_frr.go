package sdn

import "github.com/sdnlab/sdnlab/sdn/config"

// compileFRR fills plan.FRR from the controllers that apply to the node.
// (Owned by the controller compiler; placeholder until it lands.)
func compileFRR(cfg *config.Config, facts NodeFacts, plan *NodePlan) error { return nil }
