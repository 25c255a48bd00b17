// Package sdn compiles a Proxmox SDN configuration into one NodePlan per node.
// The NodePlan is the single source of truth: the text renderers (sdn/render)
// and the kernel realizer (sdn/realize) and the EVPN agent (sdn/evpn) read it
// and never re-derive what it says.
//
// The data types a zone compiler produces live in the leaf package sdn/plan
// (so sdn/zones can use them without an import cycle) and are re-exported
// here under the same names.
package sdn

import "github.com/sdnlab/sdnlab/sdn/plan"

// Re-exported plan types; see package sdn/plan for their documentation.
type (
	ZonePlan   = plan.ZonePlan
	VNetPlan   = plan.VNetPlan
	SubnetPlan = plan.SubnetPlan
	Iface      = plan.Iface
	IfaceKind  = plan.IfaceKind
	Line       = plan.Line
	OVSOptions = plan.OVSOptions
	Route      = plan.Route
	SNATRule   = plan.SNATRule
)

// Stanza kinds, re-exported from sdn/plan.
const (
	KindBridge   = plan.KindBridge
	KindVxlan    = plan.KindVxlan
	KindVRF      = plan.KindVRF
	KindVeth     = plan.KindVeth
	KindVlan     = plan.KindVlan
	KindOVS      = plan.KindOVS
	KindDummy    = plan.KindDummy
	KindPhysical = plan.KindPhysical
)

// NodePlan is everything one node runs for the SDN configuration.
type NodePlan struct {
	Node string `json:"node"`
	// Version is the SDN configuration version written as the first line of
	// interfaces.d/sdn ("#version:N"); a lab applies a configuration once,
	// so it is 1.
	Version int `json:"version"`
	// Ifaces are the stanzas of /etc/network/interfaces.d/sdn, in the order
	// Proxmox writes them: zone stanzas sorted by name, then the stanzas the
	// fabrics generate (in fabric order, see compileFabricIfaces).
	Ifaces []Iface `json:"ifaces"`
	// Zones is the semantic view of each zone that applies to this node,
	// for the realizer and the EVPN agent, sorted by zone ID. A zone appears
	// here only when at least one VNet of it was generated on this node.
	Zones []ZonePlan `json:"zones"`
	// FRR is the routing configuration; nil when no controller applies.
	FRR *FRRConfig `json:"frr,omitempty"`
	// Notes are facts worth telling the user (settings kept but ignored,
	// derivations made from host facts, VNets Proxmox would skip).
	Notes []string `json:"notes,omitempty"`
}

// Iface returns the stanza called name (the first one, when a fabric
// writes an inet and an inet6 stanza of one name), or nil.
func (p *NodePlan) Iface(name string) *Iface {
	for i := range p.Ifaces {
		if p.Ifaces[i].Name == name {
			return &p.Ifaces[i]
		}
	}
	return nil
}

// Zone returns the plan of zone id, or nil.
func (p *NodePlan) Zone(id string) *ZonePlan {
	for i := range p.Zones {
		if p.Zones[i].ID == id {
			return &p.Zones[i]
		}
	}
	return nil
}
