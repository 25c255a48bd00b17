package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sdnlab/sdnlab/sdn/config"
)

// The lab file is read in two steps: this file turns YAML into spec structs
// that remember where every value came from (file:line), resolve.go fills
// in defaults and checks the result against the SDN configuration.

// spec is a lab file as written.
type spec struct {
	File     string
	Name     str
	SDN      str
	Engine   str
	FRR      str // FRR release of the lab's FRR nodes: 8 (the host's) or 10
	Nodes    []*nodeSpec
	Segments []*segmentSpec
	Routers  []*routerSpec
	Links    []*p2pSpec // underlay.links: node-to-node cables
	// LSPGenInterval is fabric.lsp_gen_interval: FRR tuning of OpenFabric.
	LSPGenInterval num
	Upstream       *upstreamSpec
	External       []*hostSpec
	Guests         []*guestSpec
}

// str, num and addrs are values with their position.
type str struct {
	V   string
	Pos config.Pos
	Set bool
}

type num struct {
	V   int
	Pos config.Pos
	Set bool
}

type prefixes struct {
	V   []netip.Prefix
	Pos config.Pos
	Set bool
}

type nodeSpec struct {
	Name       str
	Impair     impairSpec
	RPFilter   str
	Addresses  prefixes
	Segment    str
	Gateway    str
	Interfaces str
	Engine     str
	FRRLocal   str
}

type segmentSpec struct {
	Name    str
	Subnet  str // IPv4 or IPv6 prefix
	Subnet6 str
	MTU     num
	Impair  impairSpec
}

type routerSpec struct {
	Name      str
	Routing   str // static, bgp
	ASN       num
	Reflector str // evpn: an EVPN route reflector for the nodes
	Engine    str
	Ifaces    []*routerIfaceSpec
}

// p2pSpec is one point-to-point link between two nodes ("node:ifname"
// at each end), as a fabric's mesh cables are.
type p2pSpec struct {
	Pos  config.Pos
	Ends [2]str
}

type routerIfaceSpec struct {
	Segment  str
	Address  prefixes
	RPFilter str
	Impair   impairSpec
}

type upstreamSpec struct {
	Pos      config.Pos
	Name     str
	Segment  str
	Address  prefixes
	RPFilter str
	Subnet   str // the external ("internet") subnet behind it
	Subnet6  str // its IPv6 subnet (dual-stack internet)
	MTU      num
	Routing  str // static (default), bgp
	ASN      num
}

type hostSpec struct {
	Name    str
	Address prefixes
}

type guestSpec struct {
	Name      str
	Node      str
	VNet      str
	MAC       str
	Addresses prefixes
	Gateway   str
	Gateway6  str
	MTU       num
	VMID      num
	Kind      str // netns (default) or vm
	// DHCP is "ip: dhcp": the guest asks its zone's DHCP server.
	DHCP str
	// Tag is the VLAN of the guest's NIC on a VLAN-aware VNet (tag=N).
	Tag num
}

// parser walks yaml.Node trees and collects every problem.
type parser struct {
	file string
	errs config.ErrorList
}

func (p *parser) pos(n *yaml.Node) config.Pos { return config.Pos{File: p.file, Line: n.Line} }

func (p *parser) errf(n *yaml.Node, field, format string, a ...any) {
	p.errs = append(p.errs, &config.Error{Pos: p.pos(n), Field: field, Msg: fmt.Sprintf(format, a...)})
}

// mapping calls fn for each key of a mapping node, rejecting keys not in
// allowed (unknown keys are a typo more often than not).
func (p *parser) mapping(n *yaml.Node, field string, allowed []string, fn func(key string, k, v *yaml.Node)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		p.errf(n, field, "expected a mapping")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		f := join(field, key)
		if allowed != nil && !slices.Contains(allowed, key) {
			p.errf(k, f, "unknown key (expected one of %s)", strings.Join(allowed, ", "))
			continue
		}
		if seen[key] {
			p.errf(k, f, "given twice")
			continue
		}
		seen[key] = true
		fn(key, k, v)
	}
}

