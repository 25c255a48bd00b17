// Package plan is the foundation every stage reads: the NodePlan that the
// compiler (package sdn) produces for one node, with its interface stanzas,
// zone/VNet/subnet plans, the FRR model (package sdn/frr) and the host
// facts it is derived from. The renderers (sdn/render), the kernel
// realizer (sdn/realize), the EVPN agent (sdn/evpn), topology and the
// scenarios import this package and sdn/frr, never the compiler, and they
// never re-derive what the plan says.
//
// Everything here is plain data and JSON-serialisable.
package plan

import (
	"net/netip"
)

// ZonePlan is a zone as it exists on one node.
type ZonePlan struct {
	ID   string `json:"id"`
	Type string `json:"type"` // simple, vlan, qinq, vxlan, evpn
	// MTU is the effective MTU of the VNet bridges as Proxmox writes it
	// (vxlan/evpn: the zone's mtu, else 1450; simple/vlan/qinq: the zone's
	// mtu, else 0 = kernel default).
	MTU int `json:"mtu,omitempty"`

	VNets []VNetPlan `json:"vnets"`

	// vlan, qinq: the host bridge the zone hangs off, and what it is.
	Bridge          string `json:"bridge,omitempty"`
	BridgeOVS       bool   `json:"bridgeOVS,omitempty"`
	BridgeVlanAware bool   `json:"bridgeVlanAware,omitempty"`
	// qinq: service VLAN tag and protocol ("802.1q" unless 802.1ad), and the
	// zone's own VLAN-aware bridge ("z_<zone>").
	ServiceTag   int    `json:"serviceTag,omitempty"`
	VlanProtocol string `json:"vlanProtocol,omitempty"`
	ZoneBridge   string `json:"zoneBridge,omitempty"`
	// MacLearningOff is bridge-disable-mac-learning: guest ports are
	// plugged with learning off and their MACs added statically.
	MacLearningOff bool `json:"macLearningOff,omitempty"`

	// vxlan and evpn
	// LocalVTEP is this node's VXLAN source address (invalid: none found;
	// Proxmox then writes no vxlan-local-tunnelip).
	LocalVTEP netip.Addr `json:"localVTEP,omitzero"`
	// LocalIface is the host interface LocalVTEP belongs to ("" unknown).
	LocalIface string `json:"localIface,omitempty"`
	VxlanPort  int    `json:"vxlanPort,omitempty"` // 0: default 4789
	// Peers is the vxlan zone's static head-end replication list (without
	// self), or the EVPN controller's BGP peers (as configured, with self).
	Peers []netip.Addr `json:"peers,omitempty"`
	// Fabric is the fabric the peers come from ("" when listed).
	Fabric string `json:"fabric,omitempty"`

	// evpn
	Controller           string   `json:"controller,omitempty"`
	VRF                  string   `json:"vrf,omitempty"` // "vrf_<zone>"
	L3VNI                int      `json:"l3vni,omitempty"`
	L3Bridge             string   `json:"l3Bridge,omitempty"`   // "vrfbr_<zone>", "" without L3VNI
	L3Vxlan              string   `json:"l3Vxlan,omitempty"`    // "vrfvx_<zone>", "" without L3VNI
	AnycastMAC           string   `json:"anycastMAC,omitempty"` // as written; "" when the zone sets none
	ARPNDSuppress        bool     `json:"arpNdSuppress,omitempty"`
	ExitNode             bool     `json:"exitNode,omitempty"` // this node is an exit node of the zone
	ExitNodes            []string `json:"exitNodes,omitempty"`
	ExitNodePrimary      string   `json:"exitNodePrimary,omitempty"`
	ExitNodeLocalRouting bool     `json:"exitNodeLocalRouting,omitempty"`
	// XVRF/XVRFPeer are the veth pair for local cross-VRF routing on an
	// exit node with exitnodes-local-routing ("" otherwise).
	XVRF             string   `json:"xvrf,omitempty"`
	XVRFPeer         string   `json:"xvrfPeer,omitempty"`
	AdvertiseSubnets bool     `json:"advertiseSubnets,omitempty"`
	RTImport         []string `json:"rtImport,omitempty"`
	ASN              uint32   `json:"asn,omitempty"`
}

// VNetPlan is one VNet on one node.
type VNetPlan struct {
	ID     string `json:"id"`
	Bridge string `json:"bridge"`        // the Linux bridge guests attach to (the VNet id)
	Tag    int    `json:"tag,omitempty"` // VLAN id or VNI; 0 none
	// Vxlan is the vxlan device name, "" when not a vxlan/evpn VNet.
	Vxlan string `json:"vxlan,omitempty"`
	// Uplink is the device that joins the VNet bridge to the zone's
	// transport ("vxlan_<vnet>", "ln_<vnet>", "vmbr0.100", "z_<zone>.100",
	// "pr_<zone>"; "" for simple zones).
	Uplink    string `json:"uplink,omitempty"`
	VlanAware bool   `json:"vlanAware,omitempty"`
	Alias     string `json:"alias,omitempty"`
	// MAC is the bridge MAC Proxmox sets (simple: the vnet's mac; evpn: the
	// zone's anycast MAC); "" when none.
	MAC          string       `json:"mac,omitempty"`
	IsolatePorts bool         `json:"isolatePorts,omitempty"`
	Subnets      []SubnetPlan `json:"subnets,omitempty"`
}

// SubnetPlan is one subnet of a VNet.
type SubnetPlan struct {
	ID      string       `json:"id"`
	Prefix  netip.Prefix `json:"prefix"`
	Gateway netip.Addr   `json:"gateway,omitzero"` // invalid: none
	SNAT    bool         `json:"snat,omitempty"`
}
