package sdn

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/fabrics"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Compile builds the plan of one node: every VNet whose zone applies to
// the node goes through its zone compiler (VNets sorted by ID, as Proxmox
// does, so the first VNet to name a shared stanza writes it), then the
// fabric stanzas, then the routing configuration (compileFRR).
//
// A VNet Proxmox would skip (no zone, unknown zone, a zone error such as a
// missing bridge or tag) is skipped with a Note, not an error: Proxmox
// only warns. Errors are reserved for a plan that cannot be made at all.
func Compile(cfg *config.Config, facts plan.NodeFacts) (*plan.NodePlan, error) {
	if cfg == nil {
		return nil, errors.New("compile: no configuration")
	}
	if facts.Node == "" {
		return nil, errors.New("compile: no node name")
	}
	p := &plan.NodePlan{Node: facts.Node, Version: 1}
	st := plan.NewStanzas()
	env := zones.NewEnv(cfg, facts, st)
	zplans := map[string]*plan.ZonePlan{}

	for _, v := range cfg.SortedVNets() {
		if v.Zone == "" {
			env.Notef("vnet %s: no zone assigned; not generated", v.ID)
			continue
		}
		z := cfg.Zones[v.Zone]
		if z == nil {
			env.Notef("vnet %s: zone %s does not exist; not generated", v.ID, v.Zone)
			continue
		}
		if len(z.Nodes) > 0 && !slices.Contains(z.Nodes, facts.Node) {
			continue
		}
		c, ok := registry.Zone(z.Type)
		if !ok {
			env.Notef("vnet %s: zone %s has unsupported type %q; not generated", v.ID, z.ID, z.Type)
			continue
		}
		zp := zplans[z.ID]
		if zp == nil {
			zp = &plan.ZonePlan{}
		}
		if err := c.VNet(env, z, v, zp); err != nil {
			env.Notef("zone %s: vnet %s: %v; not generated", z.ID, v.ID, err)
			continue
		}
		zplans[z.ID] = zp
	}

	p.Ifaces = st.Sorted()
	fab, err := compileFabricIfaces(cfg, facts.Node, env.Notef)
	if err != nil {
		return nil, err
	}
	p.Ifaces = append(p.Ifaces, fab...)
	if p.WireGuard, err = fabrics.WireGuardConfigs(cfg, facts.Node); err != nil {
		return nil, err
	}

	ids := make([]string, 0, len(zplans))
	for id := range zplans {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p.Zones = append(p.Zones, *zplans[id])
	}
	if known, named := nodeNamed(cfg, facts.Node); named && !known {
		env.Notef("node %s is not named anywhere in the configuration (zone nodes, exitnodes, controllers, fabrics); only zones without a node list apply to it", facts.Node)
	}
	p.Notes = append(p.Notes, env.Notes...)
	p.DHCP = compileDHCP(cfg)

	if err := compileFRR(cfg, facts, p); err != nil {
		return nil, fmt.Errorf("node %s: %w", facts.Node, err)
	}
	return p, nil
}

// CompileAll compiles the plan of every node in factsByNode.
func CompileAll(cfg *config.Config, factsByNode map[string]plan.NodeFacts) (map[string]*plan.NodePlan, error) {
	out := make(map[string]*plan.NodePlan, len(factsByNode))
	names := make([]string, 0, len(factsByNode))
	for n := range factsByNode {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := factsByNode[n]
		if f.Node == "" {
			f.Node = n
		}
		p, err := Compile(cfg, f)
		if err != nil {
			return nil, err
		}
		out[n] = p
	}
	return out, nil
}

// compileFabricIfaces writes the stanzas the fabrics need on node, after
// the zone stanzas and in fabric ID order, as Proxmox's fabric code does:
// a dummy "dummy_<fabric>" holding the node's router IP (/32, and /128 for
// an IPv6 one), then each fabric interface with its own address or, when
// unnumbered, the node's router IP; all with forwarding on.
//
// The FRR side (compileFRR) reads the same fabric sections for routing; it
// does not write stanzas.
func compileFabricIfaces(cfg *config.Config, node string, notef func(string, ...any)) ([]plan.Iface, error) {
	var out []plan.Iface
	add := func(name string, kind plan.IfaceKind, pfx netip.Prefix) {
		i := plan.NewIface(name, kind)
		i.Family, i.Method = "inet", "static"
		if pfx.Addr().Is6() {
			i.Family = "inet6"
		}
		i.AddAddress(pfx)
		if kind == plan.KindDummy {
			i.SetLinkType("dummy")
		}
		i.SetIPForward("1")
		out = append(out, *i)
	}
	host := func(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
	for _, f := range cfg.SortedFabrics() {
		n := f.Nodes[node]
		if n == nil || !n.Internal() {
			continue
		}
		if f.Protocol == "wireguard" {
			// The wg(8) configs are p.WireGuard; the interface stanzas and
			// the routes for allowed IPs Proxmox adds are not known here.
			notef("fabric %s: wireguard interface configs are rendered (wireguard/<iface>.conf); their interfaces.d stanzas and allowed-IP routes are not", f.ID)
			continue
		}
		dummy := fabrics.DummyName(f.ID)
		if n.IP.IsValid() {
			add(dummy, plan.KindDummy, host(n.IP))
		}
		if n.IP6.IsValid() {
			add(dummy, plan.KindDummy, host(n.IP6))
		}
		for _, fi := range n.Interfaces {
			switch f.Protocol {
			case "bgp":
				// Unnumbered eBGP runs over the interfaces' IPv6 link-local
				// addresses: no stanza of their own.
			case "openfabric":
				if fi.IP.IsValid() {
					add(fi.Name, plan.KindPhysical, fi.IP)
				}
				if fi.IP6.IsValid() {
					add(fi.Name, plan.KindPhysical, fi.IP6)
				}
				if !fi.IP.IsValid() && !fi.IP6.IsValid() {
					switch {
					case n.IP.IsValid():
						add(fi.Name, plan.KindPhysical, host(n.IP))
					case n.IP6.IsValid():
						add(fi.Name, plan.KindPhysical, host(n.IP6))
					default:
						return nil, fmt.Errorf("%s: fabric %s node %s: there has to be an ipv4 or ipv6 node address", n.Pos, f.ID, node)
					}
				}
			default: // ospf
				if fi.IP.IsValid() {
					add(fi.Name, plan.KindPhysical, fi.IP)
				} else if n.IP.IsValid() {
					add(fi.Name, plan.KindPhysical, host(n.IP))
				} else {
					return nil, fmt.Errorf("%s: fabric %s node %s: there has to be an ipv4 node address", n.Pos, f.ID, node)
				}
			}
		}
	}
	return out, nil
}

// nodeNamed reports whether the configuration names node, and whether it
// names any node at all (a hint for a mistyped --node).
func nodeNamed(cfg *config.Config, node string) (known, named bool) {
	check := func(list ...string) {
		for _, n := range list {
			named = true
			known = known || n == node
		}
	}
	for _, z := range cfg.Zones {
		check(z.Nodes...)
		check(z.ExitNodes...)
	}
	for _, c := range cfg.Controllers {
		if c.Node != "" {
			check(c.Node)
		}
	}
	for _, f := range cfg.Fabrics {
		for n := range f.Nodes {
			check(n)
		}
	}
	return known, named
}
