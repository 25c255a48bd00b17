package evpn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Config is everything one node's agent needs. It is a small, self-contained
// input: FromPlan derives it from a NodePlan, tests write it by hand.
type Config struct {
	Node     string     `json:"node"`
	RouterID netip.Addr `json:"router_id"`
	ASN      uint32     `json:"asn"`
	// AutoRTAS is the AS used in auto-derived route targets (Proxmox's
	// `autort as` for eBGP); 0 means ASN.
	AutoRTAS uint32 `json:"autort_as,omitempty"`
	// LocalVTEP is this node's tunnel source: the next hop of every route
	// it originates and the originator IP of its type 3 routes.
	LocalVTEP netip.Addr `json:"local_vtep"`
	// ListenPort is the BGP port (0: 179).
	ListenPort int `json:"listen_port,omitempty"`
	// SharedPorts, when set, are BGP and BFD ports the agent shares with
	// another speaker of the node; nil: the agent listens on every address.
	SharedPorts *SharedPorts `json:"shared_ports,omitempty"`
	Neighbors   []Neighbor   `json:"neighbors"`
	L2VNIs      []L2VNI      `json:"l2vnis"`
	L3VNIs      []L3VNI      `json:"l3vnis,omitempty"`
	// Networks are announced to ipv4/ipv6 unicast peers while the routing
	// table holds them (FRR's `network` with its import check).
	Networks []netip.Prefix `json:"networks,omitempty"`
	// MultipathRelax is `bgp bestpath as-path multipath-relax`: eBGP paths
	// with different AS paths of equal length share ECMP.
	MultipathRelax bool `json:"multipath_relax,omitempty"`
	// BFDProcess, when set, is the command (argv) that runs the BFD
	// sessions in a process of their own (bfd.StartProcess), as FRR's
	// bfdd: a route reflector's.
	BFDProcess []string `json:"bfd_process,omitempty"`
	// Timers default to FRR's datacenter profile (keepalive 3 s, hold 9 s).
	KeepaliveSec int `json:"keepalive_sec,omitempty"`
	HoldSec      int `json:"hold_sec,omitempty"`
	// DupMaxMoves moves within DupWindow flag a MAC as duplicate (FRR: 5 in 180 s).
	DupMaxMoves int           `json:"dup_max_moves,omitempty"`
	DupWindow   time.Duration `json:"dup_window,omitempty"`
	// DupFreeze is FRR's `dup-addr-detection freeze N`: a duplicate local
	// MAC is no longer advertised, and the flag clears itself after N. 0 is
	// FRR's default (and Proxmox's, which sets nothing): warning only, the
	// MAC stays advertised and flagged until cleared (`sdnlab show LAB NODE
	// dup --clear`, FRR's `clear evpn dup-addr`).
	DupFreeze time.Duration `json:"dup_freeze,omitempty"`
	// ClusterID is the route-reflection cluster ID (unset: RouterID).
	// Redundant reflectors share one, so that each drops what the other
	// reflects of its own clients' routes (RFC 4456 CLUSTER_LIST) instead
	// of keeping a dead client's routes alive through the other.
	ClusterID netip.Addr `json:"cluster_id,omitzero"`
	// BFD timers (FRR defaults: 300 ms x 3).
	BFDIntervalMs  int  `json:"bfd_interval_ms,omitempty"`
	BFDDetectMult  int  `json:"bfd_detect_mult,omitempty"`
	BFDDisabledAll bool `json:"bfd_disabled,omitempty"`
	// TestFault breaks the agent on purpose so that the conformance suite
	// can show a check catches it (never set in a real lab; see
	// TestFaultEnv): a comma-separated list of faults, "" none.
	TestFault string `json:"test_fault,omitempty"`
}

// SharedPorts: a BGP fabric's bgpd and bfdd run beside the agent (FRR, as
// its frr user) and listen on every address, since the fabric's sessions
// come to link-local ones. The agent listens only on Addrs (the addresses
// its EVPN sessions use), where Linux hands it their packets first.
type SharedPorts struct {
	// UID is the other speaker's user: TCP listeners share a port only
	// between sockets of one owner.
	UID   int          `json:"uid"`
	Addrs []netip.Addr `json:"addrs"`
}

// TestFaultEnv is the environment variable `sdnlab agent` reads TestFault
// from: the suite sets it while it brings up a deliberately broken lab.
const TestFaultEnv = "SDNLAB_AGENT_TEST_FAULT"

// Fault tells whether the test fault f is set.
func (c *Config) Fault(f string) bool {
	return slices.Contains(strings.Split(c.TestFault, ","), f)
}

// Test faults (TestFault).
const (
	// FaultStuckSequence: a MAC that moves here is advertised without a
	// higher MAC mobility sequence number (RFC 7432 section 15 broken).
	FaultStuckSequence = "stuck-mac-mobility-sequence"
	// FaultNoBFD: BFD is not run even where the plan asks for it.
	FaultNoBFD = "no-bfd"
	// FaultLostRouterMAC: the router MAC of one remote VTEP (the highest
	// address) gets no FDB entry, though routes still lead to it (what
	// FRR 8.4's zebra does at times).
	FaultLostRouterMAC = "lost-router-mac"
)

