package topology

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// vxlanOverhead is what VXLAN adds to an inner frame's IP packet: outer IP,
// UDP, VXLAN header and the inner Ethernet header.
func vxlanOverhead(underlayV6 bool) int {
	if underlayV6 {
		return 70
	}
	return 50
}

// mtuShortfall says why a VNet's frames do not fit a segment, naming the
// encapsulation by the underlay's family (IPv6 adds 20 bytes to VXLAN's 50).
func mtuShortfall(vnetMTU int, underlayV6 bool, segMTU int) string {
	fam := "IPv4"
	if underlayV6 {
		fam = "IPv6"
	}
	o := vxlanOverhead(underlayV6)
	return fmt.Sprintf("VNet MTU %d + %d bytes of VXLAN over %s = %d > segment MTU %d", vnetMTU, o, fam, vnetMTU+o, segMTU)
}

func (r *resolver) guests() {
	cfg := r.cfg
	macs := map[string]config.Pos{}
	ips := map[netip.Addr]config.Pos{}
	vmids := map[int]config.Pos{}
	seen := map[string]bool{}
	nextVMID := 100
	var dhcp []dhcpGuest
	// VMIDs given in the file are reserved first: an automatic one never
	// takes a number a later guest asks for.
	given := map[int]bool{}
	for _, gs := range r.s.Guests {
		if gs.VMID.Set {
			given[gs.VMID.V] = true
		}
	}
	for _, gs := range r.s.Guests {
		f := "guests." + gs.Name.V
		if !r.newName(seen, gs.Name, "guests", "%q is not a valid guest name", "guest %q defined twice") {
			continue
		}
		g := &Guest{Name: gs.Name.V, NS: r.lab.Prefix() + gs.Name.V, Ifname: "eth0", Kind: GuestNetns, pos: gs.Name.Pos}
		if gs.Kind.V == GuestVM {
			// A VM has no namespace of its own: QEMU runs in its node's.
			g.Kind, g.NS = GuestVM, ""
		}
		ok := true
		if !gs.Node.Set {
			r.errf(gs.Name.Pos, f+".node", "missing")
			ok = false
		} else if r.lab.Node(gs.Node.V) == nil {
			r.errf(gs.Node.Pos, f+".node", "unknown node %q (the lab's nodes: %s)", gs.Node.V, r.nodeNames())
			ok = false
		}
		g.Node = gs.Node.V
		var vnet *config.VNet
		if !gs.VNet.Set {
			r.errf(gs.Name.Pos, f+".vnet", "missing")
			ok = false
		} else if vnet = cfg.VNets[gs.VNet.V]; vnet == nil {
			r.errf(gs.VNet.Pos, f+".vnet", "unknown vnet %q (not in %s/vnets.cfg)", gs.VNet.V, r.s.SDN.V)
			ok = false
		}
		if !ok {
			continue
		}
		g.VNet = vnet.ID
		g.Zone = vnet.Zone
		g.Isolated = vnet.IsolatePorts
		if gs.Tag.Set {
			if !vnet.VlanAware {
				r.errf(gs.Tag.Pos, f+".tag", "vm vlans are not allowed on vnet %q: it is not VLAN-aware (vlanaware 1 in vnets.cfg)", vnet.ID)
			}
			g.Tag = gs.Tag.V
		}
		zone := cfg.Zones[vnet.Zone]
		np := r.lab.Plans[g.Node]
		var zp *plan.ZonePlan
		if np != nil {
			zp = np.Zone(vnet.Zone)
		}
		if zone != nil && len(zone.Nodes) > 0 && !slices.Contains(zone.Nodes, g.Node) {
			r.errf(gs.Node.Pos, f+".node", "node %q is not in the nodes of zone %q (%s: nodes %v)", g.Node, zone.ID, zone.Pos, zone.Nodes)
			continue
		}
		if zp == nil {
			r.errf(gs.Node.Pos, f+".node", "zone %q of vnet %q does not exist on node %q", vnet.Zone, vnet.ID, g.Node)
			continue
		}
		// MAC
		g.MAC = guestMAC(g.Name)
		macPos := gs.Name.Pos
		if gs.MAC.Set {
			hw, err := net.ParseMAC(gs.MAC.V)
			if err != nil || len(hw) != 6 || hw[0]&1 == 1 || hw.String() == "00:00:00:00:00:00" {
				r.errf(gs.MAC.Pos, f+".mac", "%q is not a unicast MAC address", gs.MAC.V)
			} else {
				g.MAC = hw.String()
			}
			macPos = gs.MAC.Pos
		}
		if p, dup := macs[g.MAC]; dup {
			r.errf(macPos, f+".mac", "MAC %s is already used at %s", g.MAC, p)
		} else {
			macs[g.MAC] = macPos
		}
		// VMID and tap name (Proxmox's tap<vmid>i<n>)
		if gs.VMID.Set {
			g.VMID = gs.VMID.V
		} else {
			for vmids[nextVMID] != (config.Pos{}) || given[nextVMID] {
				nextVMID++
			}
			g.VMID = nextVMID
		}
		if p, dup := vmids[g.VMID]; dup {
			r.errf(gs.VMID.Pos, f+".vmid", "vmid %d is already used at %s", g.VMID, p)
		}
		vmids[g.VMID] = gs.Name.Pos
		if gs.VMID.Set {
			vmids[g.VMID] = gs.VMID.Pos
		}
		g.Tap = fmt.Sprintf("tap%di0", g.VMID)
		// Addresses
		if gs.DHCP.Set {
			switch {
			case gs.Addresses.Set:
				r.errf(gs.DHCP.Pos, f+".ip", "dhcp and addresses at once")
			case g.IsVM():
				r.errf(gs.DHCP.Pos, f+".ip", "dhcp: only for namespace guests (kind: netns), not kind: vm")
			case zone == nil || zone.DHCP == "":
				r.errf(gs.DHCP.Pos, f+".ip", "dhcp: zone %q of vnet %q has no dhcp (zones.cfg: dhcp dnsmasq)", vnet.Zone, vnet.ID)
			case zone.IPAM == "":
				r.errf(gs.DHCP.Pos, f+".ip", "dhcp: zone %q has no ipam, so Proxmox maps no address to the guest's MAC and dnsmasq (dhcp-ignore=tag:!known) answers nothing", zone.ID)
			default:
				g.DHCP = true
				dhcp = append(dhcp, dhcpGuest{g: g, pos: gs.DHCP.Pos, field: f + ".ip"})
			}
		}
		for _, a := range gs.Addresses.V {
			pf := a
			if a.Bits() == a.Addr().BitLen() {
				// A bare address takes the length of its subnet.
				for _, sn := range cfg.SubnetsOfVNet(vnet.ID) {
					if sn.Prefix.Contains(a.Addr()) {
						pf = netip.PrefixFrom(a.Addr(), sn.Prefix.Bits())
					}
				}
			}
			if p, dup := ips[pf.Addr()]; dup {
				r.errf(gs.Addresses.Pos, f+".ip", "address %s is already used at %s", pf.Addr(), p)
				continue
			}
			if p, dup := r.used[pf.Addr()]; dup {
				r.errf(gs.Addresses.Pos, f+".ip", "address %s is already used by the underlay at %s", pf.Addr(), p)
				continue
			}
			ips[pf.Addr()] = gs.Addresses.Pos
			g.Addrs = append(g.Addrs, pf)
		}
		// Gateways: given, else the gateway of the subnet holding the address.
		for _, gw := range []struct {
			s   str
			key string
		}{{gs.Gateway, "gateway"}, {gs.Gateway6, "gateway6"}} {
			if !gw.s.Set {
				continue
			}
			a, err := netip.ParseAddr(gw.s.V)
			if err != nil {
				r.errf(gw.s.Pos, f+"."+gw.key, "%q is not an address", gw.s.V)
				continue
			}
			if a.Is4() {
				g.Gateway4 = a
			} else {
				g.Gateway6 = a
			}
		}
		for _, a := range g.Addrs {
			for _, sn := range cfg.SubnetsOfVNet(vnet.ID) {
				if !sn.Prefix.Contains(a.Addr()) || !sn.Gateway.IsValid() {
					continue
				}
				if a.Addr().Is4() && !g.Gateway4.IsValid() {
					g.Gateway4 = sn.Gateway
				}
				if a.Addr().Is6() && !g.Gateway6.IsValid() {
					g.Gateway6 = sn.Gateway
				}
			}
		}
		r.checkGuestAddrs(g, gs, vnet.ID)
		// MTU: the VNet bridge's, unless given; never more than the bridge carries.
		bridgeMTU := zp.MTU
		if bridgeMTU == 0 {
			bridgeMTU = DefaultMTU
		}
		g.MTU = bridgeMTU
		if gs.MTU.Set {
			g.MTU = gs.MTU.V
			if g.MTU > bridgeMTU {
				why := ""
				if registry.Traits(zp.Type).VXLAN {
					why = fmt.Sprintf(" (VXLAN over a %d-byte underlay)", r.lab.Segment(r.lab.Node(g.Node).Link.Segment).MTU)
				}
				r.errf(gs.MTU.Pos, f+".mtu", "MTU %d is more than vnet %q carries: %d%s", g.MTU, vnet.ID, bridgeMTU, why)
			}
		}
		if g.MTU < minMTU6 {
			for _, a := range g.Addrs {
				if a.Addr().Is6() {
					// The kernel turns IPv6 off on a link below 1280 and
					// then refuses the address.
					pos := gs.MTU.Pos
					if !gs.MTU.Set {
						pos = gs.Addresses.Pos
					}
					r.errf(pos, f+".mtu", "MTU %d is below 1280, the IPv6 minimum, but the guest has the IPv6 address %s", g.MTU, a)
					break
				}
			}
		}
		r.lab.Guests = append(r.lab.Guests, g)
	}
	r.dhcpAddresses(dhcp, ips)
}

