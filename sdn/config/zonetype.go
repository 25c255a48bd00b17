package config

import (
	"net/netip"
	"strings"
)

// ZoneType is what the configuration needs from one zone type: its keys,
// how it decodes and validates them, and how its VNets use their tag. Each
// zone type implements it in its own package (sdn/zones/<type>); the list
// of types is sdn/registry, which the callers of Load pass in.
type ZoneType interface {
	// Name is the type as written in zones.cfg ("vlan").
	Name() string
	// Keys are the zones.cfg keys Proxmox allows for the type
	// (Zones/*Plugin.pm options()), including the common ones.
	Keys() []string
	// Decode reads the type's own keys into z; the common keys (nodes,
	// mtu, ipam, dns, reversedns, dnszone, dhcp) are already read.
	Decode(d *Decoder, z *Zone)
	// Validate checks z against the rest of the configuration once
	// everything is decoded (references, uniqueness across zones).
	Validate(c *Config, z *Zone, errs *ErrorList)
	// VNets says what a VNet of the type may and must carry.
	VNets() VNetRules
}

// TagKind is what a VNet's tag means in a zone type.
type TagKind int

// Tag kinds.
const (
	TagNone TagKind = iota // no tag allowed (simple)
	TagVLAN                // a VLAN tag, unique in the zone (vlan, qinq)
	TagVNI                 // a VXLAN VNI, unique cluster-wide (vxlan, evpn)
)

// VNetRules are the per-VNet rules of a zone type.
type VNetRules struct {
	Tag TagKind
	// TagOptional: one VNet of the zone may go without a tag (qinq).
	TagOptional bool
	// NoVlanAware: vlan-aware VNets are refused (evpn).
	NoVlanAware bool
	// SNAT: subnets may set snat (simple, evpn).
	SNAT bool
}

// Types are the section types a configuration may use, in the order
// messages list them.
type Types struct {
	Zones       []ZoneType
	Controllers []ControllerType
}

// keyTable maps each type's name to its keys.
func keyTable[T interface {
	Name() string
	Keys() []string
}](types []T) map[string]map[string]keySpec {
	m := map[string]map[string]keySpec{}
	for _, t := range types {
		m[t.Name()] = keys(t.Keys()...)
	}
	return m
}

// zone returns the zone type called name.
func (t Types) zone(name string) (ZoneType, bool) {
	for _, z := range t.Zones {
		if z.Name() == name {
			return z, true
		}
	}
	return nil, false
}

// zoneNames lists the zone types for messages ("a, b or c").
func (t Types) zoneNames(pick func(ZoneType) bool, last string) string {
	var l []string
	for _, z := range t.Zones {
		if pick == nil || pick(z) {
			l = append(l, z.Name())
		}
	}
	return joinNames(l, last)
}

// controllerNames lists the controller types for messages.
func (t Types) controllerNames() string {
	var l []string
	for _, c := range t.Controllers {
		l = append(l, c.Name())
	}
	return joinNames(l, "or")
}

func joinNames(l []string, last string) string {
	if len(l) < 2 {
		return strings.Join(l, "")
	}
	return strings.Join(l[:len(l)-1], ", ") + " " + last + " " + l[len(l)-1]
}

// Decoder reads the typed values of one section and records every problem
// at the line of the key (or the section header for missing keys).
type Decoder = decoder

// Errf reports a problem with property p.
func (d *decoder) Errf(p Prop, format string, a ...any) { d.errf(p, format, a...) }

// Warnf records a problem Proxmox's API refuses but its generator accepts.
func (d *decoder) Warnf(p Prop, format string, a ...any) {
	d.cfg.Warnings.add(p.Pos, p.Key, format, a...)
}

// Prop returns the first line of key.
func (d *decoder) Prop(key string) (Prop, bool) { p, ok := d.props[key]; return p, ok }

// Has reports whether key is set.
func (d *decoder) Has(key string) bool { return d.has(key) }

// Str returns key's value ("" when unset), reporting an empty value.
func (d *decoder) Str(key string) string { return d.str(key) }

