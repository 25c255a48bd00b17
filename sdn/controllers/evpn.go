package controllers

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/fabrics"
	"github.com/sdnlab/sdnlab/sdn/frr"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// EVPN is the evpn controller: an MP-BGP l2vpn evpn session mesh between
// the VTEPs (peer group "VTEP"), and one BGP instance per EVPN zone's VRF.
type EVPN struct{}

// Route-maps and prefix-lists the evpn controller generates.
const (
	mapVTEPIn      = "MAP_VTEP_IN"
	mapVTEPOut     = "MAP_VTEP_OUT"
	onlyDefault    = "only_default"
	onlyDefaultV6  = "only_default_v6"
	vtepGroup      = "VTEP"
	exitNodeMetric = "200"
)

// underlay is how the node reaches the other VTEPs.
type underlay struct {
	peers    []netip.Addr // every VTEP, this node possibly included
	loopback string       // update-source interface, "" none
	localIP  netip.Addr
	routerID netip.Addr
}

// underlayResult is one memoized evpnUnderlay answer.
type underlayResult struct {
	u   underlay
	ok  bool
	err error
}

// evpnUnderlay returns the underlay of evpn controller c on this node,
// deriving it (deriveUnderlay) once per controller.
func evpnUnderlay(x *Context, c *config.Controller) (underlay, bool, error) {
	if r, done := x.underlays[c.ID]; done {
		return r.u, r.ok, r.err
	}
	u, ok, err := deriveUnderlay(x, c)
	if x.underlays == nil {
		x.underlays = map[string]underlayResult{}
	}
	x.underlays[c.ID] = underlayResult{u, ok, err}
	return u, ok, err
}

// deriveUnderlay derives the peers, update-source and local address of an
// evpn controller on this node: from its fabric (the fabric nodes' router
// IPs, update-source dummy_<fabric>) or from its peers list (update-source
// the loopback of the node's bgp controller, else of its isis controller).
// ok is false when Proxmox would skip the controller with a warning.
func deriveUnderlay(x *Context, c *config.Controller) (u underlay, ok bool, err error) {
	switch {
	case c.Fabric != "":
		f := x.Cfg.Fabrics[c.Fabric]
		if f == nil {
			x.notef("evpn controller %s: fabric %s does not exist; no EVPN configuration", c.ID, c.Fabric)
			return u, false, nil
		}
		self := f.Nodes[x.In.Node]
		if self == nil {
			x.notef("evpn controller %s: node %s is not in fabric %s; no EVPN configuration", c.ID, x.In.Node, f.ID)
			return u, false, nil
		}
		if !self.IP.IsValid() {
			x.notef("evpn controller %s: node %s needs an IPv4 address in fabric %s; no EVPN configuration", c.ID, x.In.Node, f.ID)
			return u, false, nil
		}
		u.peers = f.NodeIPs()
		u.loopback = fabrics.DummyName(f.ID)
		u.localIP, u.routerID = self.IP, self.IP
		return u, true, nil
	case len(c.Peers) > 0:
		u.peers = c.Peers
		if b := nodeController(x.Cfg, "bgp", x.In.Node); b != nil {
			u.loopback = b.Loopback
		} else if i := nodeController(x.Cfg, "isis", x.In.Node); i != nil {
			u.loopback = i.Loopback
		}
		ip, err := localIP(x, c, u.peers, u.loopback)
		if err != nil {
			return u, false, err
		}
		u.localIP = ip
		if u.routerID, err = routerID(ip, x.In.UnderlayMAC); err != nil {
			return u, false, err
		}
		return u, true, nil
	default:
		x.notef("evpn controller %s: neither fabric nor peers configured; no EVPN configuration", c.ID)
		return u, false, nil
	}
}

// evpnASN returns the ASN the node's BGP runs with and, for eBGP (the
// node's bgp controller has another ASN), the AS of the auto route targets.
func evpnASN(x *Context, c *config.Controller) (asn uint32, ebgp bool, autoRTAS uint32) {
	asn = c.ASN
	if b := nodeController(x.Cfg, "bgp", x.In.Node); b != nil {
		ebgp = c.ASN != b.ASN
		if b.ASN != 0 {
			asn = b.ASN
		}
		if ebgp {
			autoRTAS = c.ASN
		}
	}
	return asn, ebgp, autoRTAS
}