// testFaults are the faults Validate accepts: a new one is added here only.
var testFaults = []string{FaultStuckSequence, FaultNoBFD, FaultLostRouterMAC}

// Neighbor is one BGP peer.
type Neighbor struct {
	Addr     netip.Addr `json:"addr"`
	RemoteAS uint32     `json:"remote_as,omitempty"` // 0: same as local (iBGP)
	// External is FRR's `remote-as external`: any AS but ours.
	External bool `json:"external,omitempty"`
	// Multihop is the eBGP TTL (0: directly connected).
	Multihop int  `json:"multihop,omitempty"`
	BFD      bool `json:"bfd,omitempty"`
	// UpdateSource is the local address sessions come from ("" any).
	UpdateSource netip.Addr `json:"update_source,omitzero"`
	// Families: "l2vpn-evpn" (default), "ipv4-unicast", "ipv6-unicast".
	Families []string `json:"families,omitempty"`
	// RRClient makes this speaker a route reflector for the peer.
	RRClient bool `json:"rr_client,omitempty"`
}

// L2VNI is one VXLAN VNet: a bridge with a vxlan port carrying VNI.
type L2VNI struct {
	VNI      uint32 `json:"vni"`
	Bridge   string `json:"bridge"`
	VxlanDev string `json:"vxlan_dev"`
	// Netns holds the bridge and the vxlan device ("" the agent's own
	// namespace; an EVPN zone's VNets live in the zone's VRF namespace).
	Netns string `json:"netns,omitempty"`
	// RD "" derives RouterID:n as FRR does.
	RD        string   `json:"rd,omitempty"`
	ImportRTs []string `json:"import_rts,omitempty"` // "" derive ASN:VNI
	ExportRTs []string `json:"export_rts,omitempty"`
	// ARPSuppress installs remote MAC+IP as neighbour entries on the bridge.
	ARPSuppress bool `json:"arp_suppress,omitempty"`
	// L3VNI is the zone's L3VNI (symmetric IRB), 0 none.
	L3VNI uint32 `json:"l3vni,omitempty"`
	// Subnets are the VNet's prefixes (for advertise-subnets).
	Subnets []netip.Prefix `json:"subnets,omitempty"`
}

// L3VNI is an EVPN zone's routing instance: a VRF namespace with the
// L3VNI bridge (vrfbr_<zone>) and vxlan device (vrfvx_<zone>).
type L3VNI struct {
	VNI       uint32   `json:"vni"`
	Zone      string   `json:"zone"`
	Netns     string   `json:"netns,omitempty"` // the VRF namespace
	Bridge    string   `json:"bridge"`
	VxlanDev  string   `json:"vxlan_dev"`
	RouterMAC string   `json:"router_mac,omitempty"` // "" read from Bridge
	RD        string   `json:"rd,omitempty"`
	ImportRTs []string `json:"import_rts,omitempty"` // rt-import is added here
	ExportRTs []string `json:"export_rts,omitempty"`
	// AdvertiseSubnets originates type 5 routes for the zone's subnets.
	AdvertiseSubnets bool           `json:"advertise_subnets,omitempty"`
	Subnets          []netip.Prefix `json:"subnets,omitempty"`
	// ExitNode originates a default route (type 5 0.0.0.0/0 and ::/0).
	ExitNode bool `json:"exit_node,omitempty"`
	// RejectDefault drops other nodes' default routes (Proxmox's
	// MAP_VTEP_IN on exit nodes that are primary or when no primary is set).
	RejectDefault bool `json:"reject_default,omitempty"`
	// LeakSubnets announces the zone's subnets to IPv4/IPv6 unicast peers
	// (an exit node without exitnodes-local-routing: Proxmox's `import
	// vrf` in the default instance).
	LeakSubnets bool `json:"leak_subnets,omitempty"`
	// DefaultMED is the MED on the originated default (200 on a
	// non-primary exit node: MAP_VTEP_OUT).
	DefaultMED uint32 `json:"default_med,omitempty"`
}

