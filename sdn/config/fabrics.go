package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Identifier formats of proxmox-ve-config's fabrics (looser than the
// API's: a one-character fabric id and a trailing '-' parse from the file).
var (
	fabricIDRE     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?$`)
	fabricNodeIDRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]?$`)
	wgIfaceRE      = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?$`)
	wgKeyRE        = regexp.MustCompile(`^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$`)
)

// fabricType returns the fabric type of a fabrics.cfg section type
// (<protocol>_fabric or <protocol>_node) and the kind, fabric or node.
func (t Types) fabricType(typ string) (ft FabricType, kind string, ok bool) {
	for _, k := range []string{"_fabric", "_node"} {
		if p, found := strings.CutSuffix(typ, k); found {
			for _, f := range t.Fabrics {
				if f.Name() == p {
					return f, k[1:], true
				}
			}
		}
	}
	return nil, "", false
}

// fabricKeys are the keys of section type typ of fabric type ft.
func fabricKeys(ft FabricType, kind string) map[string]keySpec {
	names := ft.FabricKeys()
	if kind == "node" {
		names = ft.NodeKeys()
	}
	m := keys(names...)
	for _, k := range ft.Lists() {
		if _, ok := m[k]; ok {
			m[k] = keySpec{repeat: true}
		}
	}
	return m
}

// decodeFabrics reads fabrics.cfg: fabric sections first, then node
// sections attached to their fabric (nodes may come before their fabric
// in the file).
func (c *Config) decodeFabrics(secs []Section, errs *ErrorList) {
	for i := range secs {
		sec := &secs[i]
		_, kind, ok := c.types.fabricType(sec.Type)
		switch {
		case !ok:
			var names []string
			for _, f := range c.types.Fabrics {
				names = append(names, f.Name())
			}
			errs.add(sec.Pos, "type", "unknown section type %q in fabrics.cfg (want <protocol>_fabric or <protocol>_node, protocol %s)", sec.Type, joinNames(names, "or"))
		case kind == "fabric":
			c.decodeFabric(sec, errs)
		}
	}
	for i := range secs {
		sec := &secs[i]
		if _, kind, ok := c.types.fabricType(sec.Type); ok && kind == "node" {
			c.decodeFabricNode(sec, errs)
		}
	}
}

func (c *Config) decodeFabric(sec *Section, errs *ErrorList) {
	ft, kind, _ := c.types.fabricType(sec.Type)
	if !fabricIDRE.MatchString(sec.ID) {
		errs.add(sec.Pos, "id", "invalid fabric id %q: 1-8 characters, letters, digits and '-', starting with a letter or digit", sec.ID)
	}
	d := newDecoder(sec, "fabric", fabricKeys(ft, kind), errs)
	d.cfg = c
	f := &Fabric{ID: sec.ID, Protocol: ft.Name(), Pos: sec.Pos, Props: d.props, Nodes: map[string]*FabricNode{}}
	f.IPPrefix = d.cidr("ip_prefix", 4)
	f.IP6Prefix = d.cidr("ip6_prefix", 6)
	ft.DecodeFabric(d, f)
	f.RouteFilter = d.name("route_filter", "prefix list")
	if _, dup := c.Fabrics[f.ID]; !dup {
		c.Fabrics[f.ID] = f
	}
}

// cidr parses key as an address/length of family fam, host bits allowed
// and kept (Proxmox renders a fabric prefix as written).
func (d *decoder) cidr(key string, fam int) netip.Prefix {
	p, ok := d.props[key]
	if !ok {
		return netip.Prefix{}
	}
	pf, err := netip.ParsePrefix(p.Value)
	if err != nil || pf.Addr().Zone() != "" || (fam == 4) != pf.Addr().Is4() {
		d.errf(p, "%q is not an IPv%d CIDR (address/length)", p.Value, fam)
		return netip.Prefix{}
	}
	return pf
}

// name reads a prefix list or route map name.
func (d *decoder) name(key, what string) string {
	p, ok := d.props[key]
	if !ok {
		return ""
	}
	if !prefixListIDRE.MatchString(p.Value) {
		d.errf(p, "%q is not a %s name", p.Value, what)
		return ""
	}
	return p.Value
}

// redistributions reads "redistribute source=S[,metric=N][,route-map=RM]" lines.
func (d *decoder) redistributions(sources []string) []Redistribution {
	var out []Redistribution
	for _, p := range d.all["redistribute"] {
		ps, err := parsePropertyString(p.Value, "", "source", "metric", "route-map")
		if err != nil {
			d.errf(p, "%v", err)
			continue
		}
		r := Redistribution{Source: ps.get("source"), RouteMap: ps.get("route-map")}
		if !contains(sources, r.Source) {
			d.errf(p, "source %q: want one of %s", r.Source, strings.Join(sources, ", "))
			continue
		}
		if ps.has("metric") {
			n, err := strconv.ParseUint(ps.get("metric"), 10, 32)
			if err != nil {
				d.errf(p, "metric %q is not an unsigned 32-bit integer", ps.get("metric"))
				continue
			}
			r.Metric, r.HasMetric = uint32(n), true
		}
		if ps.has("route-map") && !prefixListIDRE.MatchString(r.RouteMap) {
			d.errf(p, "route-map %q is not a route map name", r.RouteMap)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (c *Config) decodeFabricNode(sec *Section, errs *ErrorList) {
	ft, kind, _ := c.types.fabricType(sec.Type)
	proto := ft.Name()
	d := newDecoder(sec, "fabric node", fabricKeys(ft, kind), errs)
	d.cfg = c
	fabricID, node, ok := strings.Cut(sec.ID, "_")
	if !ok || !fabricIDRE.MatchString(fabricID) || !fabricNodeIDRE.MatchString(node) {
		errs.add(sec.Pos, "id", "invalid fabric node id %q: want <fabric>_<node>", sec.ID)
		return
	}
	n := &FabricNode{Fabric: fabricID, Node: node, Pos: sec.Pos, Props: d.props}
	n.IP = d.addr("ip", 4)
	n.IP6 = d.addr("ip6", 6)
	ft.DecodeNode(d, n)
	seen := map[string]int{}
	for _, p := range d.all["interfaces"] {
		fi, err := ft.DecodeInterface(p.Value)
		if err != nil {
			d.errf(p, "%v", err)
			continue
		}
		if first, dup := seen[fi.Name]; dup {
			d.errf(p, "interface %s listed twice (first at line %d)", fi.Name, first)
			continue
		}
		seen[fi.Name] = p.Pos.Line
		n.Interfaces = append(n.Interfaces, fi)
	}
	f, ok := c.Fabrics[fabricID]
	if !ok {
		errs.add(sec.Pos, "id", "fabric %q of node %q is not defined in fabrics.cfg", fabricID, node)
		return
	}
	if f.Protocol != proto {
		errs.add(sec.Pos, "type", "node section type %s does not match fabric %s (protocol %s)", sec.Type, f.ID, f.Protocol)
		return
	}
	if _, dup := f.Nodes[node]; !dup {
		f.Nodes[node] = n
	}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "on", "yes", "true":
		return true, true
	case "0", "off", "no", "false":
		return false, true
	}
	return false, false
}

// fabricIfaceName is the proxmox-ve-config interface name: 1-15 ASCII characters.
func fabricIfaceName(s string) bool {
	if len(s) == 0 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// ParseFabricInterface reads the keys every fabric type's "interfaces"
// property string shares (name, ip, ip6, hello_multiplier, network_type)
// out of v, with the keys allowed its type's format allows; checkName
// checks the interface name. The type reads its own other keys from the
// returned property string.
func ParseFabricInterface(v string, checkName func(string) error, allowed ...string) (FabricInterface, *PropString, error) {
	var fi FabricInterface
	// No default key: proxmox-ve-config's interface formats have none, so
	// "interfaces ens19" is refused as Proxmox refuses it.
	ps, err := parsePropertyString(v, "", allowed...)
	if err != nil {
		return fi, nil, err
	}
	if !ps.has("name") {
		return fi, nil, fmt.Errorf("%q: missing name=IFACE", v)
	}
	fi.Name = ps.get("name")
	if err := checkName(fi.Name); err != nil {
		return fi, nil, err
	}
	if ps.has("ip") {
		pf, err := netip.ParsePrefix(ps.get("ip"))
		if err != nil || !pf.Addr().Is4() {
			return fi, nil, fmt.Errorf("ip %q is not an IPv4 CIDR (address/len)", ps.get("ip"))
		}
		fi.IP = pf
	}
	if ps.has("ip6") {
		pf, err := netip.ParsePrefix(ps.get("ip6"))
		if err != nil || !pf.Addr().Is6() || pf.Addr().Zone() != "" {
			return fi, nil, fmt.Errorf("ip6 %q is not an IPv6 CIDR (address/len)", ps.get("ip6"))
		}
		fi.IP6 = pf
	}
	if ps.has("hello_multiplier") {
		n, err := strconv.Atoi(ps.get("hello_multiplier"))
		if err != nil || n < 2 || n > 100 {
			return fi, nil, fmt.Errorf("hello_multiplier %q is not an integer in 2-100", ps.get("hello_multiplier"))
		}
		fi.HelloMultiplier = n
	}
	if ps.has("network_type") {
		fi.NetworkType = ps.get("network_type")
		switch fi.NetworkType {
		case "broadcast", "non-broadcast", "point-to-point", "point-to-multipoint":
		default:
			return fi, nil, fmt.Errorf("network_type %q: want broadcast, non-broadcast, point-to-point or point-to-multipoint", fi.NetworkType)
		}
	}
	return fi, ps, nil
}

// CheckFabricIfaceName accepts a proxmox-ve-config interface name.
func CheckFabricIfaceName(name string) error {
	if !fabricIfaceName(name) {
		return fmt.Errorf("%q is not a valid interface name (1-15 characters)", name)
	}
	return nil
}
