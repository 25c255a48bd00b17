package topology

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
	"github.com/sdnlab/sdnlab/topology/underlaybgp"
)

// Lab is a resolved lab: every default filled in, every name and address
// decided. It is what `up` builds, and it is saved as lab.json in the state
// directory so that status, exec and down can work without the lab file.
type Lab struct {
	Name     string     `json:"name"`
	File     string     `json:"file"` // absolute path of the lab file
	StateDir string     `json:"stateDir,omitempty"`
	SDNDir   string     `json:"sdnDir"` // absolute path of the .cfg directory
	Nodes    []*Node    `json:"nodes"`
	Segments []*Segment `json:"segments"`
	// Routers includes the upstream router (Upstream true).
	Routers []*Router `json:"routers,omitempty"`
	Hosts   []*Host   `json:"external,omitempty"`
	Guests  []*Guest  `json:"guests,omitempty"`
	// P2P are the point-to-point links between nodes (underlay.links):
	// the cables of a fabric's mesh.
	P2P []P2PLink `json:"p2p,omitempty"`

	// Impairments are the lab file's impair: settings, applied by Up.
	Impairments []DeclaredImpairment `json:"impairments,omitempty"`

	// VNets maps each VNet of the SDN configuration to its zone and zone type
	// (where its bridge lives: the VRF namespace for evpn).
	VNets map[string]VNetInfo `json:"vnets,omitempty"`

	// Caps are the kernel features detected at up; Skipped names what could
	// not be realized and why.
	Caps    nsutil.Caps `json:"caps"`
	Skipped []string    `json:"skipped,omitempty"`
	// Models says, per node, how each vlan and qinq zone is realized
	// ("node node1: zone z (vlan): software tagging ...").
	Models []string `json:"models,omitempty"`
	// LSPGenInterval is the lab file's fabric.lsp_gen_interval (0: FRR's
	// default, what Proxmox runs): applied to every OpenFabric router.
	LSPGenInterval int `json:"lspGenInterval,omitempty"`
	// FabricConverged is how long the fabrics took at up, from the start of
	// their daemons until every member routed to every other's router IP.
	FabricConverged time.Duration `json:"fabricConverged,omitempty"`
	// Warnings are problems of the lab file that do not stop it (a node
	// missing from a vxlan zone's peers); up prints them.
	Warnings []string `json:"warnings,omitempty"`

	// Config and Plans are the SDN configuration and each node's plan (by
	// node name); they are not part of lab.json (plan.json has each plan).
	Config *config.Config            `json:"-"`
	Plans  map[string]*plan.NodePlan `json:"-"`
	// planChanged names the nodes whose plan.json this up changed.
	planChanged map[string]bool
}

// VNetInfo is a VNet's zone.
type VNetInfo struct {
	Zone     string `json:"zone"`
	ZoneType string `json:"zoneType"`
}

// Segment is an L2 underlay segment: a bridge in a switch namespace.
type Segment struct {
	Name     string       `json:"name"`
	NS       string       `json:"ns"`
	Bridge   string       `json:"bridge"`
	Subnet4  netip.Prefix `json:"subnet4,omitzero"`
	Subnet6  netip.Prefix `json:"subnet6,omitzero"`
	MTU      int          `json:"mtu"`
	External bool         `json:"external,omitempty"` // the "internet" behind the upstream
	pos      config.Pos
}

// Link is one interface of a lab namespace on an underlay segment (a veth
// whose other end, Port, is a port of the segment's switch bridge).
type Link struct {
	Segment  string         `json:"segment"`
	Ifname   string         `json:"ifname"`
	Port     string         `json:"port"`
	MAC      string         `json:"mac"`
	Addrs    []netip.Prefix `json:"addrs,omitempty"`
	RPFilter int            `json:"rpFilter"` // 0 off, 1 strict, 2 loose
}

