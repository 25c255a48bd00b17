package plan

import "net/netip"

// DHCPServer is the DHCP service Proxmox runs for a zone with "dhcp"
// (dnsmasq@<zone>): Proxmox writes it on every node, whether or not the
// zone's VNets exist there.
type DHCPServer struct {
	Zone string `json:"zone"`
	Type string `json:"type"` // "dnsmasq"
	// MTU is the zone's MTU as the DHCP plugin reads it (the zone's mtu,
	// else 1500): DHCP option 26 and the RA MTU.
	MTU   int        `json:"mtu"`
	VNets []DHCPVNet `json:"vnets,omitempty"` // sorted by VNet ID
}

// DHCPVNet is one VNet of a DHCP zone with its subnets (sorted by ID).
type DHCPVNet struct {
	VNet    string       `json:"vnet"`
	Subnets []DHCPSubnet `json:"subnets,omitempty"`
}

// DHCPSubnet is what the DHCP server hands out in one subnet.
type DHCPSubnet struct {
	ID        string       `json:"id"` // "<zone>-<network>-<length>"
	Prefix    netip.Prefix `json:"prefix"`
	Gateway   netip.Addr   `json:"gateway,omitzero"`
	DNSServer netip.Addr   `json:"dnsServer,omitzero"` // dhcp-dns-server
	Ranges    []DHCPRange  `json:"ranges,omitempty"`
}

// DHCPRange is one dhcp-range of a subnet: the addresses Proxmox's IPAM
// hands out to guests (dnsmasq itself only serves the static mappings).
type DHCPRange struct {
	Start netip.Addr `json:"start"`
	End   netip.Addr `json:"end"`
}