// named walks a collection of named items, written either as a mapping
// (name: {props}) or as a sequence (- name or - {name: x, props}).
func (p *parser) named(n *yaml.Node, field string, fn func(name str, props *yaml.Node, f string)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			fn(str{V: k.Value, Pos: p.pos(k), Set: true}, v, join(field, k.Value))
		}
	case yaml.SequenceNode:
		for i, it := range n.Content {
			f := fmt.Sprintf("%s[%d]", field, i)
			switch it.Kind {
			case yaml.ScalarNode:
				fn(str{V: it.Value, Pos: p.pos(it), Set: true}, nil, f)
			case yaml.MappingNode:
				var name str
				for j := 0; j+1 < len(it.Content); j += 2 {
					if it.Content[j].Value == "name" {
						name = p.scalar(it.Content[j+1], f+".name")
					}
				}
				if !name.Set {
					p.errf(it, f+".name", "missing")
					continue
				}
				fn(name, it, join(field, name.V))
			default:
				p.errf(it, f, "expected a name or a mapping")
			}
		}
	default:
		if n.Tag == "!!null" {
			return
		}
		p.errf(n, field, "expected a mapping or a list")
	}
}

func (p *parser) scalar(n *yaml.Node, field string) str {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, field, "expected a single value")
		return str{Pos: p.pos(n)}
	}
	return str{V: n.Value, Pos: p.pos(n), Set: true}
}

func (p *parser) number(n *yaml.Node, field string, min, max int) num {
	s := p.scalar(n, field)
	if !s.Set {
		return num{Pos: s.Pos}
	}
	v, err := strconv.Atoi(s.V)
	if err != nil || v < min || v > max {
		p.errf(n, field, "%q is not a number in %d..%d", s.V, min, max)
		return num{Pos: s.Pos}
	}
	return num{V: v, Pos: s.Pos, Set: true}
}

// prefixList reads one address or a list of addresses in CIDR notation. A
// bare address gets a host prefix (/32, /128) unless wantLen is set.
func (p *parser) prefixList(n *yaml.Node, field string) prefixes {
	out := prefixes{Pos: p.pos(n), Set: true}
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	default:
		p.errf(n, field, "expected an address or a list of addresses")
		return prefixes{Pos: p.pos(n)}
	}
	for _, it := range items {
		s := p.scalar(it, field)
		if !s.Set {
			continue
		}
		pf, err := parseAddrPrefix(s.V)
		if err != nil {
			p.errf(it, field, "%v", err)
			continue
		}
		out.V = append(out.V, pf)
	}
	return out
}

// parseAddrPrefix reads "10.0.0.1/24" (address kept, not masked) or a bare
// address (host prefix).
func parseAddrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address/prefix", s)
		}
		return pf, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseSpec reads a lab file.
func parseSpec(file string) (*spec, error) {
	data, err := config.ReadInput(file) // capped: /dev/urandom must not eat all memory
	if err != nil {
		return nil, config.ErrorList{{Pos: config.Pos{File: file}, Msg: "cannot read lab file: " + err.Error()}}
	}
	return parseSpecBytes(file, data)
}

