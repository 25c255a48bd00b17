// Package render writes a NodePlan as Proxmox-identical text.
package render

import "github.com/sdnlab/sdnlab/sdn"

// FRR renders /etc/frr/frr.conf for a node. (Owned by the controller
// renderer; placeholder until it lands.)
func FRR(plan *sdn.NodePlan) string { return "" }
