package config

import "net/netip"

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
