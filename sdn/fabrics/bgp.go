package fabrics

import (
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// BGP compiles bgp fabrics (FRR bgpd): eBGP unnumbered sessions over the
// node's fabric interfaces in a peer group named after the fabric, the
// node's router IPs announced, per-peer inbound filters that admit only
// the fabric's prefixes (then the fabric's route_map_in, called), and the
// zebra source route-maps pve_bgp/pve_bgp6. When the node already has a
// default BGP instance (an EVPN or bgp controller) the fabric merges into
// it, presenting its own AS to the fabric peers with local-as.
type BGP struct{}

// localASMode is FRR's local-as flags Proxmox uses for the merge: the
// fabric peers see only the fabric AS.
const localASMode = "no-prepend replace-as"

// Build adds bgp fabric f for node n; external nodes (routers outside the
// cluster) get nothing.
func (BGP) Build(b *Builder, f *config.Fabric, n *config.FabricNode) error {
	if !n.Internal() {
		return nil
	}
	routerID, ok := config.BGPRouterID(n)
	if !ok {
		return fmt.Errorf("a bgp fabric node needs ip or ip6")
	}
	for _, i := range n.Interfaces {
		if err := checkIfname(i.Name); err != nil {
			return err
		}
	}
	existing := b.Out.DefaultRouter()
	g := frr.NeighborGroup{Name: f.ID, RemoteAS: frr.RemoteASExternal, BFD: f.BFD}
	for _, i := range n.Interfaces {
		g.Interfaces = append(g.Interfaces, i.Name)
	}
	if existing != nil && existing.ASN != n.ASN {
		g.LocalAS, g.LocalASMode = n.ASN, localASMode
	}
	var redist []frr.Redistribution
	for _, r := range f.Redistribute {
		redist = append(redist, frr.Redistribution{Protocol: r.Source, Metric: int(r.Metric), RouteMap: r.RouteMap})
	}
	r := &frr.BGPRouter{ASN: n.ASN, RouterID: routerID, NoDefaultIPv4Unicast: true, NeighborGroups: []frr.NeighborGroup{g}}
	for _, fam := range []struct {
		ip             netip.Addr
		v6             bool
		acl, in, srcRM string
		af             **frr.UnicastAF
		bits           int
	}{
		{n.IP, false, "pve_bgp_" + f.ID + "_ips", "pve_bgp_" + f.ID + "_in", "pve_bgp", &r.IPv4Unicast, 32},
		{n.IP6, true, "pve_bgp_" + f.ID + "_ip6s", "pve_bgp6_" + f.ID + "_in", "pve_bgp6", &r.IPv6Unicast, 128},
	} {
		if !fam.ip.IsValid() {
			continue
		}
		matches := b.fabricMatch(f, fam.acl, fam.v6)
		nb := frr.AFNeighbor{Name: f.ID, SoftReconfigurationInbound: true, RouteMapOut: f.RouteMapOut}
		if len(matches) > 0 {
			// Only the fabric's prefixes are accepted from a fabric peer;
			// the user's route_map_in sees what passed.
			b.Out.AddRouteMap(fam.in, frr.RouteMapEntry{Seq: 10, Action: "permit", Matches: matches, Call: f.RouteMapIn})
			nb.RouteMapIn = fam.in
		}
		*fam.af = &frr.UnicastAF{
			Networks:     []netip.Prefix{netip.PrefixFrom(fam.ip, fam.bits)},
			Neighbors:    []frr.AFNeighbor{nb},
			Redistribute: append([]frr.Redistribution(nil), redist...),
		}
		b.sourceRouteMap("bgp", fam.srcRM, matches, fam.ip, fam.v6)
		b.bgpSourceMaps = true
	}
	if existing == nil {
		if b.Out.BGP.Routers == nil {
			b.Out.BGP.Routers = map[string]*frr.BGPRouter{}
		}
		b.Out.BGP.Routers[frr.DefaultVRF] = r
		return nil
	}
	mergeFabricRouter(existing, r)
	return nil
}

// mergeFabricRouter adds a bgp fabric's router to the node's default
// instance: its peer group, and its unicast families appended to the
// existing ones (the EVPN family is never the fabric's).
func mergeFabricRouter(dst, src *frr.BGPRouter) {
	dst.NeighborGroups = append(dst.NeighborGroups, src.NeighborGroups...)
	for _, p := range []struct{ d, s **frr.UnicastAF }{{&dst.IPv4Unicast, &src.IPv4Unicast}, {&dst.IPv6Unicast, &src.IPv6Unicast}} {
		switch {
		case *p.s == nil:
		case *p.d == nil:
			*p.d = *p.s
		default:
			d, s := *p.d, *p.s
			d.Neighbors = append(d.Neighbors, s.Neighbors...)
			d.ImportVRF = append(d.ImportVRF, s.ImportVRF...)
			d.Custom = append(d.Custom, s.Custom...)
			d.Networks = append(d.Networks, s.Networks...)
			d.Redistribute = append(d.Redistribute, s.Redistribute...)
		}
	}
	// The fabric sets "no bgp default ipv4-unicast" only where the router
	// left it unset.
	dst.NoDefaultIPv4Unicast = dst.NoDefaultIPv4Unicast || src.NoDefaultIPv4Unicast
}

// finishBGP closes the bgp source route-maps with a permit-all entry, so
// BGP routes outside the fabric (EVPN-imported ones) still reach the
// kernel, unchanged.
func (b *Builder) finishBGP() {
	if !b.bgpSourceMaps {
		return
	}
	for _, name := range []string{"pve_bgp", "pve_bgp6"} {
		if _, ok := b.Out.RouteMaps[name]; ok {
			b.Out.AddRouteMap(name, frr.RouteMapEntry{Seq: 65535, Action: "permit"})
		}
	}
}
