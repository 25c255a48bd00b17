// Package frr is the typed model of a node's FRR configuration as Proxmox VE
// generates it: the controllers (evpn, bgp, isis) and fabrics (openfabric,
// ospf) fill it, frr.conf.local is merged into it, the renderer writes it as
// /etc/frr/frr.conf, and the lab's EVPN agent configures its BGP speaker
// from it exactly as FRR would configure bgpd.
//
// The model follows the structure Proxmox itself uses between its Perl
// controllers and its FRR templates, so the rendered text comes out in the
// same order. Maps are keyed by name and rendered in byte order of the key.
// Custom fields hold raw lines from frr.conf.local merged into that block;
// they are opaque to the lab (rendered verbatim, never interpreted).
package frr

import (
	"net/netip"
	"slices"
	"strconv"
)

// DefaultVRF is the key of the default BGP instance in BGP.Routers.
const DefaultVRF = "default"

// Config is one node's routing configuration.
type Config struct {
	// BGP instances and the VRF definitions (vni, static routes).
	BGP BGP `json:"bgp"`
	// ISIS routers and interfaces (isis controller).
	ISIS ISIS `json:"isis"`
	// OpenFabric routers and interfaces (openfabric fabrics).
	OpenFabric OpenFabric `json:"openfabric"`
	// OSPF router and interfaces (ospf fabrics).
	OSPF OSPF `json:"ospf"`
	// IPRoutes are top-level static routes: on exit nodes with
	// exitnodes-local-routing, each subnet of the zone routed into the
	// zone's VRF over the xvrf veth pair.
	IPRoutes []IPRoute `json:"ip_routes,omitempty"`
	// ProtocolRouteMaps are the `ip[v6] protocol <proto> route-map <rm>`
	// zebra filters, keyed by protocol ("bgp", "openfabric", "ospf"). They
	// set the kernel source address of routes learned over a loopback.
	ProtocolRouteMaps map[string]ProtocolRouteMap `json:"protocol_routemaps,omitempty"`
	// RouteMaps by name; entries in order, with their final sequence
	// numbers (Proxmox renumbers generated entries 1, 2, ... and puts the
	// frr.conf.local entries of the same name after them).
	RouteMaps map[string][]RouteMapEntry `json:"routemaps,omitempty"`
	// AccessLists by name.
	AccessLists map[string][]AccessListRule `json:"access_lists,omitempty"`
	// PrefixLists by name.
	PrefixLists map[string][]PrefixListRule `json:"prefix_lists,omitempty"`
	// Custom are frr.conf.local lines that belong to no generated block
	// (new routers, interfaces, vrfs, route-maps, lists), in the order
	// Proxmox writes them after the prefix lists.
	Custom []string `json:"custom,omitempty"`
}

// BGP holds the BGP instances and VRF definitions.
type BGP struct {
	// Routers are the `router bgp` instances keyed by VRF: DefaultVRF for
	// the underlay/EVPN instance, "vrf_<zone>" for each EVPN zone's L3VNI
	// instance.
	Routers map[string]*BGPRouter `json:"vrf_router,omitempty"`
	// VRFs are the `vrf <name>` blocks keyed by VRF name (vni and static
	// null routes of exit nodes).
	VRFs map[string]*VRF `json:"vrfs,omitempty"`
}

// BGPRouter is one `router bgp <asn> [vrf <name>]` block.
type BGPRouter struct {
	// ASN is the local AS (the bgp controller's ASN when one applies to the
	// node, else the evpn controller's).
	ASN uint32 `json:"asn"`
	// RouterID is the BGP identifier: the local underlay IPv4 address, or
	// on an IPv6-only underlay the last four bytes of the underlay MAC.
	RouterID netip.Addr `json:"router_id"`
	// CoalesceTime in ms; 0 unset.
	CoalesceTime int `json:"coalesce_time,omitempty"`
	// Statements that turn FRR defaults off.
	NoDefaultIPv4Unicast          bool `json:"no_default_ipv4_unicast,omitempty"`
	NoHardAdministrativeReset     bool `json:"no_hard_administrative_reset,omitempty"`
	NoGracefulRestartNotification bool `json:"no_graceful_restart_notification,omitempty"`
	// DisableEBGPConnectedRouteCheck: eBGP peers may be reached from a
	// loopback (bgp controller with loopback and ebgp).
	DisableEBGPConnectedRouteCheck bool `json:"disable_ebgp_connected_route_check,omitempty"`
	// BestpathASPathMultipathRelax: ECMP across different AS paths.
	BestpathASPathMultipathRelax bool `json:"bestpath_as_path_multipath_relax,omitempty"`
	// NeighborGroups are peer groups in order: "VTEP" (evpn controller:
	// the other VTEPs, carrying l2vpn evpn) and "BGP" (bgp controller: the
	// underlay peers, carrying ipv4/ipv6 unicast).
	NeighborGroups []NeighborGroup `json:"neighbor_groups,omitempty"`
	// Custom are frr.conf.local lines merged into this router block.
	Custom []string `json:"custom,omitempty"`
	// Address families; nil when absent.
	IPv4Unicast *UnicastAF `json:"ipv4_unicast,omitempty"`
	IPv6Unicast *UnicastAF `json:"ipv6_unicast,omitempty"`
	L2VPNEVPN   *EVPNAF    `json:"l2vpn_evpn,omitempty"`
}