type dhcpGuest struct {
	g     *Guest
	pos   config.Pos
	field string
}

// dhcpAddresses does what Proxmox's IPAM does when a guest on a DHCP
// zone starts: the next free address of its VNet's dhcp-ranges (subnets
// in ID order, ranges in order, addresses upwards) that no gateway, guest
// or underlay address uses, in lab file order. The zone's ethers file maps
// the guest's MAC to it, and dnsmasq answers with it.
func (r *resolver) dhcpAddresses(gs []dhcpGuest, ips map[netip.Addr]config.Pos) {
	for _, dg := range gs {
		g := dg.g
		found := false
		for _, sn := range r.cfg.SubnetsOfVNet(g.VNet) {
			if !sn.Prefix.Addr().Is4() || len(sn.DHCPRanges) == 0 {
				continue
			}
			for _, rg := range sn.DHCPRanges {
				for a := rg.Start; a.IsValid() && a.Compare(rg.End) <= 0 && !found; a = a.Next() {
					if _, used := ips[a]; used || a == sn.Gateway {
						continue
					}
					if _, used := r.used[a]; used {
						continue
					}
					ips[a] = dg.pos
					g.DHCPAddr = netip.PrefixFrom(a, sn.Prefix.Bits())
					g.DHCPGateway = sn.Gateway
					found = true
				}
			}
			if found {
				break
			}
		}
		if !found {
			r.errf(dg.pos, dg.field, "dhcp: no free address in the dhcp-ranges of vnet %q's IPv4 subnets", g.VNet)
		}
	}
}

