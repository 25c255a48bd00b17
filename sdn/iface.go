package sdn

import "github.com/sdnlab/sdnlab/sdn/plan"

// ImplicitVlan reports whether a bridge port name such as "eth0.100" names
// a VLAN sub-interface ifupdown2 creates on its own, and splits it.
func ImplicitVlan(name string) (raw string, id int, ok bool) { return plan.ImplicitVlan(name) }