// RemoteAS values other than a decimal AS number.
const (
	RemoteASExternal = "external"
	RemoteASInternal = "internal"
)

// NeighborGroup is a peer group and its members.
type NeighborGroup struct {
	Name string `json:"name"`
	// RemoteAS is "external", "internal" or a decimal AS number (iBGP when
	// it equals the router's ASN).
	RemoteAS string `json:"remote_as"`
	// LocalAS is the AS presented to these peers instead of the router's
	// (a bgp fabric merged into the EVPN router); 0 unset. LocalASMode is
	// its flags ("no-prepend replace-as").
	LocalAS     uint32 `json:"local_as,omitempty"`
	LocalASMode string `json:"local_as_mode,omitempty"`
	BFD         bool   `json:"bfd,omitempty"`
	// EBGPMultihop is the eBGP TTL; 0 unset.
	EBGPMultihop int `json:"ebgp_multihop,omitempty"`
	// UpdateSource is the interface whose address sources the sessions
	// (a loopback/dummy, e.g. "dummy_<fabric>"); "" none.
	UpdateSource string `json:"update_source,omitempty"`
	// Peers are the neighbor addresses (the local address excluded).
	Peers []netip.Addr `json:"ips,omitempty"`
	// Interfaces are unnumbered neighbors.
	Interfaces []string `json:"interfaces,omitempty"`
}

// EBGP reports whether the group's sessions are eBGP for a router of asn.
func (g NeighborGroup) EBGP(asn uint32) bool {
	switch g.RemoteAS {
	case RemoteASExternal:
		return true
	case RemoteASInternal:
		return false
	}
	n, err := strconv.ParseUint(g.RemoteAS, 10, 32)
	return err == nil && uint32(n) != asn
}

// AFNeighbor activates a peer group in an address family.
type AFNeighbor struct {
	Name                       string `json:"name"`
	SoftReconfigurationInbound bool   `json:"soft_reconfiguration_inbound,omitempty"`
	RouteMapIn                 string `json:"route_map_in,omitempty"`
	RouteMapOut                string `json:"route_map_out,omitempty"`
}

// UnicastAF is `address-family ipv4 unicast` or `ipv6 unicast`.
type UnicastAF struct {
	// Networks announced (the loopback /32 or /128 of the bgp controller).
	Networks []netip.Prefix `json:"networks,omitempty"`
	// ImportVRF leaks these VRFs' routes into this instance (exit nodes).
	ImportVRF    []string         `json:"import_vrf,omitempty"`
	Neighbors    []AFNeighbor     `json:"neighbors,omitempty"`
	Redistribute []Redistribution `json:"redistribute,omitempty"`
	Custom       []string         `json:"custom,omitempty"`
}

// Redistribution is one `redistribute <protocol> [metric N] [route-map RM]`.
type Redistribution struct {
	Protocol string `json:"protocol"`
	Metric   int    `json:"metric,omitempty"`
	RouteMap string `json:"route_map,omitempty"`
}