// checkGuestAddrs finds what the kernel would refuse half-way through up
// (a default route via a gateway the guest cannot reach on its link, a
// gateway that is the guest itself) and warns about an address outside
// the VNet's subnets: legal (a misconfigured VM is worth rehearsing), but
// rarely meant.
func (r *resolver) checkGuestAddrs(g *Guest, gs *guestSpec, vnet string) {
	f := "guests." + g.Name
	subnets := r.cfg.SubnetsOfVNet(vnet)
	for _, a := range g.Addrs {
		in := len(subnets) == 0
		for _, sn := range subnets {
			in = in || sn.Prefix.Contains(a.Addr())
		}
		if !in {
			var l []string
			for _, sn := range subnets {
				l = append(l, sn.Prefix.String())
			}
			r.lab.Warnings = append(r.lab.Warnings, fmt.Sprintf("%s: %s.ip: address %s is outside every subnet of vnet %q (%s): the guest is misconfigured (allowed, to rehearse one)",
				gs.Addresses.Pos, f, a, vnet, strings.Join(l, ", ")))
		}
	}
	for _, gw := range []struct {
		a   netip.Addr
		s   str
		key string
	}{{g.Gateway4, gs.Gateway, "gateway"}, {g.Gateway6, gs.Gateway6, "gateway6"}} {
		if !gw.a.IsValid() || !gw.s.Set {
			continue // unset, or the subnet's own gateway (inside the address's subnet)
		}
		if gw.a.Is6() && gw.a.IsLinkLocalUnicast() {
			continue // on every IPv6 link
		}
		var onLink, self bool
		for _, a := range g.Addrs {
			if a.Addr().Is4() == gw.a.Is4() && a.Masked().Contains(gw.a) {
				onLink = true
			}
			self = self || a.Addr() == gw.a
		}
		var inVNet bool
		var l []string
		for _, sn := range subnets {
			inVNet = inVNet || sn.Prefix.Contains(gw.a)
			l = append(l, sn.Prefix.String())
		}
		switch {
		case self:
			r.errf(gw.s.Pos, f+"."+gw.key, "gateway %s is the guest's own address", gw.a)
		case len(subnets) > 0 && !inVNet:
			r.errf(gw.s.Pos, f+"."+gw.key, "gateway %s lies outside every subnet of vnet %q (%s)", gw.a, vnet, strings.Join(l, ", "))
		case !onLink:
			r.errf(gw.s.Pos, f+"."+gw.key, "gateway %s is not on the guest's link: none of its addresses (%s) is in a subnet holding it, so the route via it would be refused",
				gw.a, prefixesString(g.Addrs))
		}
	}
}

