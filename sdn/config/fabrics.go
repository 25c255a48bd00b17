package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Fabric section types of fabrics.cfg and their keys.
var fabricKeys = map[string]map[string]keySpec{
	"openfabric_fabric": keys("ip_prefix", "ip6_prefix", "hello_interval", "csnp_interval"),
	"ospf_fabric":       keys("ip_prefix", "area"),
	"openfabric_node":   {"ip": {}, "ip6": {}, "interfaces": {repeat: true}},
	"ospf_node":         {"ip": {}, "interfaces": {repeat: true}},
}

var ospfAreaRE = regexp.MustCompile(`^[0-9]+$`)

// decodeFabrics reads fabrics.cfg: fabric sections first, then node
// sections attached to their fabric (nodes may come before their fabric
// in the file).
func (c *Config) decodeFabrics(secs []Section, errs *ErrorList) {
	for i := range secs {
		sec := &secs[i]
		switch sec.Type {
		case "openfabric_fabric", "ospf_fabric":
			c.decodeFabric(sec, errs)
		case "openfabric_node", "ospf_node":
		default:
			errs.add(sec.Pos, "type", "unknown section type %q in fabrics.cfg (want openfabric_fabric, ospf_fabric, openfabric_node or ospf_node)", sec.Type)
		}
	}
	for i := range secs {
		sec := &secs[i]
		if sec.Type == "openfabric_node" || sec.Type == "ospf_node" {
			c.decodeFabricNode(sec, errs)
		}
	}
}

func (c *Config) decodeFabric(sec *Section, errs *ErrorList) {
	proto := strings.TrimSuffix(sec.Type, "_fabric")
	if !fabricIDRE.MatchString(sec.ID) {
		errs.add(sec.Pos, "id", "invalid fabric id %q: 2-8 characters, letters, digits and '-'", sec.ID)
	}
	d := newDecoder(sec, "fabric", fabricKeys[sec.Type], errs)
	f := &Fabric{ID: sec.ID, Protocol: proto, Pos: sec.Pos, Props: d.props, Nodes: map[string]*FabricNode{}}
	f.IPPrefix = d.prefix("ip_prefix")
	f.IP6Prefix = d.prefix("ip6_prefix")
	if p, ok := d.props["ip_prefix"]; ok && f.IPPrefix.IsValid() && !f.IPPrefix.Addr().Is4() {
		d.errf(p, "%s is not an IPv4 prefix", p.Value)
		f.IPPrefix = netip.Prefix{}
	}
	if p, ok := d.props["ip6_prefix"]; ok && f.IP6Prefix.IsValid() && !f.IP6Prefix.Addr().Is6() {
		d.errf(p, "%s is not an IPv6 prefix", p.Value)
		f.IP6Prefix = netip.Prefix{}
	}
	if !d.has("ip_prefix") && !d.has("ip6_prefix") {
		if proto == "ospf" {
			d.require("ip_prefix", "")
		} else {
			errs.add(sec.Pos, "ip_prefix", "missing: a fabric needs ip_prefix or ip6_prefix")
		}
	}
	switch proto {
	case "openfabric":
		f.HelloInterval = int(d.int("hello_interval", 1, 600))
		f.CsnpInterval = int(d.int("csnp_interval", 1, 600))
	case "ospf":
		if d.require("area", "") {
			p := d.props["area"]
			f.Area = p.Value
			if !validOSPFArea(p.Value) {
				d.errf(p, "%q is not an OSPF area (a 32-bit number or an IPv4 address)", p.Value)
			}
		}
	}
	if _, dup := c.Fabrics[f.ID]; !dup {
		c.Fabrics[f.ID] = f
	}
}

