package config

import "net/netip"

// HostInterfaces is the ifupdown2 subset of a Proxmox host's
// /etc/network/interfaces (with its "source" includes followed).
type HostInterfaces struct {
	File   string
	Order  []string // iface names in file order
	Ifaces map[string]*HostIface
	// Warnings are problems ifupdown2 tolerates (e.g. an IPv6 address in
	// an inet stanza); the parse does not fail on them.
	Warnings ErrorList
}

// HostIface is one iface stanza (inet and inet6 stanzas of one name merged).
type HostIface struct {
	Name      string
	Pos       Pos
	Auto      bool
	Method4   string // static, manual, dhcp, loopback; "" no inet stanza
	Method6   string
	Addresses []netip.Prefix
	Gateway   netip.Addr
	Gateway6  netip.Addr
	MTU       int

	BridgePorts     []string
	BridgeVlanAware bool

	OVSType   string // OVSBridge, OVSPort, OVSIntPort, ...
	OVSBridge string
	OVSPorts  []string

	// Routes are the static routes its "up"/"post-up" commands add with
	// "ip route add|replace PREFIX via ADDR" (how a host on a routed
	// underlay reaches the other racks).
	Routes []HostRoute

	// Other keeps every option line as read (key -> values).
	Other map[string][]string
}

// HostRoute is one static route of an interface's up commands.
type HostRoute struct {
	Pos Pos
	Dst netip.Prefix
	Via netip.Addr
}