// Require reports key as missing (at the section header) when unset.
func (d *decoder) Require(key, why string) bool { return d.require(key, why) }

// Int parses key as an integer within [min, max]; 0 when unset or bad.
func (d *decoder) Int(key string, min, max int64) int64 { return d.int(key, min, max) }

// Bool parses key as a Proxmox boolean.
func (d *decoder) Bool(key string) bool { return d.boolean(key) }

// List splits a comma-separated value.
func (d *decoder) List(key string) []string { return d.list(key) }

// IPs parses a comma-separated list of IP addresses.
func (d *decoder) IPs(key string) []netip.Addr { return d.ips(key) }

// Nodes parses a node list, reporting bad names and duplicates.
func (d *decoder) Nodes(key string) []string { return d.nodes(key) }

// Errorf reports a problem at pos.
func (l *ErrorList) Errorf(pos Pos, field, format string, a ...any) { l.add(pos, field, format, a...) }

// PropPos is the position of key in props, or else fallback (the header).
func PropPos(props map[string]Prop, key string, fallback Pos) Pos {
	return propPos(props, key, fallback)
}

// ValidNodeName reports whether s is a Proxmox node name.
func ValidNodeName(s string) bool { return validNodeName(s) }

// ValidRouteTarget checks an "ASN:NN" BGP route target (both 32-bit).
func ValidRouteTarget(s string) bool { return validRouteTarget(s) }

// ValidUnicastMAC checks a unicast, non-zero xx:xx:xx:xx:xx:xx MAC.
func ValidUnicastMAC(s string) (ok bool, why string) { return validUnicastMAC(s) }

// RouteMapName reads key as the name of a route map of route-maps.cfg
// ("" when unset or not a valid name, which is reported).
func (d *decoder) RouteMapName(key string) string { return d.name(key, "route map") }

// Missing reports a problem with key at the section header (a key that
// is missing, or a choice between keys not made).
func (d *decoder) Missing(key, msg string) { d.errs.add(d.sec.Pos, key, "%s", msg) }

// ControllerType is what the configuration needs from one controller type
// (sdn/controllers): its keys, how it decodes and validates them.
type ControllerType interface {
	// Name is the type as written in controllers.cfg ("evpn").
	Name() string
	// Keys are the controllers.cfg keys Proxmox allows for the type.
	Keys() []string
	// Decode reads the type's keys into ct.
	Decode(d *Decoder, ct *Controller)
	// Validate checks ct against the rest of the configuration.
	Validate(c *Config, ct *Controller, errs *ErrorList)
}

// controller returns the controller type called name.
func (t Types) controller(name string) (ControllerType, bool) {
	for _, ct := range t.Controllers {
		if ct.Name() == name {
			return ct, true
		}
	}
	return nil, false
}

// ControllersInFileOrder returns the controllers in the order of
// controllers.cfg, so that of two clashing ones the later is reported.
func (c *Config) ControllersInFileOrder() []*Controller {
	return byLine(c.SortedControllers(), func(ct *Controller) Pos { return ct.Pos })
}

// ValidIfaceName reports whether s is a valid interface name for Proxmox.
func ValidIfaceName(s string) bool { return ifaceRE.MatchString(s) }

// ValidISISNet reports whether s looks like an IS-IS NET.
func ValidISISNet(s string) bool { return len(s) >= 20 && len(s) <= 50 && isisNetRE.MatchString(s) }

// PeersOrFabric reads the peers / fabric pair of a vxlan zone or an evpn
// controller: exactly one of them, the fabric a valid fabric id.
func (d *decoder) PeersOrFabric() (peers []netip.Addr, fabric string) {
	peers = d.ips("peers")
	fabric = d.str("fabric")
	if d.has("peers") == d.has("fabric") {
		d.Missing("peers", "must have exactly one of peers / fabric")
	}
	if p, ok := d.props["fabric"]; ok && !fabricIDRE.MatchString(p.Value) {
		d.errf(p, "%q is not a valid fabric id", p.Value)
	}
	return peers, fabric
}
