package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Fabric section types of fabrics.cfg and their keys (proxmox-ve-config's
// fabric section config: the keys are snake_case, as in the file).
var fabricKeys = map[string]map[string]keySpec{
	"openfabric_fabric": keys("ip_prefix", "ip6_prefix", "hello_interval", "csnp_interval", "route_filter"),
	"ospf_fabric":       {"ip_prefix": {}, "ip6_prefix": {}, "area": {}, "route_filter": {}, "redistribute": {repeat: true}},
	"bgp_fabric":        {"ip_prefix": {}, "ip6_prefix": {}, "bfd": {}, "redistribute": {repeat: true}, "route_map_in": {}, "route_map_out": {}, "route_filter": {}},
	"wireguard_fabric":  keys("ip_prefix", "ip6_prefix", "persistent_keepalive"),
	"openfabric_node":   {"ip": {}, "ip6": {}, "interfaces": {repeat: true}},
	"ospf_node":         {"ip": {}, "ip6": {}, "interfaces": {repeat: true}},
	"bgp_node":          {"ip": {}, "ip6": {}, "role": {}, "asn": {}, "interfaces": {repeat: true}, "peer_ip": {}},
	"wireguard_node":    {"ip": {}, "ip6": {}, "role": {}, "endpoint": {}, "public_key": {}, "allowed_ips": {repeat: true}, "interfaces": {repeat: true}, "peers": {repeat: true}},
}

// Identifier formats of proxmox-ve-config's fabrics (looser than the
// API's: a one-character fabric id and a trailing '-' parse from the file).
var (
	fabricIDRE     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?$`)
	fabricNodeIDRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]?$`)
	ospfAreaRE     = regexp.MustCompile(`^[0-9]+$`)
	wgIfaceRE      = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?$`)
	wgKeyRE        = regexp.MustCompile(`^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$`)
)

func fabricProtocol(typ string) (proto, kind string, ok bool) {
	for _, k := range []string{"_fabric", "_node"} {
		if p, found := strings.CutSuffix(typ, k); found {
			switch p {
			case "openfabric", "ospf", "bgp", "wireguard":
				return p, k[1:], true
			}
		}
	}
	return "", "", false
}

// decodeFabrics reads fabrics.cfg: fabric sections first, then node
// sections attached to their fabric (nodes may come before their fabric
// in the file).
func (c *Config) decodeFabrics(secs []Section, errs *ErrorList) {
	for i := range secs {
		sec := &secs[i]
		_, kind, ok := fabricProtocol(sec.Type)
		switch {
		case !ok:
			errs.add(sec.Pos, "type", "unknown section type %q in fabrics.cfg (want <protocol>_fabric or <protocol>_node, protocol openfabric, ospf, bgp or wireguard)", sec.Type)
		case kind == "fabric":
			c.decodeFabric(sec, errs)
		}
	}
	for i := range secs {
		sec := &secs[i]
		if _, kind, ok := fabricProtocol(sec.Type); ok && kind == "node" {
			c.decodeFabricNode(sec, errs)
		}
	}
}

func (c *Config) decodeFabric(sec *Section, errs *ErrorList) {
	proto, _, _ := fabricProtocol(sec.Type)
	if !fabricIDRE.MatchString(sec.ID) {
		errs.add(sec.Pos, "id", "invalid fabric id %q: 1-8 characters, letters, digits and '-', starting with a letter or digit", sec.ID)
	}
	d := newDecoder(sec, "fabric", fabricKeys[sec.Type], errs)
	f := &Fabric{ID: sec.ID, Protocol: proto, Pos: sec.Pos, Props: d.props, Nodes: map[string]*FabricNode{}}
	f.IPPrefix = d.cidr("ip_prefix", 4)
	f.IP6Prefix = d.cidr("ip6_prefix", 6)
	switch proto {
	case "openfabric", "bgp":
		if !d.has("ip_prefix") && !d.has("ip6_prefix") {
			errs.add(sec.Pos, "ip_prefix", "missing: fabric %s does not have an IP prefix configured (ip_prefix or ip6_prefix)", f.ID)
		}
	case "ospf":
		d.require("ip_prefix", "")
		if p, ok := d.props["ip6_prefix"]; ok {
			d.errf(p, "IPv6 is not supported for protocol ospf")
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
		f.Redistribute = d.redistributions([]string{"bgp", "connected", "isis", "kernel", "openfabric", "ospf", "static"})
	case "bgp":
		f.BFD = d.boolean("bfd")
		f.Redistribute = d.redistributions([]string{"connected", "isis", "kernel", "openfabric", "ospf", "ospf6", "static"})
		f.RouteMapIn = d.name("route_map_in", "route map")
		f.RouteMapOut = d.name("route_map_out", "route map")
	case "wireguard":
		f.PersistentKeepalive = int(d.int("persistent_keepalive", 0, 65535))
	}
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

func validOSPFArea(s string) bool {
	if ospfAreaRE.MatchString(s) {
		_, err := strconv.ParseUint(s, 10, 32)
		return err == nil
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4() && a.Zone() == ""
}

// ospfAreaKey is an area's IPv4 form: "0" and "0.0.0.0" are one area.
func ospfAreaKey(s string) string {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
	}
	return s
}

func (c *Config) decodeFabricNode(sec *Section, errs *ErrorList) {
	proto, _, _ := fabricProtocol(sec.Type)
	d := newDecoder(sec, "fabric node", fabricKeys[sec.Type], errs)
	fabricID, node, ok := strings.Cut(sec.ID, "_")
	if !ok || !fabricIDRE.MatchString(fabricID) || !fabricNodeIDRE.MatchString(node) {
		errs.add(sec.Pos, "id", "invalid fabric node id %q: want <fabric>_<node>", sec.ID)
		return
	}
	n := &FabricNode{Fabric: fabricID, Node: node, Pos: sec.Pos, Props: d.props}
	n.IP = d.addr("ip", 4)
	n.IP6 = d.addr("ip6", 6)
	if proto == "ospf" {
		if p, ok := d.props["ip6"]; ok {
			d.errf(p, "IPv6 is not supported for protocol ospf")
		}
	}
	if proto == "bgp" || proto == "wireguard" {
		n.Role = d.str("role")
		if d.require("role", "") && n.Role != "internal" && n.Role != "external" {
			d.errf(d.props["role"], "%q: want internal or external", n.Role)
		}
	}
	d.nodeKeysForRole(proto, n.Role)
	switch proto {
	case "bgp":
		if n.Role == "internal" && d.require("asn", "an internal bgp node needs its asn") {
			n.ASN = uint32(d.int("asn", 0, 4294967295))
		}
		n.PeerIP = d.addr("peer_ip", 4)
	case "wireguard":
		n.WG = d.wireGuardNode(n.Role)
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
	if _, dup := f.Nodes[node]; !dup {
		f.Nodes[node] = n
	}
}

// nodeKeysForRole reports keys of a bgp/wireguard node that its role does not have.
func (d *decoder) nodeKeysForRole(proto, role string) {
	var only map[string]string
	switch proto {
	case "bgp":
		only = map[string]string{"asn": "internal", "interfaces": "internal", "peer_ip": "external"}
	case "wireguard":
		only = map[string]string{"interfaces": "internal", "peers": "internal", "public_key": "external"}
	}
	if role == "" {
		return
	}
	for k, want := range only {
		if p, ok := d.props[k]; ok && want != role {
			d.errf(p, "not a key of a %s node of role %s", proto, role)
		}
	}
}

func (d *decoder) wireGuardNode(role string) *WireGuardNode {
	wg := &WireGuardNode{Endpoint: d.str("endpoint")}
	if p, ok := d.props["endpoint"]; ok && wg.Endpoint != "" {
		var err error
		if role == "external" {
			err = checkServiceEndpoint(wg.Endpoint)
		} else {
			err = checkHost(wg.Endpoint)
		}
		if err != nil {
			d.errf(p, "%v", err)
		}
	}
	if role == "external" {
		d.require("endpoint", "an external wireguard node needs its endpoint (host:port)")
		if d.require("public_key", "an external wireguard node needs its public_key") {
			wg.PublicKey = d.props["public_key"].Value
			if !wgKeyRE.MatchString(wg.PublicKey) {
				d.errf(d.props["public_key"], "%q is not a WireGuard key (44 characters of base64)", wg.PublicKey)
			}
		}
	}
	for _, p := range d.all["allowed_ips"] {
		for _, s := range splitList(p.Value) {
			pf, err := netip.ParsePrefix(s)
			if err != nil {
				d.errf(p, "%q is not a CIDR", s)
				continue
			}
			wg.AllowedIPs = append(wg.AllowedIPs, pf)
		}
	}
	for _, p := range d.all["peers"] {
		peer, err := parseWireGuardPeer(p.Value)
		if err != nil {
			d.errf(p, "%v", err)
			continue
		}
		wg.Peers = append(wg.Peers, peer)
	}
	return wg
}

func parseWireGuardPeer(v string) (WireGuardPeer, error) {
	var peer WireGuardPeer
	// Proxmox's peer format allows additional properties: keys it does not
	// know are accepted and ignored.
	ps, err := parsePropertyString(v, "")
	if err != nil {
		return peer, err
	}
	peer.Type = ps.get("type")
	switch peer.Type {
	case "internal":
		if !ps.has("node_iface") {
			return peer, fmt.Errorf("%q: an internal peer needs node_iface=", v)
		}
	case "external":
		if ps.has("node_iface") {
			return peer, fmt.Errorf("%q: node_iface is a key of internal peers", v)
		}
	default:
		return peer, fmt.Errorf("%q: type must be internal or external", v)
	}
	for _, k := range []string{"node", "iface"} {
		if !ps.has(k) {
			return peer, fmt.Errorf("%q: missing %s=", v, k)
		}
	}
	peer.Node, peer.NodeIface, peer.Iface, peer.Endpoint = ps.get("node"), ps.get("node_iface"), ps.get("iface"), ps.get("endpoint")
	if ps.has("endpoint") {
		// An internal peer overrides the host (the port is its interface's);
		// an external one gives host:port.
		check := checkHost
		if peer.Type == "external" {
			check = checkServiceEndpoint
		}
		if err := check(peer.Endpoint); err != nil {
			return peer, fmt.Errorf("%q: %v", v, err)
		}
	}
	if !fabricNodeIDRE.MatchString(peer.Node) {
		return peer, fmt.Errorf("%q: %q is not a node name", v, peer.Node)
	}
	for _, name := range []string{peer.Iface, peer.NodeIface} {
		if name != "" && !wgIfaceRE.MatchString(name) {
			return peer, fmt.Errorf("%q: %q is not a wireguard interface name (1-8 characters)", v, name)
		}
	}
	for _, s := range strings.Split(ps.get("allowed_ips"), ";") {
		if s == "" {
			continue
		}
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return peer, fmt.Errorf("%q: allowed_ips: %q is not a CIDR", v, s)
		}
		peer.AllowedIPs = append(peer.AllowedIPs, pf)
	}
	if ps.has("skip_route_generation") {
		b, ok := parseBool(ps.get("skip_route_generation"))
		if !ok {
			return peer, fmt.Errorf("%q: skip_route_generation is not a boolean", v)
		}
		peer.SkipRouteGeneration = b
	}
	return peer, nil
}

// checkHost accepts a host name or an IP address (no port).
func checkHost(s string) error {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return nil
	}
	if dnsNameRE.MatchString(s) {
		return nil
	}
	return fmt.Errorf("endpoint %q is not a host name or IP address", s)
}

// checkServiceEndpoint accepts host:port ([v6]:port).
func checkServiceEndpoint(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err == nil {
		err = checkHost(host)
	}
	if err != nil {
		return fmt.Errorf("endpoint %q is not host:port", s)
	}
	return nil
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

// parseFabricInterface reads one "interfaces" property string of a node
// of protocol proto: openfabric name,hello_multiplier,ip,ip6; ospf
// name,ip,network_type; bgp name; wireguard name,listen_port,public_key,
// ip,ip6,ip6_ll.
func parseFabricInterface(v, proto string) (FabricInterface, error) {
	var fi FabricInterface
	allowed := map[string][]string{
		"openfabric": {"name", "hello_multiplier", "ip", "ip6"},
		"ospf":       {"name", "ip", "network_type"},
		"bgp":        {"name"},
		"wireguard":  {"name", "listen_port", "public_key", "ip", "ip6", "ip6_ll"},
	}[proto]
	// No default key: proxmox-ve-config's interface formats have none, so
	// "interfaces ens19" is refused as Proxmox refuses it.
	ps, err := parsePropertyString(v, "", allowed...)
	if err != nil {
		return fi, err
	}
	if !ps.has("name") {
		return fi, fmt.Errorf("%q: missing name=IFACE", v)
	}
	fi.Name = ps.get("name")
	if proto == "wireguard" {
		if !wgIfaceRE.MatchString(fi.Name) {
			return fi, fmt.Errorf("%q is not a wireguard interface name (1-8 characters)", fi.Name)
		}
	} else if !fabricIfaceName(fi.Name) {
		return fi, fmt.Errorf("%q is not a valid interface name (1-15 characters)", fi.Name)
	}
	if ps.has("ip") {
		pf, err := netip.ParsePrefix(ps.get("ip"))
		if err != nil || !pf.Addr().Is4() {
			return fi, fmt.Errorf("ip %q is not an IPv4 CIDR (address/len)", ps.get("ip"))
		}
		fi.IP = pf
	}
	if ps.has("ip6") {
		pf, err := netip.ParsePrefix(ps.get("ip6"))
		if err != nil || !pf.Addr().Is6() || pf.Addr().Zone() != "" {
			return fi, fmt.Errorf("ip6 %q is not an IPv6 CIDR (address/len)", ps.get("ip6"))
		}
		fi.IP6 = pf
	}
	if ps.has("hello_multiplier") {
		n, err := strconv.Atoi(ps.get("hello_multiplier"))
		if err != nil || n < 2 || n > 100 {
			return fi, fmt.Errorf("hello_multiplier %q is not an integer in 2-100", ps.get("hello_multiplier"))
		}
		fi.HelloMultiplier = n
	}
	if ps.has("network_type") {
		fi.NetworkType = ps.get("network_type")
		switch fi.NetworkType {
		case "broadcast", "non-broadcast", "point-to-point", "point-to-multipoint":
		default:
			return fi, fmt.Errorf("network_type %q: want broadcast, non-broadcast, point-to-point or point-to-multipoint", fi.NetworkType)
		}
	}
	if proto == "wireguard" {
		n, err := strconv.ParseUint(ps.get("listen_port"), 10, 16)
		if err != nil {
			return fi, fmt.Errorf("%q: listen_port= must be a port number", v)
		}
		fi.ListenPort = int(n)
		fi.PublicKey = ps.get("public_key")
		if !wgKeyRE.MatchString(fi.PublicKey) {
			return fi, fmt.Errorf("%q: public_key= must be a WireGuard key (44 characters of base64)", v)
		}
		if ps.has("ip6_ll") {
			if _, ok := parseBool(ps.get("ip6_ll")); !ok {
				return fi, fmt.Errorf("%q: ip6_ll is not a boolean", v)
			}
			fi.IP6LL = ps.get("ip6_ll")
		}
	}
	return fi, nil
}