// Node is a Proxmox node.
type Node struct {
	Name string `json:"name"`
	NS   string `json:"ns"`
	// Link is the node's underlay NIC (Ifname is the physical port its host
	// interfaces file names, eth0 when generated).
	Link Link `json:"link"`
	// Addr is the node's primary underlay address (its VTEP).
	Addr     netip.Prefix `json:"addr"`
	Gateway4 netip.Addr   `json:"gateway4,omitzero"`
	Gateway6 netip.Addr   `json:"gateway6,omitzero"`
	// Interfaces is the host interfaces file (given, or generated into the
	// state dir at up).
	Interfaces     string `json:"interfaces,omitempty"`
	InterfacesText string `json:"-"`
	UnderlayMAC    string `json:"underlayMAC"`
	// RPFilter is the rp_filter of the node's underlay interfaces as
	// written in the lab file (strict, loose, off); "" leaves the
	// namespace's defaults alone.
	RPFilter string `json:"rpFilter,omitempty"`
	// Engine is the node's SDN engine: EngineAgent (sdnlab's GoBGP agent)
	// or EngineFRR (Debian's FRR with the rendered frr.conf).
	Engine string `json:"engine,omitempty"`
	// FRRRelease is the FRR an FRR node runs: "" the host's (Debian 12's
	// 8.4), "10" Debian 13's from the private root FRR10Root.
	FRRRelease string `json:"frrRelease,omitempty"`
	// FRRLocal is the node's frr.conf.local (the lab file's frr_local),
	// merged into its frr.conf as Proxmox merges it; "" none.
	FRRLocal string `json:"frrLocal,omitempty"`
	// P2P are the node's ends of point-to-point links (interface names).
	P2P              []string `json:"p2p,omitempty"`
	host             *config.HostInterfaces
	pos              config.Pos
	interfacesGiven  bool
	segmentGivenLine config.Pos
}

// Route is a static route with one or more next hops (ECMP).
type Route struct {
	Dst netip.Prefix `json:"dst"`
	Via []netip.Addr `json:"via"`
}

// Router is an underlay router or the upstream router.
type Router struct {
	Name     string  `json:"name"`
	NS       string  `json:"ns"`
	Upstream bool    `json:"upstream,omitempty"`
	Routing  string  `json:"routing"` // static, bgp
	Links    []Link  `json:"links"`
	Routes   []Route `json:"routes,omitempty"`
	// ASN is the router's BGP AS number (routing: bgp).
	ASN uint32 `json:"asn,omitempty"`
	// BGP is the speaker's configuration (routing: bgp), written to
	// routers/<name>/bgp.json for `sdnlab router`; BGPRoutes are the
	// prefixes it is expected to learn (Up waits for them).
	BGP       *underlaybgp.Config `json:"bgp,omitempty"`
	BGPRoutes []netip.Prefix      `json:"bgpRoutes,omitempty"`
	// Reflector is the EVPN route reflector this router runs (reflector:
	// evpn), nil none; its engine is Engine (agent or frr).
	Reflector *evpn.Config `json:"reflector,omitempty"`
	Engine    string       `json:"engine,omitempty"`
	// FRRRelease is the FRR a reflector of engine frr runs (as a node's).
	FRRRelease string `json:"frrRelease,omitempty"`
	pos        config.Pos
	// reflectorSpec is the lab file's reflector key (resolved later).
	reflectorSpec, engineSpec str
}

// Host is an external host behind the upstream router.
type Host struct {
	Name     string     `json:"name"`
	NS       string     `json:"ns"`
	Link     Link       `json:"link"`
	Gateway4 netip.Addr `json:"gateway4,omitzero"`
	Gateway6 netip.Addr `json:"gateway6,omitzero"`
}

// Guest is a VM or container: a namespace whose eth0 is one end of a veth;
// the other end (Tap) is a port of the VNet bridge on its node.
type Guest struct {
	Name  string         `json:"name"`
	NS    string         `json:"ns"`
	Node  string         `json:"node"`
	VNet  string         `json:"vnet"`
	Zone  string         `json:"zone"`
	VMID  int            `json:"vmid"`
	MAC   string         `json:"mac"`
	Addrs []netip.Prefix `json:"addrs,omitempty"`
	// DHCP: the guest gets its IPv4 address from its zone's DHCP server
	// (ip: dhcp); DHCPAddr is the address the zone's IPAM mapped to its MAC
	// (what the server hands out) and DHCPGateway the subnet's gateway.
	DHCP        bool         `json:"dhcp,omitempty"`
	DHCPAddr    netip.Prefix `json:"dhcpAddr,omitzero"`
	DHCPGateway netip.Addr   `json:"dhcpGateway,omitzero"`
	Gateway4    netip.Addr   `json:"gateway4,omitzero"`
	Gateway6    netip.Addr   `json:"gateway6,omitzero"`
	MTU         int          `json:"mtu"`
	Ifname      string       `json:"ifname"` // inside the guest: eth0
	Tap         string       `json:"tap"`    // host end: tap<vmid>i0
	// Isolated: the VNet has isolate-ports; the tap is plugged as an
	// isolated bridge port, as Proxmox plugs a VM's tap there.
	Isolated bool `json:"isolated,omitempty"`
	// Tag is the VLAN of the guest's NIC on a VLAN-aware VNet (Proxmox's
	// tag=N on net0): its tap is an access port of that VLAN.
	Tag int `json:"tag,omitempty"`
	// Kind is GuestNetns (a namespace: NS) or GuestVM (a QEMU process on
	// its node; NS is empty and VMDir is the running instance's directory).
	Kind  string `json:"kind,omitempty"`
	VMDir string `json:"vm_dir,omitempty"`
	pos   config.Pos
}

