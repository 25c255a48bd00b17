// Package config reads a Proxmox VE SDN configuration (/etc/pve/sdn/*.cfg)
// and a host's /etc/network/interfaces into a typed, validated model.
package config

import "net/netip"

// Pos locates a value in an input file, for error messages.
type Pos struct {
	File string
	Line int
}

// Config is one cluster's SDN configuration, as Proxmox would read it.
// Maps are keyed by section ID; use the sorted accessors for stable order.
type Config struct {
	Dir         string
	Zones       map[string]*Zone
	VNets       map[string]*VNet
	Subnets     map[string]*Subnet
	Controllers map[string]*Controller
	Fabrics     map[string]*Fabric
	// Sections of files the lab does not act on (ipams.cfg, dns.cfg,
	// prefix-lists.cfg, route-maps.cfg), kept as read.
	Other map[string][]Section
	// Settings Proxmox accepts that the lab keeps but does not act on.
	Ignored []Ignored
	// Warnings are problems Proxmox's API refuses on create/update but its
	// config parser and generator accept (pve-network renders them, e.g. a
	// subnet id with host bits or a gateway outside the subnet). Load does
	// not fail on them so render can reproduce Proxmox; validate does
	// (see Strict).
	Warnings ErrorList

	types Types // the section types it was decoded with
}

// Ignored names a setting that was read and kept but has no effect in a lab.
type Ignored struct {
	Pos    Pos
	Field  string
	Reason string
}

// Zone is a section of zones.cfg. Fields not meaningful for a zone type stay zero.
type Zone struct {
	ID   string
	Type string // simple, vlan, qinq, vxlan, evpn (faucet is rejected)
	Pos  Pos

	Nodes      []string // empty: every node
	IPAM       string
	DNS        string
	ReverseDNS string
	DNSZone    string
	DHCP       string
	MTU        int // 0: unset

	Bridge                   string // vlan, qinq
	BridgeDisableMacLearning bool   // vlan
	Tag                      int    // qinq service tag; 0: unset
	VlanProtocol             string // qinq: "802.1q" or "802.1ad"; "" unset

	Peers     []netip.Addr // vxlan
	VxlanPort int          // vxlan, evpn; 0: unset (4789)
	Fabric    string       // vxlan

	Controller              string // evpn
	VrfVxlan                int    // evpn L3VNI
	MAC                     string // evpn anycast gateway MAC, as written
	ExitNodes               []string
	ExitNodesPrimary        string
	ExitNodesLocalRouting   bool
	AdvertiseSubnets        bool
	DisableArpNdSuppression bool
	RTImport                []string

	Props map[string]Prop // every key as read, for positions
}

// VNet is a section of vnets.cfg.
type VNet struct {
	ID           string
	Pos          Pos
	Zone         string
	Tag          int // 0: no tag
	Alias        string
	VlanAware    bool
	IsolatePorts bool
	Props        map[string]Prop
}

// Subnet is a section of subnets.cfg; its ID is "<zone>-<address>-<prefixlen>".
type Subnet struct {
	ID            string
	Pos           Pos
	Zone          string // from the ID
	VNet          string
	Prefix        netip.Prefix
	Gateway       netip.Addr // invalid: none
	SNAT          bool
	DNSZonePrefix string
	DHCPRanges    []DHCPRange
	DHCPDNSServer netip.Addr
	Props         map[string]Prop
}

// DHCPRange is one dhcp-range entry of a subnet (kept, not acted on).
type DHCPRange struct {
	Start, End netip.Addr
}

// Controller is a section of controllers.cfg.
type Controller struct {
	ID   string
	Type string // evpn, bgp, isis (faucet is rejected)
	Pos  Pos

	ASN    uint32       // evpn, bgp
	Peers  []netip.Addr // evpn, bgp
	Fabric string       // evpn: peers come from this fabric instead

	Node                    string // bgp, isis: the node this applies to
	EBGP                    bool
	EBGPMultihop            int
	Loopback                string // bgp, isis
	BGPMultipathAsPathRelax bool

	ISISDomain string
	ISISIfaces []string
	ISISNet    string

	Props map[string]Prop
}

// Fabric is an openfabric_fabric or ospf_fabric section of fabrics.cfg,
// with its per-node sections (openfabric_node/ospf_node) attached.
type Fabric struct {
	ID       string
	Protocol string // openfabric, ospf
	Pos      Pos

	IPPrefix  netip.Prefix // invalid: unset
	IP6Prefix netip.Prefix
	// openfabric
	HelloInterval int // 0: unset
	CsnpInterval  int
	// ospf
	Area string

	Nodes map[string]*FabricNode // keyed by node name
	Props map[string]Prop
}

// FabricNode is a node's membership in a fabric (section ID "<fabric>_<node>").
type FabricNode struct {
	Fabric     string
	Node       string
	Pos        Pos
	IP         netip.Addr // invalid: unset
	IP6        netip.Addr
	Interfaces []FabricInterface
	Props      map[string]Prop
}

// FabricInterface is one "interfaces name=...,ip=..." entry of a fabric node.
type FabricInterface struct {
	Name            string
	IP              netip.Prefix // invalid: unnumbered
	IP6             netip.Prefix
	HelloMultiplier int
}

// Section is one raw section of a section-config file.
type Section struct {
	Type  string
	ID    string
	Pos   Pos
	Props []Prop // in file order; a repeated key appears once per line
}

// Prop is one "key value" line of a section.
type Prop struct {
	Key   string
	Value string
	Pos   Pos
}