// Generate adds the VTEP peer group and the l2vpn evpn address family.
func (EVPN) Generate(x *Context, c *config.Controller) error {
	u, ok, err := evpnUnderlay(x, c)
	if !ok {
		return err
	}
	asn, ebgp, autoRTAS := evpnASN(x, c)
	if asn == 0 || !u.routerID.IsValid() {
		return nil
	}
	r := defaultRouter(x.FRR, func(r *frr.BGPRouter) {
		r.ASN = asn
		r.RouterID = u.routerID
		r.NoDefaultIPv4Unicast = true
		r.NoHardAdministrativeReset = true
		r.NoGracefulRestartNotification = true
		r.CoalesceTime = 1000
	})
	g := frr.NeighborGroup{
		Name:         vtepGroup,
		BFD:          true,
		RemoteAS:     strconv.FormatUint(uint64(asn), 10),
		Peers:        without(u.peers, u.localIP),
		UpdateSource: u.loopback,
	}
	if ebgp {
		g.RemoteAS = frr.RemoteASExternal
		if u.loopback != "" {
			g.EBGPMultihop = 10
		}
	}
	r.NeighborGroups = append(r.NeighborGroups, g)
	if r.L2VPNEVPN == nil {
		// A controller's own route maps take the VTEP peers' slots; the
		// generated MAP_VTEP_* maps stay defined.
		in, out := mapVTEPIn, mapVTEPOut
		if c.RouteMapIn != "" {
			in = c.RouteMapIn
		}
		if c.RouteMapOut != "" {
			out = c.RouteMapOut
		}
		r.L2VPNEVPN = &frr.EVPNAF{
			Neighbors:       []frr.AFNeighbor{{Name: vtepGroup, RouteMapIn: in, RouteMapOut: out}},
			AdvertiseAllVNI: true,
		}
	}
	if autoRTAS != 0 {
		r.L2VPNEVPN.AutoRTAS = autoRTAS
	}
	x.FRR.AddRouteMap(mapVTEPIn, frr.RouteMapEntry{Seq: 1, Action: "permit"})
	x.FRR.AddRouteMap(mapVTEPOut, frr.RouteMapEntry{Seq: 1, Action: "permit"})
	return nil
}