// EVPNAF is `address-family l2vpn evpn`.
type EVPNAF struct {
	ImportVRF []string     `json:"import_vrf,omitempty"`
	Neighbors []AFNeighbor `json:"neighbors,omitempty"`
	// AdvertiseAllVNI: announce every local VNI (default instance).
	AdvertiseAllVNI    bool `json:"advertise_all_vni,omitempty"`
	AdvertiseDefaultGW bool `json:"advertise_default_gw,omitempty"`
	// AutoRTAS is the AS used for auto-derived route targets (eBGP: the
	// evpn controller's ASN); 0 unset.
	AutoRTAS uint32 `json:"autort_as,omitempty"`
	// DefaultOriginate lists "ipv4"/"ipv6": announce a default type-5
	// route from this VRF (exit nodes).
	DefaultOriginate []string `json:"default_originate,omitempty"`
	// AdvertiseIPv4Unicast/IPv6: announce the VRF's unicast routes as
	// type-5 routes (advertise-subnets).
	AdvertiseIPv4Unicast bool          `json:"advertise_ipv4_unicast,omitempty"`
	AdvertiseIPv6Unicast bool          `json:"advertise_ipv6_unicast,omitempty"`
	RouteTargets         *RouteTargets `json:"route_targets,omitempty"`
	Custom               []string      `json:"custom,omitempty"`
}

// RouteTargets are explicit route targets ("ASN:NN").
type RouteTargets struct {
	Import []string `json:"import,omitempty"`
	Export []string `json:"export,omitempty"`
	Both   []string `json:"both,omitempty"`
}

// VRF is a `vrf <name>` block.
type VRF struct {
	// VNI is the L3VNI; 0 unset.
	VNI int `json:"vni,omitempty"`
	// IPRoutes inside the VRF (exit nodes: null routes for other zones'
	// subnets, so traffic between zones does not hairpin through them).
	IPRoutes []IPRoute `json:"ip_routes,omitempty"`
	Custom   []string  `json:"custom,omitempty"`
}

// IPRoute is `ip[v6] route <prefix> <via> [<vrf>]`.
type IPRoute struct {
	Prefix netip.Prefix `json:"prefix"`
	// Via is a next-hop address or an interface name ("null0").
	Via string `json:"via"`
	// VRF is the next-hop VRF; "" none.
	VRF string `json:"vrf,omitempty"`
}

// ISIS holds the isis controller's routers and interfaces.
type ISIS struct {
	Routers    map[string]*ISISRouter    `json:"router,omitempty"`
	Interfaces map[string]*ISISInterface `json:"interfaces,omitempty"`
}

// ISISRouter is `router isis <domain>`.
type ISISRouter struct {
	NET                 string `json:"net"`
	LogAdjacencyChanges bool   `json:"log_adjacency_changes,omitempty"`
	// RedistributeIPv4Connected/IPv6: the IS-IS level ("level-1"), "" none.
	RedistributeIPv4Connected string   `json:"redistribute_ipv4_connected,omitempty"`
	RedistributeIPv6Connected string   `json:"redistribute_ipv6_connected,omitempty"`
	Custom                    []string `json:"custom,omitempty"`
}

// ISISInterface is an interface taking part in an IS-IS domain.
type ISISInterface struct {
	Domain string   `json:"domain"`
	IPv4   bool     `json:"ipv4,omitempty"`
	IPv6   bool     `json:"ipv6,omitempty"`
	Custom []string `json:"custom,omitempty"`
}

// OpenFabric holds the openfabric fabrics' routers and interfaces.
type OpenFabric struct {
	Routers    map[string]*OpenFabricRouter    `json:"router,omitempty"`
	Interfaces map[string]*OpenFabricInterface `json:"interfaces,omitempty"`
}

// OpenFabricRouter is `router openfabric <fabric>`.
type OpenFabricRouter struct {
	// NET is derived from the node's fabric router address.
	NET string `json:"net"`
}

// OpenFabricInterface is an interface in an openfabric fabric.
type OpenFabricInterface struct {
	Fabric  string `json:"fabric"`
	IPv4    bool   `json:"ipv4,omitempty"`
	IPv6    bool   `json:"ipv6,omitempty"`
	Passive bool   `json:"passive,omitempty"` // the fabric's dummy interface
	// Timers; 0 unset.
	HelloInterval   int `json:"hello_interval,omitempty"`
	HelloMultiplier int `json:"hello_multiplier,omitempty"`
	CSNPInterval    int `json:"csnp_interval,omitempty"`
}

// OSPF holds the ospf fabrics' router and interfaces.
type OSPF struct {
	Router     *OSPFRouter               `json:"router,omitempty"`
	Interfaces map[string]*OSPFInterface `json:"interfaces,omitempty"`
}

