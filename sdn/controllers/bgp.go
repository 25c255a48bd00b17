package controllers

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// BGP is the bgp controller: underlay BGP sessions of one node (peer group
// "BGP"), optionally announcing a loopback and sourcing kernel routes from
// it.
type BGP struct{}

const (
	bgpGroup     = "BGP"
	correctSrc   = "correct_src"
	loopbacksIPs = "loopbacks_ips"
)

// Generate adds the BGP peer group of the node the controller names.
func (BGP) Generate(x *Context, c *config.Controller) error {
	if c.ASN == 0 || c.Node != x.In.Node {
		return nil
	}
	ip, err := localIP(x, c, c.Peers, c.Loopback)
	if err != nil {
		return err
	}
	if !ip.IsValid() && c.Loopback != "" {
		return fmt.Errorf("no address found for loopback %s", c.Loopback)
	}
	rid, err := routerID(ip, x.In.UnderlayMAC)
	if err != nil {
		return err
	}
	r := defaultRouter(x.FRR, func(r *frr.BGPRouter) {
		r.ASN = c.ASN
		r.RouterID = rid
		r.NoDefaultIPv4Unicast = true
		r.CoalesceTime = 1000
	})
	if c.Loopback != "" && c.EBGP {
		r.DisableEBGPConnectedRouteCheck = true
	}
	if c.BGPMultipathAsPathRelax {
		r.BestpathASPathMultipathRelax = true
	}
	if len(c.Peers) > 0 {
		g := frr.NeighborGroup{
			Name:     bgpGroup,
			BFD:      true,
			RemoteAS: strconv.FormatUint(uint64(c.ASN), 10),
			Peers:    append([]netip.Addr(nil), c.Peers...),
		}
		if c.EBGP {
			g.RemoteAS = frr.RemoteASExternal
			g.EBGPMultihop = c.EBGPMultihop
		}
		r.NeighborGroups = append(r.NeighborGroups, g)
		af := &r.IPv4Unicast
		bits := 32
		if ip.Is6() && !ip.Is4In6() {
			af, bits = &r.IPv6Unicast, 128
		}
		if *af == nil {
			*af = &frr.UnicastAF{Neighbors: []frr.AFNeighbor{{Name: bgpGroup, SoftReconfigurationInbound: true, RouteMapIn: c.RouteMapIn, RouteMapOut: c.RouteMapOut}}}
		}
		if c.Loopback != "" {
			(*af).Networks = append((*af).Networks, netip.PrefixFrom(ip.Unmap(), bits))
		}
	}
	if c.Loopback != "" {
		// Routes learned over BGP get the loopback as kernel source address.
		if x.FRR.PrefixLists == nil {
			x.FRR.PrefixLists = map[string][]frr.PrefixListRule{}
		}
		x.FRR.PrefixLists[loopbacksIPs] = []frr.PrefixListRule{{Seq: 10, Action: "permit", Network: netip.MustParsePrefix("0.0.0.0/0"), LE: 32}}
		if x.FRR.ProtocolRouteMaps == nil {
			x.FRR.ProtocolRouteMaps = map[string]frr.ProtocolRouteMap{}
		}
		pr := x.FRR.ProtocolRouteMaps["bgp"]
		pr.V4 = correctSrc
		x.FRR.ProtocolRouteMaps["bgp"] = pr
		x.FRR.AddRouteMap(correctSrc, frr.RouteMapEntry{
			Seq:     1,
			Action:  "permit",
			Matches: []frr.KV{{Key: "ip address prefix-list", Value: loopbacksIPs}},
			Sets:    []frr.KV{{Key: "src", Value: ip.Unmap().String()}},
		})
	}
	return nil
}

// Zone adds nothing: the bgp controller has no per-zone configuration.
func (BGP) Zone(*Context, *config.Zone, *config.Controller) error { return nil }

// VNet adds nothing.
func (BGP) VNet(*Context, *config.VNet, *config.Zone, *config.Controller) error { return nil }

// Name implements config.ControllerType.
func (BGP) Name() string { return "bgp" }

// Keys implements config.ControllerType (Controllers/BgpPlugin.pm options()).
func (BGP) Keys() []string {
	return []string{"node", "asn", "peers", "bgp-multipath-as-path-relax", "ebgp", "ebgp-multihop", "loopback", "route-map-in", "route-map-out"}
}

// Decode implements config.ControllerType.
func (BGP) Decode(d *config.Decoder, ct *config.Controller) {
	decodeASN(d, ct)
	decodeRouteMaps(d, ct)
	d.Require("peers", "")
	ct.Peers = d.IPs("peers")
	ct.EBGP = d.Bool("ebgp")
	ct.EBGPMultihop = int(d.Int("ebgp-multihop", 1, 255))
	ct.BGPMultipathAsPathRelax = d.Bool("bgp-multipath-as-path-relax")
	decodeNode(d, ct)
}

// Validate implements config.ControllerType: one bgp controller per node.
func (BGP) Validate(c *config.Config, ct *config.Controller, errs *config.ErrorList) {
	validateOnePerNode(c, ct, errs)
}