func parseSpecBytes(file string, data []byte) (*spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, config.ErrorList{{Pos: config.Pos{File: file, Line: yamlErrLine(err)}, Msg: "invalid YAML: " + err.Error()}}
	}
	p := &parser{file: file}
	s := &spec{File: file}
	if len(doc.Content) == 0 {
		return nil, config.ErrorList{{Pos: config.Pos{File: file, Line: 1}, Field: "sdn", Msg: "empty lab file"}}
	}
	root := doc.Content[0]
	p.mapping(root, "", []string{"name", "sdn", "engine", "frr", "fabric", "nodes", "underlay", "upstream", "external", "guests"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			s.Name = p.scalar(v, "name")
		case "sdn":
			s.SDN = p.scalar(v, "sdn")
		case "engine":
			s.Engine = p.scalar(v, "engine")
		case "frr":
			s.FRR = p.scalar(v, "frr")
		case "fabric":
			p.mapping(v, "fabric", []string{"lsp_gen_interval"}, func(key string, k, v *yaml.Node) {
				s.LSPGenInterval = p.number(v, "fabric.lsp_gen_interval", 1, 120)
			})
		case "nodes":
			p.named(v, "nodes", func(name str, n *yaml.Node, f string) {
				ns := &nodeSpec{Name: name}
				s.Nodes = append(s.Nodes, ns)
				if n == nil {
					return
				}
				p.mapping(n, f, []string{"name", "address", "addresses", "segment", "gateway", "interfaces", "rp_filter", "engine", "impair", "frr_local"}, func(key string, k, v *yaml.Node) {
					switch key {
					case "impair":
						ns.Impair = p.impairment(v, join(f, key))
					case "rp_filter":
						ns.RPFilter = p.scalar(v, join(f, key))
					case "address", "addresses":
						ns.Addresses = p.prefixList(v, join(f, key))
					case "segment":
						ns.Segment = p.scalar(v, join(f, key))
					case "gateway":
						ns.Gateway = p.scalar(v, join(f, key))
					case "interfaces":
						ns.Interfaces = p.scalar(v, join(f, key))
					case "engine":
						ns.Engine = p.scalar(v, join(f, key))
					case "frr_local":
						ns.FRRLocal = p.scalar(v, join(f, key))
					}
				})
			})
		case "underlay":
			p.mapping(v, "underlay", []string{"segments", "routers", "links"}, func(key string, k, v *yaml.Node) {
				switch key {
				case "segments":
					p.segments(s, v)
				case "routers":
					p.routers(s, v)
				case "links":
					p.links(s, v)
				}
			})
		case "upstream":
			u := &upstreamSpec{Pos: p.pos(k)}
			s.Upstream = u
			p.mapping(v, "upstream", []string{"name", "segment", "address", "rp_filter", "subnet", "subnet6", "mtu", "routing", "asn"}, func(key string, k, v *yaml.Node) {
				f := join("upstream", key)
				switch key {
				case "name":
					u.Name = p.scalar(v, f)
				case "segment":
					u.Segment = p.scalar(v, f)
				case "address":
					u.Address = p.prefixList(v, f)
				case "rp_filter":
					u.RPFilter = p.scalar(v, f)
				case "subnet":
					u.Subnet = p.scalar(v, f)
				case "subnet6":
					u.Subnet6 = p.scalar(v, f)
				case "mtu":
					u.MTU = p.number(v, f, 576, 65535)
				case "routing":
					u.Routing = p.scalar(v, f)
				case "asn":
					u.ASN = p.number(v, f, 1, 4294967294)
				}
			})
		case "external":
			p.named(v, "external", func(name str, n *yaml.Node, f string) {
				h := &hostSpec{Name: name}
				s.External = append(s.External, h)
				if n == nil {
					return
				}
				p.mapping(n, f, []string{"name", "address"}, func(key string, k, v *yaml.Node) {
					if key == "address" {
						h.Address = p.prefixList(v, join(f, key))
					}
				})
			})
		case "guests":
			p.named(v, "guests", func(name str, n *yaml.Node, f string) {
				g := &guestSpec{Name: name}
				s.Guests = append(s.Guests, g)
				if n == nil {
					p.errf(&yaml.Node{Line: name.Pos.Line}, f, "a guest needs at least node and vnet")
					return
				}
				p.mapping(n, f, []string{"name", "node", "vnet", "mac", "ip", "ips", "address", "addresses", "gateway", "gateway6", "mtu", "vmid", "kind", "tag"}, func(key string, k, v *yaml.Node) {
					ff := join(f, key)
					switch key {
					case "node":
						g.Node = p.scalar(v, ff)
					case "vnet":
						g.VNet = p.scalar(v, ff)
					case "mac":
						g.MAC = p.scalar(v, ff)
					case "ip", "ips", "address", "addresses":
						if v.Kind == yaml.ScalarNode && v.Value == "dhcp" {
							g.DHCP = str{V: v.Value, Pos: p.pos(v), Set: true}
							break
						}
						g.Addresses = p.prefixList(v, ff)
					case "gateway":
						g.Gateway = p.scalar(v, ff)
					case "gateway6":
						g.Gateway6 = p.scalar(v, ff)
					case "mtu":
						g.MTU = p.number(v, ff, 576, 65535)
					case "vmid":
						g.VMID = p.number(v, ff, 100, 999999999)
					case "tag":
						g.Tag = p.number(v, ff, 1, 4094)
					case "kind":
						if g.Kind = p.scalar(v, ff); g.Kind.Set && g.Kind.V != GuestNetns && g.Kind.V != GuestVM {
							p.errf(v, ff, "%q is not a guest kind (netns or vm)", g.Kind.V)
						}
					}
				})
			})
		}
	})
	if !s.SDN.Set && len(p.errs) == 0 {
		p.errf(root, "sdn", "missing: the directory of the Proxmox SDN .cfg files")
	}
	if len(s.Nodes) == 0 && len(p.errs) == 0 {
		p.errf(root, "nodes", "missing: at least one Proxmox node")
	}
	if err := p.errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *parser) segments(s *spec, v *yaml.Node) {
	p.named(v, "underlay.segments", func(name str, n *yaml.Node, f string) {
		sg := &segmentSpec{Name: name}
		s.Segments = append(s.Segments, sg)
		if n == nil {
			return
		}
		p.mapping(n, f, []string{"name", "subnet", "subnet6", "mtu", "impair"}, func(key string, k, v *yaml.Node) {
			switch key {
			case "impair":
				sg.Impair = p.impairment(v, join(f, key))
			case "subnet":
				sg.Subnet = p.scalar(v, join(f, key))
			case "subnet6":
				sg.Subnet6 = p.scalar(v, join(f, key))
			case "mtu":
				sg.MTU = p.number(v, join(f, key), 576, 65535)
			}
		})
	})
}

