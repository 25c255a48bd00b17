package config

import (
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

func (c *Config) validateFabrics(errs *ErrorList) {
	for _, f := range c.SortedFabrics() {
		ips := map[string]*FabricNode{}
		nodes := byLine(f.SortedNodes(), func(n *FabricNode) Pos { return n.Pos })
		for _, n := range nodes {
			for _, a := range []struct {
				key string
				ok  bool
				s   string
			}{{"ip", n.IP.IsValid(), n.IP.String()}, {"ip6", n.IP6.IsValid(), n.IP6.String()}} {
				if !a.ok {
					continue
				}
				if o := ips[a.s]; o != nil {
					errs.add(propPos(n.Props, a.key, n.Pos), a.key, "router ip %s is already used by node %s in fabric %s", a.s, o.Node, f.ID)
				} else {
					ips[a.s] = n
				}
			}
		}
	}
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
