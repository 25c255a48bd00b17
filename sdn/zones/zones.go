// Package zones defines what a Proxmox SDN zone type is (Type) and what
// the zone types share. Each type is a package of its own below this one
// (simple, vlan, qinq, vxlan, evpn) that turns one VNet of its zone into
// the interface stanzas Proxmox writes to /etc/network/interfaces.d/sdn
// and the semantic ZonePlan/VNetPlan the realizer and the EVPN agent read.
// Package sdn drives them (Compile); sdn/registry lists them.
package zones

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Type is everything sdnlab knows about one zone type. Each type lives in
// its own package (sdn/zones/<type>) that owns its zones.cfg keys and their
// decoding and validation (config.ZoneType), its compilation (VNet), what
// it needs from the kernel (Unsupported) and how guests and the underlay
// attach to it (Traits). sdn/registry lists the types, one line each.
type Type interface {
	config.ZoneType
	// VNet adds vnet's stanzas to env.Stanzas and its VNetPlan (and the
	// zone-wide facts) to zp. On error it must leave env untouched: the
	// caller skips the VNet, as Proxmox does, and notes why.
	VNet(env *Env, zone *config.Zone, vnet *config.VNet, zp *plan.ZonePlan) error
	// Unsupported says why zone z cannot be realized on kernel k ("" when
	// it can).
	Unsupported(z *plan.ZonePlan, k Kernel) string
	// Traits are how guests, the underlay and the lab attach to the zone.
	Traits() Traits
}

// Kernel is what the realizer tells a zone type about the node it builds.
type Kernel interface {
	// Caps are the kernel's features.
	Caps() nsutil.Caps
	// Plan is the node's plan.
	Plan() *plan.NodePlan
	// Members are the devices of zone z: those its plan names and the
	// bridges, ports and veth peers around them.
	Members(z *plan.ZonePlan) map[string]bool
	// LinkExists reports whether the node's namespace has a device name.
	LinkExists(name string) bool
}

// Traits are the facts about a zone type that the lab builder, the
// resolver and the scenarios act on.
type Traits struct {
	// VXLAN: the VNets are VXLAN tunnels over the underlay (the underlay
	// must carry the encapsulation; nodes are VTEPs).
	VXLAN bool
	// VRF: the zone is a VRF, realized as a namespace of its own on each
	// node; the VNet bridges (and their guests) live there.
	VRF bool
	// VLAN: the VNets ride VLAN tags on a host bridge (802.1Q or QinQ);
	// the realizer makes their VLAN devices in the kernel or in software,
	// and up and status say which.
	VLAN bool
	// Upstream is how the lab's upstream router reaches the zone's
	// subnets that leave un-NATed.
	Upstream Upstream
}

// Upstream is how the upstream router routes a zone's subnets.
type Upstream int

// Upstream routing.
const (
	UpstreamNone       Upstream = iota // not routed
	UpstreamExitNodes                  // through the zone's exit nodes (ECMP)
	UpstreamSingleNode                 // through the node, when the zone lives on one node only
)

// Env is what a zone compiler works with for one node.
type Env struct {
	Cfg     *config.Config
	Facts   plan.NodeFacts
	Stanzas *plan.Stanzas
	Notes   []string

	subnetsByVNet map[string][]*config.Subnet // built on first use
}

// NewEnv starts compiling for the node of facts.
func NewEnv(cfg *config.Config, facts plan.NodeFacts, st *plan.Stanzas) *Env {
	return &Env{Cfg: cfg, Facts: facts, Stanzas: st}
}

// Notef records a fact worth telling the user.
func (e *Env) Notef(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	if !slices.Contains(e.Notes, n) {
		e.Notes = append(e.Notes, n)
	}
}

// Subnets returns the subnets of vnet sorted by subnet ID, as Proxmox
// iterates them.
func (e *Env) Subnets(vnet string) []*config.Subnet {
	if e.subnetsByVNet == nil {
		e.subnetsByVNet = map[string][]*config.Subnet{}
		for _, s := range e.Cfg.SortedSubnets() {
			e.subnetsByVNet[s.VNet] = append(e.subnetsByVNet[s.VNet], s)
		}
	}
	return e.subnetsByVNet[vnet]
}