// Zone adds the zone's VRF (L3VNI), its BGP instance and, on exit nodes,
// the default route announcement and the filters around it.
func (EVPN) Zone(x *Context, z *config.Zone, c *config.Controller) error {
	u, ok, err := evpnUnderlay(x, c)
	if !ok {
		return err
	}
	asn, _, autoRTAS := evpnASN(x, c)
	if z.VrfVxlan == 0 || asn == 0 {
		return nil
	}
	vrf := plan.EVPNVRF(z.ID)
	node := x.In.Node
	exit := slices.Contains(z.ExitNodes, node)
	f := x.FRR

	if f.BGP.Routers == nil {
		f.BGP.Routers = map[string]*frr.BGPRouter{}
	}
	// The VRF instance is (re)built from scratch, as Proxmox does.
	vr := &frr.BGPRouter{
		ASN:                           asn,
		RouterID:                      u.routerID,
		NoHardAdministrativeReset:     true,
		NoGracefulRestartNotification: true,
	}
	f.BGP.Routers[vrf] = vr
	if f.BGP.VRFs == nil {
		f.BGP.VRFs = map[string]*frr.VRF{}
	}
	v := f.BGP.VRFs[vrf]
	if v == nil {
		v = &frr.VRF{}
		f.BGP.VRFs[vrf] = v
	}
	v.VNI = z.VrfVxlan
	v.IPRoutes = nil
	if exit {
		// Null routes for the other zones' subnets, so that traffic between
		// zones is not routed through the exit node.
		v.IPRoutes = otherZoneNullRoutes(x.Cfg, z.ID)
	}

	if autoRTAS != 0 {
		rt := fmt.Sprintf("%d:%d", autoRTAS, z.VrfVxlan)
		vr.L2VPNEVPN = &frr.EVPNAF{RouteTargets: &frr.RouteTargets{Import: []string{rt}, Export: []string{rt}}}
	}

	if exit {
		if f.PrefixLists == nil {
			f.PrefixLists = map[string][]frr.PrefixListRule{}
		}
		if _, ok := f.PrefixLists[onlyDefault]; !ok {
			f.PrefixLists[onlyDefault] = []frr.PrefixListRule{{Seq: 1, Action: "permit", Network: netip.MustParsePrefix("0.0.0.0/0")}}
		}
		if _, ok := f.PrefixLists[onlyDefaultV6]; !ok {
			f.PrefixLists[onlyDefaultV6] = []frr.PrefixListRule{{Seq: 1, Action: "permit", Network: netip.MustParsePrefix("::/0")}}
		}
		v4 := frr.KV{Key: "ip address prefix-list", Value: onlyDefault}
		v6 := frr.KV{Key: "ipv6 address prefix-list", Value: onlyDefaultV6}
		if z.ExitNodesPrimary == "" || z.ExitNodesPrimary == node {
			// The primary ignores the default routes of the other exit nodes.
			f.PrependRouteMap(mapVTEPIn, frr.RouteMapEntry{Seq: 1, Action: "deny", Matches: []frr.KV{v6}})
			f.PrependRouteMap(mapVTEPIn, frr.RouteMapEntry{Seq: 1, Action: "deny", Matches: []frr.KV{v4}})
		} else {
			// A secondary announces its default route with a worse metric.
			metric := []frr.KV{{Key: "metric", Value: exitNodeMetric}}
			f.PrependRouteMap(mapVTEPOut, frr.RouteMapEntry{Seq: 1, Action: "permit", Matches: []frr.KV{v6}, Sets: metric})
			f.PrependRouteMap(mapVTEPOut, frr.RouteMapEntry{Seq: 1, Action: "permit", Matches: []frr.KV{v4}, Sets: metric})
		}
		if !z.ExitNodesLocalRouting {
			// Leak the VRF's routes into the default instance, and the
			// VRF's connected networks into BGP.
			if main := f.BGP.Routers[frr.DefaultVRF]; main != nil {
				if main.IPv4Unicast == nil {
					main.IPv4Unicast = &frr.UnicastAF{}
				}
				main.IPv4Unicast.ImportVRF = append(main.IPv4Unicast.ImportVRF, vrf)
				if main.IPv6Unicast == nil {
					main.IPv6Unicast = &frr.UnicastAF{}
				}
				main.IPv6Unicast.ImportVRF = append(main.IPv6Unicast.ImportVRF, vrf)
			}
			redistributeConnected(vr)
		}
		if vr.L2VPNEVPN == nil {
			vr.L2VPNEVPN = &frr.EVPNAF{}
		}
		vr.L2VPNEVPN.DefaultOriginate = []string{"ipv4", "ipv6"}
	} else if z.AdvertiseSubnets {
		redistributeConnected(vr)
		if vr.L2VPNEVPN == nil {
			vr.L2VPNEVPN = &frr.EVPNAF{}
		}
		vr.L2VPNEVPN.AdvertiseIPv4Unicast = true
		vr.L2VPNEVPN.AdvertiseIPv6Unicast = true
	}

	if len(z.RTImport) > 0 {
		if vr.L2VPNEVPN == nil {
			vr.L2VPNEVPN = &frr.EVPNAF{}
		}
		if vr.L2VPNEVPN.RouteTargets == nil {
			vr.L2VPNEVPN.RouteTargets = &frr.RouteTargets{}
		}
		vr.L2VPNEVPN.RouteTargets.Import = append(vr.L2VPNEVPN.RouteTargets.Import, z.RTImport...)
	}
	return nil
}

// redistributeConnected makes the VRF instance announce its connected
// networks.
func redistributeConnected(vr *frr.BGPRouter) {
	if vr.IPv4Unicast == nil {
		vr.IPv4Unicast = &frr.UnicastAF{}
	}
	vr.IPv4Unicast.Redistribute = append(vr.IPv4Unicast.Redistribute, frr.Redistribution{Protocol: "connected"})
	if vr.IPv6Unicast == nil {
		vr.IPv6Unicast = &frr.UnicastAF{}
	}
	vr.IPv6Unicast.Redistribute = append(vr.IPv6Unicast.Redistribute, frr.Redistribution{Protocol: "connected"})
}

