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
	Fabrics     []FabricType
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

// FabricType is what the configuration needs from one fabric protocol
// (sdn/fabrics): the keys of its <name>_fabric and <name>_node sections
// of fabrics.cfg, how it decodes and validates them. The keys every type
// shares (ip_prefix, ip6_prefix, route_filter; ip, ip6, interfaces) are
// read by config, as long as the type lists them.
type FabricType interface {
	// Name is the protocol as written in the section types ("ospf").
	Name() string
	// FabricKeys and NodeKeys are the keys of the type's fabric and node
	// sections; Lists are those of them that may repeat.
	FabricKeys() []string
	NodeKeys() []string
	Lists() []string
	// DecodeFabric reads the type's own keys of a fabric section into f
	// (ip_prefix and ip6_prefix are read).
	DecodeFabric(d *Decoder, f *Fabric)
	// DecodeNode reads the type's own keys of a node section into n (ip
	// and ip6 are read; interfaces are read after, by DecodeInterface).
	DecodeNode(d *Decoder, n *FabricNode)
	// DecodeInterface reads one "interfaces" value of a node section.
	DecodeInterface(v string) (FabricInterface, error)
	// HostInterfaces: a node's interfaces are host interfaces, each in one
	// fabric only (wireguard's are its own devices).
	HostInterfaces() bool
	// Validate checks fabric f and its nodes (in file order) once
	// everything is decoded.
	Validate(c *Config, f *Fabric, nodes []*FabricNode, errs *ErrorList)
}

// FabricsInFileOrder returns the fabrics in the order of fabrics.cfg.
func (c *Config) FabricsInFileOrder() []*Fabric {
	return byLine(c.SortedFabrics(), func(f *Fabric) Pos { return f.Pos })
}

// All returns every line of key (a list key).
func (d *decoder) All(key string) []Prop { return d.all[key] }

// Addr parses key as an IP address of family fam (4 or 6).
func (d *decoder) Addr(key string, fam int) netip.Addr { return d.addr(key, fam) }

// Redistributions reads the "redistribute" lines of an ospf or bgp
// fabric, sources naming what the protocol may redistribute.
func (d *decoder) Redistributions(sources []string) []Redistribution {
	return d.redistributions(sources)
}

// Type is the section type ("bgp_node"), for messages.
func (d *decoder) Type() string { return d.sec.Type }

// PropString is one parsed Proxmox property string ("k=v,k2=v2").
type PropString = propString

// ParsePropertyString reads a property string; see parsePropertyString.
func ParsePropertyString(v, defaultKey string, allowed ...string) (*PropString, error) {
	return parsePropertyString(v, defaultKey, allowed...)
}

// Has reports whether key k is set.
func (p *propString) Has(k string) bool { return p.has(k) }

// Get returns the value of k ("" when unset).
func (p *propString) Get(k string) string { return p.get(k) }

// SplitList splits a list value the way Proxmox's split_list does.
func SplitList(s string) []string { return splitList(s) }

// ParseBool parses a Proxmox boolean; ok is false when s is none.
func ParseBool(s string) (b, ok bool) { return parseBool(s) }

// ValidHostName reports whether s is a DNS host name.
func ValidHostName(s string) bool { return dnsNameRE.MatchString(s) }

// ValidFabricNodeName reports whether s is a fabric node name.
func ValidFabricNodeName(s string) bool { return fabricNodeIDRE.MatchString(s) }

// ValidWireGuardIface reports whether s is a wireguard interface name.
func ValidWireGuardIface(s string) bool { return wgIfaceRE.MatchString(s) }

// ValidWireGuardKey reports whether s is a WireGuard key (32 bytes in base64).
func ValidWireGuardKey(s string) bool { return wgKeyRE.MatchString(s) }
