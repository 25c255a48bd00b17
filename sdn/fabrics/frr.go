// Package fabrics compiles the SDN fabrics of fabrics.cfg (openfabric,
// ospf, bgp; wireguard has no FRR part) into a node's FRR configuration, as Proxmox VE's fabric code does:
// a router per protocol, a passive dummy_<fabric> interface carrying the
// node's router IP, the fabric interfaces, and a zebra route-map that
// makes routes learned over the fabric use the router IP as source.
package fabrics

import (
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// Protocol is one fabric protocol.
type Protocol interface {
	// Build adds fabric f, in which node n takes part, to out.
	Build(b *Builder, f *config.Fabric, n *config.FabricNode) error
}

// Registry maps a fabric protocol to its compiler.
type Registry map[string]Protocol

// Default returns the fabric protocols sdnlab supports.
func Default() Registry {
	return Registry{
		"openfabric": OpenFabric{},
		"ospf":       OSPF{},
		"bgp":        BGP{},
		"wireguard":  WireGuard{},
	}
}

// Builder is the state shared across the fabrics of one node.
type Builder struct {
	Out *frr.Config
	// seq numbers the source route-map entries across all fabrics (100,
	// 110, ...), as Proxmox does.
	seq int
	// net is the openfabric NET of the node: derived from the router IP of
	// the first openfabric fabric it is in, and used for all of them.
	net string
	// ospfRouterID is the router IP of the node's first ospf fabric.
	ospfRouterID netip.Addr
	// bgpSourceMaps: a bgp fabric added entries to pve_bgp/pve_bgp6.
	bgpSourceMaps bool
}

// Build adds every fabric node is a member of to out, in fabric ID order.
// It runs after the controllers and the frr.conf.local merge.
func (r Registry) Build(cfg *config.Config, node string, out *frr.Config) error {
	b := &Builder{Out: out, seq: 100}
	for _, f := range cfg.SortedFabrics() {
		n := f.Nodes[node]
		if n == nil {
			continue
		}
		p, ok := r[f.Protocol]
		if !ok {
			return fmt.Errorf("%s: fabric %s: unsupported protocol %q", f.Pos, f.ID, f.Protocol)
		}
		if err := p.Build(b, f, n); err != nil {
			return fmt.Errorf("%s: fabric %s, node %s: %w", n.Pos, f.ID, node, err)
		}
	}
	b.finishBGP()
	return nil
}

// DummyName is the name of the dummy interface holding the node's router
// IP in fabric id.
func DummyName(fabric string) string { return "dummy_" + fabric }

// checkIfname rejects interface names the kernel would refuse.
func checkIfname(name string) error {
	if len(name) > 15 {
		return fmt.Errorf("interface name %q is longer than 15 bytes", name)
	}
	return nil
}

// fabricMatch is what selects a fabric's routes in its route-maps: the
// fabric's route_filter prefix list when set, else an access list acl
// permitting the fabric's prefix (registered here), else nothing.
func (b *Builder) fabricMatch(f *config.Fabric, acl string, v6 bool) []frr.KV {
	prefix, key, plKey := f.IPPrefix, "ip address", "ip address prefix-list"
	if v6 {
		prefix, key, plKey = f.IP6Prefix, "ipv6 address", "ipv6 address prefix-list"
	}
	switch {
	case f.RouteFilter != "":
		return []frr.KV{{Key: plKey, Value: f.RouteFilter}}
	case prefix.IsValid():
		if b.Out.AccessLists == nil {
			b.Out.AccessLists = map[string][]frr.AccessListRule{}
		}
		// The prefix as written, host bits and all, as Proxmox renders it.
		b.Out.AccessLists[acl] = []frr.AccessListRule{{Action: "permit", Network: prefix}}
		return []frr.KV{{Key: key, Value: acl}}
	}
	return nil
}

// sourceRouteMap adds the next entry of the source route-map called name:
// routes selected by matches get src as kernel source address. It
// registers the zebra protocol route-map (v6 selects ipv6).
func (b *Builder) sourceRouteMap(protocol, name string, matches []frr.KV, src netip.Addr, v6 bool) {
	e := frr.RouteMapEntry{Seq: b.seq, Action: "permit", Matches: matches, Sets: []frr.KV{{Key: "src", Value: src.String()}}}
	b.seq += 10
	b.Out.AddRouteMap(name, e)
	if b.Out.ProtocolRouteMaps == nil {
		b.Out.ProtocolRouteMaps = map[string]frr.ProtocolRouteMap{}
	}
	pr := b.Out.ProtocolRouteMaps[protocol]
	if v6 {
		pr.V6 = name
	} else {
		pr.V4 = name
	}
	b.Out.ProtocolRouteMaps[protocol] = pr
}
