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
	PrefixLists map[string]*PrefixList
	// RouteMaps by route-map name, entries sorted by order.
	RouteMaps map[string][]*RouteMapEntry
	// WGKeys are the WireGuard private keys of priv/wg-keys.cfg by node and
	// interface. Secrets: never put them in a message.
	WGKeys map[string]map[string]string
	// Sections of files the lab does not act on (ipams.cfg, dns.cfg), kept
	// as read.
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

	// RouteMapIn/Out name route maps of route-maps.cfg applied to the
	// controller's peers (evpn: the VTEP peers' l2vpn evpn family; bgp:
	// the underlay peers' unicast family); "" none.
	RouteMapIn  string
	RouteMapOut string

	Props map[string]Prop
}

// Fabric is a fabric section of fabrics.cfg (openfabric_fabric,
// ospf_fabric, bgp_fabric, wireguard_fabric), with its per-node sections
// (<protocol>_node) attached.
type Fabric struct {
	ID       string
	Protocol string // openfabric, ospf, bgp, wireguard
	Pos      Pos

	// IPPrefix and IP6Prefix are kept as written: Proxmox keeps host bits
	// from the file ("10.10.10.10/24") and renders them verbatim; only its
	// API canonicalizes. Compare with Masked().
	IPPrefix  netip.Prefix // invalid: unset
	IP6Prefix netip.Prefix
	// openfabric
	HelloInterval int // 0: unset
	CsnpInterval  int
	// ospf
	Area string
	// RouteFilter names a prefix list of prefix-lists.cfg that selects the
	// routes given the router IP as source (openfabric, ospf, bgp);
	// "" means the fabric's prefixes.
	RouteFilter string
	// Redistribute (ospf, bgp) in file order.
	Redistribute []Redistribution
	// bgp
	BFD         bool
	RouteMapIn  string
	RouteMapOut string
	// wireguard
	PersistentKeepalive int // 0: unset

	Nodes map[string]*FabricNode // keyed by node name
	Props map[string]Prop
}

// Redistribution is one "redistribute source=...[,metric=N][,route-map=RM]"
// entry of an ospf or bgp fabric.
type Redistribution struct {
	Source    string
	Metric    uint32
	HasMetric bool
	RouteMap  string
}

// FabricNode is a node's membership in a fabric (section ID "<fabric>_<node>").
type FabricNode struct {
	Fabric     string
	Node       string
	Pos        Pos
	IP         netip.Addr // invalid: unset
	IP6        netip.Addr
	Interfaces []FabricInterface
	// Role is "internal" (a cluster node) or "external" (bgp, wireguard);
	// "" for openfabric and ospf.
	Role string
	// bgp internal: the node's AS.
	ASN uint32
	// bgp external: the peer's address.
	PeerIP netip.Addr
	// wireguard
	WG    *WireGuardNode
	Props map[string]Prop
}

// Internal reports whether the node is a cluster node running the fabric
// (every openfabric/ospf node; bgp/wireguard nodes of role internal).
func (n *FabricNode) Internal() bool { return n.Role == "" || n.Role == "internal" }

// FabricInterface is one "interfaces name=...,ip=..." entry of a fabric node.
type FabricInterface struct {
	Name            string
	IP              netip.Prefix // invalid: unnumbered
	IP6             netip.Prefix
	HelloMultiplier int    // openfabric
	NetworkType     string // ospf: broadcast, non-broadcast, point-to-point, point-to-multipoint
	// wireguard
	ListenPort int
	PublicKey  string
	IP6LL      string // "" unset, else the boolean as written
}

// WireGuardNode holds the wireguard-only keys of a wireguard_node.
type WireGuardNode struct {
	Endpoint   string // internal: host or address; external: host:port
	PublicKey  string // external
	AllowedIPs []netip.Prefix
	Peers      []WireGuardPeer // internal
}

// WireGuardPeer is one "peers type=internal|external,..." entry.
type WireGuardPeer struct {
	Type                string // internal, external
	Node                string
	NodeIface           string // internal: the peer node's interface
	Iface               string // the local interface
	Endpoint            string
	AllowedIPs          []netip.Prefix
	SkipRouteGeneration bool
}

// PrefixList is a prefix-list section of prefix-lists.cfg.
type PrefixList struct {
	ID      string
	Pos     Pos
	Entries []PrefixListEntry // in file order
}

// PrefixListEntry is one "entries action=...,prefix=...,seq=N[,le=N][,ge=N]".
type PrefixListEntry struct {
	Action string
	Prefix netip.Prefix // as written
	LE, GE int          // 0: unset
	Seq    int
}

// RouteMapEntry is a route-map-entry section of route-maps.cfg
// ("<name>_<order>").
type RouteMapEntry struct {
	Name   string
	Order  int
	Pos    Pos
	Action string // permit, deny
	// Match and Set are FRR statements ("ip address prefix-list" "pl"),
	// translated from the section's key=...,value=... entries.
	Match []RouteMapStatement
	Set   []RouteMapStatement
	Call  string
	// ExitAction is the FRR statement ("on-match next", "continue 20"); "" none.
	ExitAction string
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