// Defaults fills unset timers with FRR's datacenter values.
func (c *Config) Defaults() {
	if c.KeepaliveSec == 0 {
		c.KeepaliveSec = 3
	}
	if c.HoldSec == 0 {
		c.HoldSec = 9
	}
	if c.DupMaxMoves == 0 {
		c.DupMaxMoves = 5
	}
	if c.DupWindow == 0 {
		c.DupWindow = 180 * time.Second
	}
	if c.BFDIntervalMs == 0 {
		c.BFDIntervalMs = 300
	}
	if c.BFDDetectMult == 0 {
		c.BFDDetectMult = 3
	}
	if !c.LocalVTEP.IsValid() {
		c.LocalVTEP = c.RouterID
	}
	// RDs are derived as FRR does: router-id:n, n from 1, VRFs first
	// (they exist from the configuration before zebra reports VNIs).
	n := 1
	for i := range c.L3VNIs {
		if c.L3VNIs[i].RD == "" {
			c.L3VNIs[i].RD = fmt.Sprintf("%s:%d", c.RouterID, n)
		}
		n++
	}
	for i := range c.L2VNIs {
		if c.L2VNIs[i].RD == "" {
			c.L2VNIs[i].RD = fmt.Sprintf("%s:%d", c.RouterID, n)
		}
		n++
	}
	as := c.ASN
	if c.AutoRTAS != 0 {
		as = c.AutoRTAS
	}
	for i := range c.L2VNIs {
		v := &c.L2VNIs[i]
		auto := autoRT(as, v.VNI)
		if len(v.ImportRTs) == 0 {
			v.ImportRTs = []string{auto}
		}
		if len(v.ExportRTs) == 0 {
			v.ExportRTs = []string{auto}
		}
	}
	for i := range c.L3VNIs {
		v := &c.L3VNIs[i]
		auto := autoRT(as, v.VNI)
		if len(v.ExportRTs) == 0 {
			v.ExportRTs = []string{auto}
		}
		if !slices.Contains(v.ImportRTs, auto) {
			v.ImportRTs = append([]string{auto}, v.ImportRTs...)
		}
	}
	for i := range c.Neighbors {
		if len(c.Neighbors[i].Families) == 0 {
			c.Neighbors[i].Families = []string{FamilyEVPN}
		}
	}
}

// autoRT is FRR's auto-derived route target: (AS & 0xFFFF):VNI in the
// 2-octet-AS form with the full VNI, for every ASN (bgpd/bgp_evpn.c
// form_auto_rt). A 4-byte AS loses its high bits; taking the 4-octet form
// instead makes an agent and an FRR node of the same cluster ignore each
// other's routes.
func autoRT(as, vni uint32) string {
	return fmt.Sprintf("%d:%d", as&0xffff, vni)
}

// Address families a neighbour can carry.
const (
	FamilyEVPN = "l2vpn-evpn"
	FamilyIPv4 = "ipv4-unicast"
	FamilyIPv6 = "ipv6-unicast"
)

// Validate checks the configuration; errors name the field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !c.RouterID.Is4() {
		bad("router_id: %q is not an IPv4 address", c.RouterID)
	}
	if c.ASN == 0 {
		bad("asn: must be set")
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		bad("listen_port: %d out of range", c.ListenPort)
	}
	if sp := c.SharedPorts; sp != nil {
		if len(sp.Addrs) == 0 {
			bad("shared_ports.addrs: empty (the other speaker listens on every address)")
		}
		for i, a := range sp.Addrs {
			if !a.IsValid() || a.IsUnspecified() {
				bad("shared_ports.addrs[%d]: %q is not a local address", i, a)
			}
		}
	}
	for _, f := range strings.Split(c.TestFault, ",") {
		if f != "" && !slices.Contains(testFaults, f) {
			bad("test_fault: %q is none of %s", f, strings.Join(testFaults, ", "))
		}
	}
	for i, n := range c.Neighbors {
		if !n.Addr.IsValid() {
			bad("neighbors[%d].addr: not an IP address", i)
		}
		for _, f := range n.Families {
			if f != FamilyEVPN && f != FamilyIPv4 && f != FamilyIPv6 {
				bad("neighbors[%d].families: unknown family %q", i, f)
			}
		}
	}
	seen := map[uint32]bool{}
	for i, v := range c.L2VNIs {
		if v.VNI == 0 || v.VNI > 0xffffff {
			bad("l2vnis[%d].vni: %d out of range", i, v.VNI)
		}
		if seen[v.VNI] {
			bad("l2vnis[%d].vni: %d used twice", i, v.VNI)
		}
		seen[v.VNI] = true
		if v.Bridge == "" || v.VxlanDev == "" {
			bad("l2vnis[%d]: bridge and vxlan_dev are required", i)
		}
		for _, rt := range append(append([]string{}, v.ImportRTs...), v.ExportRTs...) {
			if _, err := parseRT(rt); err != nil {
				bad("l2vnis[%d] route target %q: %v", i, rt, err)
			}
		}
	}
	for i, v := range c.L3VNIs {
		if v.VNI == 0 || v.VNI > 0xffffff {
			bad("l3vnis[%d].vni: %d out of range", i, v.VNI)
		}
		if seen[v.VNI] {
			bad("l3vnis[%d].vni: %d used twice", i, v.VNI)
		}
		seen[v.VNI] = true
		if v.Bridge == "" || v.VxlanDev == "" {
			bad("l3vnis[%d]: bridge and vxlan_dev are required", i)
		}
		if v.RouterMAC != "" {
			if _, err := net.ParseMAC(v.RouterMAC); err != nil {
				bad("l3vnis[%d].router_mac: %v", i, err)
			}
		}
	}
	return errors.Join(errs...)
}