// Guest kinds.
const (
	GuestNetns = "netns"
	GuestVM    = "vm"
)

// IsVM reports whether the guest is a QEMU virtual machine.
func (g *Guest) IsVM() bool { return g.Kind == GuestVM }

// Node returns the node called name, or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Guest returns the guest called name, or nil.
func (l *Lab) Guest(name string) *Guest {
	for _, g := range l.Guests {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Segment returns the segment called name, or nil.
func (l *Lab) Segment(name string) *Segment {
	for _, s := range l.Segments {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Router returns the router called name, or nil.
func (l *Lab) Router(name string) *Router {
	for _, r := range l.Routers {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Upstream returns the upstream router, or nil.
func (l *Lab) Upstream() *Router {
	for _, r := range l.Routers {
		if r.Upstream {
			return r
		}
	}
	return nil
}

// Host returns the external host called name, or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Prefix is what every namespace of the lab starts with.
func (l *Lab) Prefix() string { return NSPrefix(l.Name) }

// NSPrefix is the namespace name prefix of a lab: "sdnlab-<lab>-". Lab
// names contain no '-', so one lab's prefix never matches another's.
func NSPrefix(lab string) string { return "sdnlab-" + lab + "-" }

// NS returns the namespace of a node, guest, router, external host (by
// name) or segment switch ("sw-<segment>"), or "" if there is none.
func (l *Lab) NS(thing string) string {
	if n := l.Node(thing); n != nil {
		return n.NS
	}
	if g := l.Guest(thing); g != nil {
		return g.NS
	}
	if r := l.Router(thing); r != nil {
		return r.NS
	}
	if h := l.Host(thing); h != nil {
		return h.NS
	}
	for _, s := range l.Segments {
		if "sw-"+s.Name == thing {
			return s.NS
		}
	}
	return ""
}

// VRFNS is the namespace that serves as VRF of an EVPN zone on a node.
func VRFNS(lab, node, zone string) string { return NSPrefix(lab) + node + "-vrf-" + zone }

// BridgeNS returns the namespace in which the bridge of vnet lives on node:
// the zone's VRF namespace for EVPN zones, the node namespace otherwise.
func (l *Lab) BridgeNS(node, vnet string) string {
	n := l.Node(node)
	if n == nil {
		return ""
	}
	if v, ok := l.VNets[vnet]; ok && registry.Traits(v.ZoneType).VRF {
		return VRFNS(l.Name, node, v.Zone)
	}
	return n.NS
}

// stableMAC derives a MAC from a name, so a guest keeps its MAC across runs.
// It uses Proxmox's own prefix (bc:24:11) so captures look like a cluster.
func stableMAC(salt, name string) string {
	h := sha256.Sum256([]byte(salt + "\x00" + name))
	return net.HardwareAddr{0xbc, 0x24, 0x11, h[0], h[1], h[2]}.String()
}

// shortHash is n hex digits of a name's hash, for interface names that
// must fit 15 characters.
func shortHash(name string, n int) string {
	h := sha256.Sum256([]byte(name))
	return fmt.Sprintf("%x", h[:])[:n]
}

func nodeMAC(name string) string  { return stableMAC("node", name) }
func guestMAC(name string) string { return stableMAC("guest", name) }
func portMAC(ns, ifname string) string {
	h := sha256.Sum256([]byte(ns + "\x00" + ifname))
	// locally administered, unicast
	return net.HardwareAddr{0x02, h[0], h[1], h[2], h[3], h[4]}.String()
}

// Things names everything of the lab a command can run in: nodes, guests,
// routers, external hosts and switches ("sw-<segment>").
func (l *Lab) Things() []string {
	var out []string
	for _, n := range l.Nodes {
		out = append(out, n.Name)
	}
	for _, g := range l.Guests {
		out = append(out, g.Name)
	}
	for _, r := range l.Routers {
		out = append(out, r.Name)
	}
	for _, h := range l.Hosts {
		out = append(out, h.Name)
	}
	for _, s := range l.Segments {
		out = append(out, "sw-"+s.Name)
	}
	return out
}