// VNetPlan is the common part of a VNetPlan.
func VNetPlan(v *config.VNet, subnets []*config.Subnet) plan.VNetPlan {
	vp := plan.VNetPlan{
		ID: v.ID, Bridge: v.ID, Tag: v.Tag, VlanAware: v.VlanAware,
		Alias: v.Alias, IsolatePorts: v.IsolatePorts,
	}
	for _, s := range subnets {
		vp.Subnets = append(vp.Subnets, plan.SubnetPlan{
			ID: s.ID, Prefix: s.Prefix, Gateway: s.Gateway, SNAT: s.SNAT,
		})
	}
	return vp
}

// ZoneBase fills the fields every zone type shares.
func ZoneBase(zp *plan.ZonePlan, z *config.Zone, mtu int) {
	zp.ID, zp.Type, zp.MTU = z.ID, z.Type, mtu
	zp.MacLearningOff = z.BridgeDisableMacLearning
}

// GatewayIsV6 is how Proxmox decides a subnet's IP version: from its
// gateway, so a subnet without gateway counts as IPv4 whatever its prefix.
func GatewayIsV6(s *config.Subnet) bool { return s.Gateway.IsValid() && s.Gateway.Is6() }

// Well-known addresses Proxmox asks "ip route get" about to find the
// uplink for SNAT.
var (
	snatProbe4 = netip.MustParseAddr("8.8.8.8")
	snatProbe6 = netip.MustParseAddr("2001:4860:4860::8888")
)

// SNATRule derives the SNAT rule of subnet s: the uplink interface and
// source address towards the Internet. ok is false when there is no route
// (Proxmox then writes no SNAT).
func (e *Env) SNATRule(s *config.Subnet) (plan.SNATRule, bool) {
	fam, probe := 4, snatProbe4
	if GatewayIsV6(s) {
		fam, probe = 6, snatProbe6
	}
	src, dev, err := e.Facts.RouteGet(probe)
	if err != nil || !src.IsValid() || dev == "" {
		e.Notef("subnet %s: snat: no route to %s on this node; no SNAT written", s.ID, probe)
		return plan.SNATRule{}, false
	}
	guessed := e.Facts.RouteGetIsGuess(probe)
	if guessed {
		e.Notef("subnet %s: snat: no IPv%d route on this node; using %s on %s as Proxmox's test harness does", s.ID, fam, src, dev)
	}
	return plan.SNATRule{
		Family: fam, Source: s.Prefix, OutIface: dev, ToSource: src,
		ConntrackZone: 1, InIfacePattern: "fwbr+", Guessed: guessed,
	}, true
}

// GatewayAddress writes subnet s's gateway, with the subnet's prefix
// length, as an address of br unless an earlier subnet wrote it.
func GatewayAddress(br *plan.Iface, seen map[netip.Addr]bool, s *config.Subnet) {
	if !s.Gateway.IsValid() {
		return
	}
	if !seen[s.Gateway] {
		br.AddAddress(netip.PrefixFrom(s.Gateway, s.Prefix.Bits()))
	}
	seen[s.Gateway] = true
}

// VNetBridgeLines writes the lines a VNet bridge has in every zone type but
// evpn, in Proxmox's order: ports, STP off, no forward delay, VLAN
// awareness, MTU (when set) and alias.
func VNetBridgeLines(br *plan.Iface, v *config.VNet, ports string, mtu int) {
	br.SetBridgePorts(plan.Underscore, ports)
	br.SetBridgeSTPOff(plan.Underscore)
	br.SetBridgeFD(plan.Underscore, 0)
	if v.VlanAware {
		br.SetVlanAware("2-4094")
	}
	if mtu > 0 {
		br.SetMTU(mtu)
	}
	if v.Alias != "" {
		br.SetAlias(v.Alias)
	}
}

// AddVNetBridge adds the VNet's bridge over ports unless its stanza exists.
func AddVNetBridge(st *plan.Stanzas, v *config.VNet, ports string, mtu int) {
	if st.Has(v.ID) {
		return
	}
	br := plan.NewIface(v.ID, plan.KindBridge)
	VNetBridgeLines(br, v, ports, mtu)
	st.Add(br)
}

// AddVethPair adds both ends of the veth pair a<->b whose stanzas do not
// exist yet; mtu 0 writes no mtu line.
func AddVethPair(st *plan.Stanzas, a, b string, mtu int) {
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		if st.Has(pair[0]) {
			continue
		}
		ve := plan.NewIface(pair[0], plan.KindVeth)
		ve.SetLinkType("veth")
		ve.SetVethPeerName(pair[1])
		if mtu > 0 {
			ve.SetMTU(mtu)
		}
		st.Add(ve)
	}
}