// otherZoneNullRoutes lists a null route for every subnet (attached to a
// VNet) of every other zone, one per network address (the last subnet in
// ID order decides the length), ordered by address as a number, IPv4
// before IPv6 as Proxmox orders them.
func otherZoneNullRoutes(cfg *config.Config, zone string) []frr.IPRoute {
	bits := map[netip.Addr]int{}
	for _, s := range cfg.SortedSubnets() {
		if s.VNet == "" || s.Zone == zone || !s.Prefix.IsValid() {
			continue
		}
		bits[s.Prefix.Addr()] = s.Prefix.Bits()
	}
	addrs := make([]netip.Addr, 0, len(bits))
	for a := range bits {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int {
		ka, kb := numericKey(a), numericKey(b)
		if c := bytes.Compare(ka[:], kb[:]); c != 0 {
			return c
		}
		return a.Compare(b)
	})
	routes := make([]frr.IPRoute, 0, len(addrs))
	for _, a := range addrs {
		routes = append(routes, frr.IPRoute{Prefix: netip.PrefixFrom(a, bits[a]), Via: "null0"})
	}
	return routes
}

// numericKey is the address as a 128-bit big-endian integer, an IPv4
// address being a small number (not v4-mapped), so IPv4 sorts first.
func numericKey(a netip.Addr) [16]byte {
	if a.Is4() {
		var k [16]byte
		b := a.As4()
		copy(k[12:], b[:])
		return k
	}
	return a.As16()
}

// VNet adds, on an exit node of a zone with exitnodes-local-routing, a
// route for each subnet of the VNet into the zone's VRF over the xvrf
// veth pair.
func (EVPN) VNet(x *Context, v *config.VNet, z *config.Zone, c *config.Controller) error {
	if !z.ExitNodesLocalRouting || !slices.Contains(z.ExitNodes, x.In.Node) {
		return nil
	}
	xvrf, _ := plan.XVRFNames(z.ID)
	for _, s := range x.Cfg.SubnetsOfVNet(v.ID) {
		if !s.Prefix.IsValid() {
			continue
		}
		via := plan.XVRFPeerAddr4.Addr()
		if s.Prefix.Addr().Is6() {
			via = plan.XVRFPeerAddr6.Addr()
		}
		x.FRR.IPRoutes = append(x.FRR.IPRoutes, frr.IPRoute{Prefix: s.Prefix, Via: via.String(), VRF: xvrf})
	}
	return nil
}

// Name implements config.ControllerType.
func (EVPN) Name() string { return "evpn" }

// Keys implements config.ControllerType (Controllers/EvpnPlugin.pm options()).
func (EVPN) Keys() []string {
	return []string{"asn", "peers", "fabric", "route-map-in", "route-map-out"}
}

// Decode implements config.ControllerType: the ASN and the VTEPs (peers or
// a fabric).
func (EVPN) Decode(d *config.Decoder, ct *config.Controller) {
	decodeASN(d, ct)
	decodeRouteMaps(d, ct)
	ct.Peers, ct.Fabric = d.PeersOrFabric()
}

// Validate implements config.ControllerType: only one evpn controller, and
// its fabric must exist.
func (EVPN) Validate(c *config.Config, ct *config.Controller, errs *config.ErrorList) {
	for _, o := range c.ControllersInFileOrder() {
		if o == ct {
			break
		}
		if o.Type == ct.Type {
			errs.Errorf(ct.Pos, "", "only one evpn controller can be defined (%s is already at line %d)", o.ID, o.Pos.Line)
			break
		}
	}
	if ct.Fabric != "" {
		if _, ok := c.Fabrics[ct.Fabric]; !ok {
			errs.Errorf(config.PropPos(ct.Props, "fabric", ct.Pos), "fabric", "fabric %q is not defined in fabrics.cfg", ct.Fabric)
		}
	}
}