func prefixesString(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none"
	}
	var l []string
	for _, p := range ps {
		l = append(l, p.String())
	}
	return strings.Join(l, ", ")
}

func (r *resolver) nodeNames() string {
	var l []string
	for _, n := range r.lab.Nodes {
		l = append(l, n.Name)
	}
	return fmt.Sprint(l)
}

// checkMTU makes sure the underlay carries every VXLAN zone's frames: the
// bridge MTU plus the encapsulation must fit every segment its nodes are on
// and, when it spans several segments, every segment between them.
func (r *resolver) checkMTU() {
	type need struct {
		mtu  int
		zone string
		node string
		v6   bool
	}
	worst := map[string]need{} // segment -> largest requirement
	for _, n := range r.lab.Nodes {
		np := r.lab.Plans[n.Name]
		if np == nil {
			continue
		}
		for _, z := range np.Zones {
			if !registry.Traits(z.Type).VXLAN {
				continue
			}
			m := z.MTU
			if m == 0 {
				m = DefaultMTU
			}
			v6 := z.LocalVTEP.Is6()
			m += vxlanOverhead(v6)
			segs := []string{n.Link.Segment}
			if len(r.lab.Segments) > 1 {
				for _, s := range r.lab.Segments {
					if !s.External {
						segs = append(segs, s.Name)
					}
				}
			}
			for _, s := range segs {
				if m > worst[s].mtu {
					worst[s] = need{m, z.ID, n.Name, v6}
				}
			}
		}
	}
	for _, s := range r.lab.Segments {
		w, ok := worst[s.Name]
		if !ok || w.mtu <= s.MTU {
			continue
		}
		zpos := ""
		if z := r.cfg.Zones[w.zone]; z != nil {
			zpos = " (" + z.Pos.String() + ")"
		}
		r.errf(s.pos, "underlay.segments."+s.Name+".mtu",
			"segment %q is too small for zone %q%s on node %q: %s: lower the zone's mtu or raise the segment's",
			s.Name, w.zone, zpos, w.node, mtuShortfall(w.mtu-vxlanOverhead(w.v6), w.v6, s.MTU))
	}
}

