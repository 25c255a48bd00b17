package config

import (
	"net/netip"
	"sort"
)

// validate runs the cross-section checks: references between files and
// the uniqueness rules of Proxmox's on_update_hook/vnet_update_hook.
// When two sections clash, the later one in the file is reported.
func (c *Config) validate(errs *ErrorList) {
	c.validateVNets(errs)
	c.validateSubnets(errs)
	c.validateZones(errs)
	c.validateControllers(errs)
	c.validateFabrics(errs)
	c.validatePolicyRefs()
}

// validatePolicyRefs reports references to prefix lists and route maps
// that are not defined. FRR takes a missing route map as deny-all, so the
// lab keeps them as warnings: render writes what Proxmox would, validate
// fails.
func (c *Config) validatePolicyRefs() {
	rm := func(props map[string]Prop, key, name string, pos Pos) {
		if _, ok := c.RouteMaps[name]; name != "" && !ok {
			c.Warnings.add(propPos(props, key, pos), key, "route map %q is not defined in route-maps.cfg", name)
		}
	}
	for _, ct := range c.SortedControllers() {
		rm(ct.Props, "route-map-in", ct.RouteMapIn, ct.Pos)
		rm(ct.Props, "route-map-out", ct.RouteMapOut, ct.Pos)
	}
	for _, f := range c.SortedFabrics() {
		if _, ok := c.PrefixLists[f.RouteFilter]; f.RouteFilter != "" && !ok {
			c.Warnings.add(propPos(f.Props, "route_filter", f.Pos), "route_filter", "prefix list %q is not defined in prefix-lists.cfg", f.RouteFilter)
		}
		rm(f.Props, "route_map_in", f.RouteMapIn, f.Pos)
		rm(f.Props, "route_map_out", f.RouteMapOut, f.Pos)
		for _, r := range f.Redistribute {
			rm(f.Props, "redistribute", r.RouteMap, f.Pos)
		}
	}
	for _, es := range c.RouteMaps {
		for _, e := range es {
			rm(nil, "call", e.Call, e.Pos)
		}
	}
}

// propPos is the position of key in props, or else fallback (the header).
func propPos(props map[string]Prop, key string, fallback Pos) Pos {
	if p, ok := props[key]; ok {
		return p.Pos
	}
	return fallback
}