// OSPFRouter is `router ospf`.
type OSPFRouter struct {
	RouterID     netip.Addr           `json:"router_id"`
	Redistribute []OSPFRedistribution `json:"redistribute,omitempty"`
}

// OSPFRedistribution is `redistribute <source>[ metric N][ route-map RM]`
// in router ospf; unlike BGP's, a metric of 0 is written.
type OSPFRedistribution struct {
	Source    string `json:"source"`
	Metric    uint32 `json:"metric,omitempty"`
	HasMetric bool   `json:"has_metric,omitempty"`
	RouteMap  string `json:"route_map,omitempty"`
}

// OSPFInterface is an interface in an OSPF area.
type OSPFInterface struct {
	Area    string `json:"area"`
	Passive bool   `json:"passive,omitempty"`
	// NetworkType is "point-to-point" for unnumbered interfaces; "" none.
	NetworkType string `json:"network_type,omitempty"`
}

// ProtocolRouteMap names the zebra route-maps of one protocol.
type ProtocolRouteMap struct {
	V4 string `json:"v4,omitempty"`
	V6 string `json:"v6,omitempty"`
}

// RouteMapEntry is one `route-map <name> <action> <seq>` entry.
type RouteMapEntry struct {
	Seq    int    `json:"seq"`
	Action string `json:"action"` // permit, deny
	// Matches and Sets are FRR statements split into key and value, e.g.
	// {"ip address prefix-list", "only_default"}, {"metric", "200"},
	// {"src", "192.0.2.1"}.
	Matches []KV `json:"matches,omitempty"`
	Sets    []KV `json:"sets,omitempty"`
	// Call is a route-map this entry calls; "" none.
	Call string `json:"call,omitempty"`
	// ExitAction is "on-match next", "on-match goto N" or "continue N"; "" none.
	ExitAction string `json:"exit_action,omitempty"`
}

// KV is a route-map match or set statement.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// AccessListRule is `[ipv6 ]access-list <name> [seq N ]<action> <network>`.
type AccessListRule struct {
	Seq     int          `json:"seq,omitempty"`
	Action  string       `json:"action"`
	Network netip.Prefix `json:"network"`
}

// PrefixListRule is `ip[v6] prefix-list <name> [seq N ]<action> <net>[ le N][ ge N]`.
type PrefixListRule struct {
	Seq     int          `json:"seq,omitempty"`
	Action  string       `json:"action"`
	Network netip.Prefix `json:"network"`
	LE      int          `json:"le,omitempty"`
	GE      int          `json:"ge,omitempty"`
}

// SortedKeys returns a map's keys in byte order, the order Proxmox renders.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DefaultRouter returns the default BGP instance, or nil.
func (c *Config) DefaultRouter() *BGPRouter {
	if c == nil {
		return nil
	}
	return c.BGP.Routers[DefaultVRF]
}

// NeighborGroup returns the default instance's peer group called name
// ("VTEP" for EVPN), or nil.
func (c *Config) NeighborGroup(name string) *NeighborGroup {
	r := c.DefaultRouter()
	if r == nil {
		return nil
	}
	for i := range r.NeighborGroups {
		if r.NeighborGroups[i].Name == name {
			return &r.NeighborGroups[i]
		}
	}
	return nil
}

// ExitNode reports whether this node announces a default route for vrf
// (it is an exit node of the zone whose VRF that is).
func (c *Config) ExitNode(vrf string) bool {
	if c == nil {
		return false
	}
	r := c.BGP.Routers[vrf]
	return r != nil && r.L2VPNEVPN != nil && len(r.L2VPNEVPN.DefaultOriginate) > 0
}

// AddRouteMap appends an entry to the route-map called name.
func (c *Config) AddRouteMap(name string, e RouteMapEntry) {
	if c.RouteMaps == nil {
		c.RouteMaps = map[string][]RouteMapEntry{}
	}
	c.RouteMaps[name] = append(c.RouteMaps[name], e)
}

// PrependRouteMap puts an entry first in the route-map called name.
func (c *Config) PrependRouteMap(name string, e RouteMapEntry) {
	if c.RouteMaps == nil {
		c.RouteMaps = map[string][]RouteMapEntry{}
	}
	c.RouteMaps[name] = append([]RouteMapEntry{e}, c.RouteMaps[name]...)
}
