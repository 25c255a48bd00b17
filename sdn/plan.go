// Package sdn compiles a Proxmox SDN configuration into one NodePlan per node.
// The NodePlan is the single source of truth: the text renderers (sdn/render)
// and the kernel realizer (sdn/realize) and the EVPN agent (sdn/evpn) read it
// and never re-derive what it says.
package sdn

import (
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
)

// NodeFacts are what Proxmox reads from the running host rather than from
// /etc/pve/sdn: the node name, its /etc/network/interfaces, the MAC of the
// underlay interface (router-id derivation on IPv6-only underlays) and the
// optional /etc/frr/frr.conf.local.
type NodeFacts struct {
	Node        string
	Interfaces  *config.HostInterfaces // nil: none known
	UnderlayMAC string                 // "" unset
	FRRLocal    string                 // content of frr.conf.local, "" none
}

// NodePlan is everything one node runs for the SDN configuration.
type NodePlan struct {
	Node string
	// Ifaces are the stanzas of /etc/network/interfaces.d/sdn, in the order
	// Proxmox writes them.
	Ifaces []Iface
	// Zones is the semantic view of each zone that applies to this node,
	// for the realizer and the EVPN agent.
	Zones []ZonePlan
	// FRR is the routing configuration; nil when no controller applies.
	FRR *FRRConfig
	// Notes are facts worth telling the user (settings kept but ignored,
	// derivations made from host facts).
	Notes []string
}

// ZonePlan is a zone as it exists on one node.
type ZonePlan struct {
	ID   string
	Type string // simple, vlan, qinq, vxlan, evpn
	MTU  int    // effective MTU of the VNet bridges (0: kernel default)

	VNets []VNetPlan

	// vxlan and evpn
	LocalVTEP netip.Addr
	VxlanPort int          // 0: default 4789
	Peers     []netip.Addr // vxlan: static head-end replication list (without self)

	// evpn
	VRF                  string // "vrf_<zone>"
	L3VNI                int
	L3Bridge             string // "vrfbr_<zone>"
	L3Vxlan              string // "vrfvx_<zone>"
	AnycastMAC           string // "" when the zone sets none (kernel-chosen per node)
	ARPNDSuppress        bool
	ExitNode             bool // this node is an exit node of the zone
	ExitNodePrimary      string
	ExitNodeLocalRouting bool
	AdvertiseSubnets     bool
	RTImport             []string
	ASN                  uint32
}

// VNetPlan is one VNet on one node.
type VNetPlan struct {
	ID        string
	Bridge    string // the Linux bridge guests attach to (the VNet id)
	Tag       int    // VLAN id or VNI; 0 none
	Vxlan     string // vxlan device name, "" when not a vxlan/evpn VNet
	VlanAware bool
	Subnets   []SubnetPlan
}

// SubnetPlan is one subnet of a VNet.
type SubnetPlan struct {
	ID      string
	Prefix  netip.Prefix
	Gateway netip.Addr // invalid: none
	SNAT    bool
}