func validOSPFArea(s string) bool {
	if ospfAreaRE.MatchString(s) {
		_, err := strconv.ParseUint(s, 10, 32)
		return err == nil
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func (c *Config) decodeFabricNode(sec *Section, errs *ErrorList) {
	proto := strings.TrimSuffix(sec.Type, "_node")
	d := newDecoder(sec, "fabric node", fabricKeys[sec.Type], errs)
	fabricID, node, ok := strings.Cut(sec.ID, "_")
	if !ok || !fabricIDRE.MatchString(fabricID) || !validNodeName(node) {
		errs.add(sec.Pos, "id", "invalid fabric node id %q: want <fabric>_<node>", sec.ID)
		return
	}
	n := &FabricNode{Fabric: fabricID, Node: node, Pos: sec.Pos, Props: d.props}
	n.IP = d.addr("ip", 4)
	if proto == "openfabric" {
		n.IP6 = d.addr("ip6", 6)
	}
	if !d.has("ip") && !d.has("ip6") {
		errs.add(sec.Pos, "ip", "missing: a fabric node needs a router ip")
	}
	seen := map[string]int{}
	for _, p := range d.all["interfaces"] {
		fi, err := parseFabricInterface(p.Value, proto)
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
	if p, ok := d.props["ip"]; ok && n.IP.IsValid() && f.IPPrefix.IsValid() && !f.IPPrefix.Contains(n.IP) {
		d.errf(p, "%s is not in the fabric's ip_prefix %s", n.IP, f.IPPrefix)
	}
	if p, ok := d.props["ip6"]; ok && n.IP6.IsValid() && f.IP6Prefix.IsValid() && !f.IP6Prefix.Contains(n.IP6) {
		d.errf(p, "%s is not in the fabric's ip6_prefix %s", n.IP6, f.IP6Prefix)
	}
	if p, ok := d.props["ip"]; ok && n.IP.IsValid() && !f.IPPrefix.IsValid() {
		d.errf(p, "the fabric has no ip_prefix for an IPv4 router ip")
	}
	if p, ok := d.props["ip6"]; ok && n.IP6.IsValid() && !f.IP6Prefix.IsValid() {
		d.errf(p, "the fabric has no ip6_prefix for an IPv6 router ip")
	}
	if _, dup := f.Nodes[node]; !dup {
		f.Nodes[node] = n
	}
}

// parseFabricInterface reads "name=IF[,ip=CIDR][,ip6=CIDR][,hello-multiplier=N]".
func parseFabricInterface(v, proto string) (FabricInterface, error) {
	var fi FabricInterface
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			if fi.Name == "" && k != "" && !strings.ContainsAny(k, "=") {
				k, val = "name", k // the default key, as in Proxmox property strings
			} else {
				return fi, fmt.Errorf("%q: want name=IFACE[,ip=CIDR]", v)
			}
		}
		switch {
		case k == "name":
			if !ifaceRE.MatchString(val) {
				return fi, fmt.Errorf("%q is not a valid interface name", val)
			}
			fi.Name = val
		case k == "ip":
			pf, err := netip.ParsePrefix(val)
			if err != nil || !pf.Addr().Is4() {
				return fi, fmt.Errorf("ip %q is not an IPv4 CIDR (address/len)", val)
			}
			fi.IP = pf
		case k == "ip6" && proto == "openfabric":
			pf, err := netip.ParsePrefix(val)
			if err != nil || !pf.Addr().Is6() || pf.Addr().Zone() != "" {
				return fi, fmt.Errorf("ip6 %q is not an IPv6 CIDR (address/len)", val)
			}
			fi.IP6 = pf
		case (k == "hello-multiplier" || k == "hello_multiplier") && proto == "openfabric":
			n, err := strconv.Atoi(val)
			if err != nil || n < 2 || n > 100 {
				return fi, fmt.Errorf("hello-multiplier %q is not an integer in 2-100", val)
			}
			fi.HelloMultiplier = n
		default:
			return fi, fmt.Errorf("unknown %s interface key %q", proto, k)
		}
	}
	if fi.Name == "" {
		return fi, fmt.Errorf("%q: missing name=IFACE", v)
	}
	return fi, nil
}