func (p *parser) routers(s *spec, v *yaml.Node) {
	p.named(v, "underlay.routers", func(name str, n *yaml.Node, f string) {
		r := &routerSpec{Name: name}
		s.Routers = append(s.Routers, r)
		if n == nil {
			p.errf(&yaml.Node{Line: name.Pos.Line}, f+".interfaces", "a router needs the segments it joins")
			return
		}
		p.mapping(n, f, []string{"name", "routing", "asn", "reflector", "engine", "interfaces"}, func(key string, k, v *yaml.Node) {
			switch key {
			case "reflector":
				r.Reflector = p.scalar(v, join(f, key))
			case "engine":
				r.Engine = p.scalar(v, join(f, key))
			case "asn":
				r.ASN = p.number(v, join(f, key), 1, 4294967294)
			case "routing":
				r.Routing = p.scalar(v, join(f, key))
			case "interfaces":
				p.named(v, join(f, key), func(seg str, n *yaml.Node, ff string) {
					ri := &routerIfaceSpec{Segment: seg}
					r.Ifaces = append(r.Ifaces, ri)
					if n == nil {
						return
					}
					p.mapping(n, ff, []string{"name", "segment", "address", "rp_filter", "impair"}, func(key string, k, v *yaml.Node) {
						switch key {
						case "impair":
							ri.Impair = p.impairment(v, join(ff, key))
						case "segment":
							ri.Segment = p.scalar(v, join(ff, key))
						case "address":
							ri.Address = p.prefixList(v, join(ff, key))
						case "rp_filter":
							ri.RPFilter = p.scalar(v, join(ff, key))
						}
					})
				})
			}
		})
	})
}

// links reads underlay.links: a list of [node:ifname, node:ifname] pairs.
func (p *parser) links(s *spec, v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		if v.Tag != "!!null" {
			p.errf(v, "underlay.links", "expected a list of links, each [node:ifname, node:ifname]")
		}
		return
	}
	for i, it := range v.Content {
		f := fmt.Sprintf("underlay.links[%d]", i)
		if it.Kind != yaml.SequenceNode || len(it.Content) != 2 {
			p.errf(it, f, "expected two ends: [node:ifname, node:ifname]")
			continue
		}
		l := &p2pSpec{Pos: p.pos(it)}
		for j, e := range it.Content {
			l.Ends[j] = p.scalar(e, f)
		}
		if l.Ends[0].Set && l.Ends[1].Set {
			s.Links = append(s.Links, l)
		}
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// yamlErrLine digs the line number out of a yaml.v3 error ("yaml: line 3: ...").
func yamlErrLine(err error) int {
	msg := err.Error()
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0
	}
	j := i + 5
	for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(msg[i+5 : j])
	return n
}