func byLine[T any](in []*T, pos func(*T) Pos) []*T {
	out := append([]*T(nil), in...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := pos(out[i]), pos(out[j])
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return out
}

func (c *Config) vnetsInFileOrder() []*VNet {
	return byLine(c.SortedVNets(), func(v *VNet) Pos { return v.Pos })
}

// rules returns the VNet rules of zone type typ (none for an unknown type).
func (c *Config) rules(typ string) (VNetRules, bool) {
	t, ok := c.types.zone(typ)
	if !ok {
		return VNetRules{}, false
	}
	return t.VNets(), true
}

// isVXLAN reports whether a zone type uses VXLAN VNIs as VNet tags.
func (c *Config) isVXLAN(typ string) bool { r, ok := c.rules(typ); return ok && r.Tag == TagVNI }

func (c *Config) validateVNets(errs *ErrorList) {
	type tagKey struct {
		scope string // zone id, or "" for the cluster-wide VNI space
		tag   int
	}
	seenTag := map[tagKey]*VNet{}
	tagless := map[string]*VNet{} // qinq: one tag-less VNet per zone
	for _, v := range c.vnetsInFileOrder() {
		if v.Zone == "" {
			continue // reported as missing already
		}
		zpos := propPos(v.Props, "zone", v.Pos)
		tpos := propPos(v.Props, "tag", v.Pos)
		z, ok := c.Zones[v.Zone]
		if !ok {
			errs.add(zpos, "zone", "zone %q of vnet %s is not defined in zones.cfg", v.Zone, v.ID)
			continue
		}
		_, hasTag := v.Props["tag"]
		r, _ := c.rules(z.Type)
		switch r.Tag {
		case TagNone:
			if hasTag {
				errs.add(tpos, "tag", "a vnet in %s zone %s must not have a tag", z.Type, z.ID)
			}
		case TagVLAN:
			if !hasTag && !r.TagOptional {
				errs.add(tpos, "tag", "missing: a vnet in %s zone %s needs a VLAN tag (1-4094)", z.Type, z.ID)
			}
			if v.Tag > 4094 {
				errs.add(tpos, "tag", "VLAN tag %d is out of range 1-4094 (zone %s is %s)", v.Tag, z.ID, z.Type)
				continue
			}
			if r.TagOptional && !hasTag {
				if o := tagless[z.ID]; o != nil {
					errs.add(v.Pos, "tag", "a tag-less vnet already exists in %s zone %s (vnet %s)", z.Type, z.ID, o.ID)
				} else {
					tagless[z.ID] = v
				}
			}
			if v.Tag > 0 {
				k := tagKey{z.ID, v.Tag}
				if o := seenTag[k]; o != nil {
					errs.add(tpos, "tag", "tag %d already used by vnet %s in zone %s", v.Tag, o.ID, z.ID)
				} else {
					seenTag[k] = v
				}
			}
		case TagVNI:
			if !hasTag {
				errs.add(tpos, "tag", "missing: a vnet in %s zone %s needs a VXLAN VNI tag (1-16777215)", z.Type, z.ID)
			}
			if r.NoVlanAware && v.VlanAware {
				errs.add(propPos(v.Props, "vlanaware", v.Pos), "vlanaware", "vlan-aware vnets are not allowed in %s zone %s", z.Type, z.ID)
			}
			if v.Tag > 0 {
				// VNIs are unique cluster-wide across vxlan and evpn zones.
				k := tagKey{"", v.Tag}
				if o := seenTag[k]; o != nil {
					errs.add(tpos, "tag", "VXLAN VNI %d already used by vnet %s in zone %s", v.Tag, o.ID, o.Zone)
				} else {
					seenTag[k] = v
				}
			}
		}
	}
}

func (c *Config) validateSubnets(errs *ErrorList) {
	for _, s := range byLine(c.SortedSubnets(), func(s *Subnet) Pos { return s.Pos }) {
		if s.VNet == "" {
			continue
		}
		vpos := propPos(s.Props, "vnet", s.Pos)
		v, ok := c.VNets[s.VNet]
		if !ok {
			errs.add(vpos, "vnet", "vnet %q of subnet %s is not defined in vnets.cfg", s.VNet, s.ID)
			continue
		}
		if v.VlanAware {
			errs.add(vpos, "vnet", "vnet %s is vlan-aware: it cannot have subnets", v.ID)
		}
		if s.Zone != "" && v.Zone != "" && s.Zone != v.Zone {
			errs.add(s.Pos, "subnet", "subnet id %q names zone %s but vnet %s is in zone %s (want %s-...)", s.ID, s.Zone, v.ID, v.Zone, v.Zone)
		}
		z := c.Zones[v.Zone]
		if z == nil {
			continue
		}
		if r, _ := c.rules(z.Type); s.SNAT && !r.SNAT {
			snat := c.types.zoneNames(func(t ZoneType) bool { return t.VNets().SNAT }, "and")
			errs.add(propPos(s.Props, "snat", s.Pos), "snat", "snat is only available in %s zones (zone %s is %s)", snat, z.ID, z.Type)
		}
	}
}

func (c *Config) validateZones(errs *ErrorList) {
	for _, z := range c.ZonesInFileOrder() {
		c.validateZoneRefs(z, errs)
		if t, ok := c.types.zone(z.Type); ok {
			t.Validate(c, z, errs)
		}
	}
}

// ZonesInFileOrder returns the zones in the order of zones.cfg, so that
// of two clashing zones the later one is reported.
func (c *Config) ZonesInFileOrder() []*Zone {
	return byLine(c.SortedZones(), func(z *Zone) Pos { return z.Pos })
}

// VNIOwner returns the VNet (first by ID) of a VXLAN zone whose VNI is
// tag, or nil.
func (c *Config) VNIOwner(tag int) *VNet {
	for _, v := range c.SortedVNets() {
		if z := c.Zones[v.Zone]; z != nil && c.isVXLAN(z.Type) && v.Tag == tag {
			return v
		}
	}
	return nil
}

func (c *Config) validateControllers(errs *ErrorList) {
	for _, ct := range c.ControllersInFileOrder() {
		if t, ok := c.types.controller(ct.Type); ok {
			t.Validate(c, ct, errs)
		}
	}
}

// validateFabrics applies proxmox-ve-config's FabricConfig validation:
// node router IPs inside the fabric's prefixes and present for each
// prefix the fabric has, unique within a fabric; an interface of a node in
// one fabric only; fabric prefixes that do not overlap; distinct OSPF
// areas; unique, non-zero BGP router-ids; wireguard peers that reference
// existing interfaces and external nodes.
func (c *Config) validateFabrics(errs *ErrorList) {
	fabrics := byLine(c.SortedFabrics(), func(f *Fabric) Pos { return f.Pos })
	for i, f := range fabrics {
		for _, o := range fabrics[:i] {
			for _, pp := range [][2]netip.Prefix{{o.IPPrefix, f.IPPrefix}, {o.IP6Prefix, f.IP6Prefix}} {
				a, b := pp[0], pp[1]
				if a.IsValid() && b.IsValid() && a.Masked().Overlaps(b.Masked()) {
					key := "ip_prefix"
					if b.Addr().Is6() {
						key = "ip6_prefix"
					}
					errs.add(propPos(f.Props, key, f.Pos), key, "%s overlaps %s of fabric %s", b, a, o.ID)
				}
			}
		}
	}
	areas := map[string]*Fabric{}
	ifaces := map[[2]string]*Fabric{} // (node, interface) -> fabric
	for _, f := range fabrics {
		if f.Protocol == "ospf" && f.Area != "" {
			k := ospfAreaKey(f.Area)
			if o := areas[k]; o != nil {
				errs.add(propPos(f.Props, "area", f.Pos), "area", "area %s is already used by ospf fabric %s", f.Area, o.ID)
			} else {
				areas[k] = f
			}
		}
		ips := map[string]*FabricNode{}
		routerIDs := map[netip.Addr]*FabricNode{}
		nodes := byLine(f.SortedNodes(), func(n *FabricNode) Pos { return n.Pos })
		for _, n := range nodes {
			c.validateFabricNode(f, n, ips, errs)
			if f.Protocol != "wireguard" {
				for _, fi := range n.Interfaces {
					k := [2]string{n.Node, fi.Name}
					if o := ifaces[k]; o != nil {
						errs.add(propPos(n.Props, "interfaces", n.Pos), "interfaces", "interface %s of node %s is already in fabric %s", fi.Name, n.Node, o.ID)
					} else {
						ifaces[k] = f
					}
				}
			}
			if f.Protocol == "bgp" && n.Internal() {
				id, ok := BGPRouterID(n)
				switch {
				case !ok:
				case id.IsUnspecified():
					errs.add(n.Pos, "ip6", "BGP router-id of node %s resolves to 0.0.0.0: set ip, or pick another ip6", n.Node)
				case routerIDs[id] != nil:
					errs.add(n.Pos, "ip6", "BGP router-id %s of node %s collides with node %s", id, n.Node, routerIDs[id].Node)
				default:
					routerIDs[id] = n
				}
			}
		}
		if f.Protocol == "wireguard" {
			validateWireGuard(f, nodes, errs)
		}
	}
}

func (c *Config) validateFabricNode(f *Fabric, n *FabricNode, ips map[string]*FabricNode, errs *ErrorList) {
	for _, a := range []struct {
		key    string
		addr   netip.Addr
		prefix netip.Prefix
		pkey   string
	}{{"ip", n.IP, f.IPPrefix, "ip_prefix"}, {"ip6", n.IP6, f.IP6Prefix, "ip6_prefix"}} {
		pos := propPos(n.Props, a.key, n.Pos)
		switch {
		case a.addr.IsValid() && !a.prefix.IsValid():
			errs.add(pos, a.key, "fabric %s has no %s for the router ip %s", f.ID, a.pkey, a.addr)
			continue
		case !a.addr.IsValid() && a.prefix.IsValid():
			errs.add(pos, a.key, "missing: node %s needs an %s in the fabric's %s %s", n.Node, a.key, a.pkey, a.prefix)
			continue
		case !a.addr.IsValid():
			continue
		case !a.prefix.Masked().Contains(a.addr):
			errs.add(pos, a.key, "%s is not in the fabric's %s %s", a.addr, a.pkey, a.prefix)
		}
		if o := ips[a.addr.String()]; o != nil {
			errs.add(pos, a.key, "router ip %s is already used by node %s in fabric %s", a.addr, o.Node, f.ID)
		} else {
			ips[a.addr.String()] = n
		}
	}
	if (f.Protocol == "openfabric" || f.Protocol == "ospf") && !n.IP.IsValid() && !n.IP6.IsValid() && !f.IPPrefix.IsValid() && !f.IP6Prefix.IsValid() {
		errs.add(n.Pos, "ip", "missing: a fabric node needs a router ip")
	}
}

func validateWireGuard(f *Fabric, nodes []*FabricNode, errs *ErrorList) {
	type key struct{ node, iface string }
	have := map[key]bool{}
	external := map[string]bool{}
	addrs := map[netip.Addr]bool{}
	for _, n := range nodes {
		if !n.Internal() {
			external[n.Node] = true
			continue
		}
		ports := map[int]bool{}
		for _, fi := range n.Interfaces {
			have[key{n.Node, fi.Name}] = true
			if ports[fi.ListenPort] {
				errs.add(propPos(n.Props, "interfaces", n.Pos), "interfaces", "listen port %d used twice on node %s", fi.ListenPort, n.Node)
			}
			ports[fi.ListenPort] = true
			for _, pf := range []netip.Prefix{fi.IP, fi.IP6} {
				if !pf.IsValid() {
					continue
				}
				if addrs[pf.Addr()] {
					errs.add(propPos(n.Props, "interfaces", n.Pos), "interfaces", "fabric %s contains nodes with duplicated IPs (%s)", f.ID, pf.Addr())
				}
				addrs[pf.Addr()] = true
			}
		}
	}
	for _, n := range nodes {
		if n.WG == nil {
			continue
		}
		for _, p := range n.WG.Peers {
			pos := propPos(n.Props, "peers", n.Pos)
			if !have[key{n.Node, p.Iface}] {
				errs.add(pos, "peers", "peer configuration references non-existing local interface %q", p.Iface)
			}
			switch {
			case p.Type == "internal" && !have[key{p.Node, p.NodeIface}]:
				errs.add(pos, "peers", "peer configuration references non-existing interface %q on node %q", p.NodeIface, p.Node)
			case p.Type == "external" && !external[p.Node]:
				errs.add(pos, "peers", "peer configuration references non-existing external node %q", p.Node)
			}
		}
	}
}

// BGPRouterID is a bgp fabric node's router-id: its IPv4 router IP, else
// a 32-bit FNV-1a hash of its IPv6 one (as proxmox-ve-config derives it).
func BGPRouterID(n *FabricNode) (netip.Addr, bool) {
	if n.IP.IsValid() {
		return n.IP, true
	}
	if !n.IP6.IsValid() {
		return netip.Addr{}, false
	}
	h := uint32(0x811c9dc5)
	for _, b := range n.IP6.As16() {
		h ^= uint32(b)
		h *= 0x01000193
	}
	return netip.AddrFrom4([4]byte{byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)}), true
}

// validateZoneRefs checks the references the API checks on zone create:
// ipam in ipams.cfg ("pve" is built in: Proxmox always creates it), dns
// and reversedns in dns.cfg, dnszone only with a dns server.
func (c *Config) validateZoneRefs(z *Zone, errs *ErrorList) {
	defined := func(file, id string) bool {
		for _, s := range c.Other[file] {
			if s.ID == id {
				return true
			}
		}
		return false
	}
	if z.IPAM != "" && z.IPAM != "pve" && !defined("ipams.cfg", z.IPAM) {
		errs.add(propPos(z.Props, "ipam", z.Pos), "ipam", "ipam %q is not defined in ipams.cfg", z.IPAM)
	}
	for _, k := range []string{"dns", "reversedns"} {
		if p, ok := z.Props[k]; ok && p.Value != "" && !defined("dns.cfg", p.Value) {
			errs.add(p.Pos, k, "dns server %q is not defined in dns.cfg", p.Value)
		}
	}
	if p, ok := z.Props["dnszone"]; ok && z.DNS == "" {
		errs.add(p.Pos, "dnszone", "dnszone needs a dns server (dns)")
	}
}
