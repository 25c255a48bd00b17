package plan

import "github.com/sdnlab/sdnlab/sdn/frr"

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
	// It is what the evpn, bgp and isis controllers and the openfabric/ospf
	// fabrics generate, with frr.conf.local merged in: render.FRR writes it
	// as /etc/frr/frr.conf and the EVPN agent configures its BGP speaker
	// from it (see package sdn/frr).
	FRR *frr.Config `json:"frr,omitempty"`
	// WireGuard are the node's WireGuard interfaces of wireguard fabrics,
	// sorted by name; render.WireGuard writes each as a wg(8) config file.
	WireGuard []WireGuardConfig `json:"wireguard,omitempty"`
	// DHCP are the DHCP servers of the zones with "dhcp", sorted by zone.
	DHCP []DHCPServer `json:"dhcp,omitempty"`
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