// checkNamespaces makes sure no two things of the lab get one namespace.
func (r *resolver) checkNamespaces() {
	owner := map[string]string{}
	add := func(ns, what string, pos config.Pos) {
		if prev, dup := owner[ns]; dup {
			r.errf(pos, "", "%s and %s would share namespace %s: rename one", what, prev, ns)
			return
		}
		owner[ns] = what
	}
	for _, s := range r.lab.Segments {
		add(s.NS, "segment "+s.Name, s.pos)
	}
	for _, n := range r.lab.Nodes {
		add(n.NS, "node "+n.Name, n.pos)
		if np := r.lab.Plans[n.Name]; np != nil {
			for _, z := range np.Zones {
				if registry.Traits(z.Type).VRF {
					add(VRFNS(r.lab.Name, n.Name, z.ID), "VRF of zone "+z.ID+" on node "+n.Name, n.pos)
				}
			}
		}
	}
	for _, rt := range r.lab.Routers {
		add(rt.NS, "router "+rt.Name, rt.pos)
	}
	for _, h := range r.lab.Hosts {
		add(h.NS, "external host "+h.Name, r.rootPos())
	}
	for _, g := range r.lab.Guests {
		if g.NS != "" {
			add(g.NS, "guest "+g.Name, g.pos)
		}
	}
}

// upstreamSDNRoutes lets the upstream router (and every router between it
// and the nodes) reach the SDN subnets that leave un-NATed: EVPN subnets
// through the zone's exit nodes (ECMP), and those of a simple zone that
// lives on a single node through that node. A router not on the node's
// segment uses its own route towards that segment.
func (r *resolver) upstreamSDNRoutes() {
	if r.lab.Upstream() == nil || r.cfg == nil {
		return
	}
	for _, rt := range r.lab.Routers {
		on := map[string]bool{}
		for _, l := range rt.Links {
			on[l.Segment] = true
		}
		static := append([]Route(nil), rt.Routes...)
		// nextHops are the router's next hops towards a node, one per
		// family of the node's underlay addresses (a dual-stack node is
		// reached over IPv4 for IPv4 subnets and over IPv6 for IPv6 ones).
		nextHops := func(n *Node) []netip.Addr {
			var out []netip.Addr
			for _, a := range n.Link.Addrs {
				if slices.ContainsFunc(out, func(o netip.Addr) bool { return o.Is4() == a.Addr().Is4() }) {
					continue
				}
				if on[n.Link.Segment] {
					out = append(out, a.Addr())
					continue
				}
				for _, s := range static {
					if s.Dst.Bits() > 0 && s.Dst.Contains(a.Addr()) {
						out = append(out, s.Via[0])
						break
					}
				}
			}
			return out
		}
		for _, z := range r.cfg.SortedZones() {
			zid := z.ID
			var via []netip.Addr
			add := func(n *Node) {
				if n == nil {
					return
				}
				for _, a := range nextHops(n) {
					if !slices.Contains(via, a) {
						via = append(via, a)
					}
				}
			}
			switch registry.Traits(z.Type).Upstream {
			case zones.UpstreamExitNodes:
				for _, en := range z.ExitNodes {
					add(r.lab.Node(en))
				}
			case zones.UpstreamSingleNode:
				var with []*Node
				for _, n := range r.lab.Nodes {
					if p := r.lab.Plans[n.Name]; p != nil && p.Zone(zid) != nil {
						with = append(with, n)
					}
				}
				if len(with) == 1 {
					add(with[0])
				}
			}
			if len(via) == 0 {
				continue
			}
			for _, v := range r.cfg.VNetsOfZone(zid) {
				for _, sn := range r.cfg.SubnetsOfVNet(v.ID) {
					var vv []netip.Addr
					for _, a := range via {
						if a.Is4() == sn.Prefix.Addr().Is4() {
							vv = append(vv, a)
						}
					}
					if len(vv) > 0 {
						rt.Routes = append(rt.Routes, Route{Dst: sn.Prefix.Masked(), Via: vv})
					}
				}
			}
		}
	}
}
