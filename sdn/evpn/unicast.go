package evpn

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// IPv4/IPv6 unicast routes received from the bgp controller's peers are
// installed into the node namespace's main table as zebra does for bgpd:
// protocol bgp, metric 20, the best path plus every path equal to it as
// FRR's multipath rules say (ECMP), recursive next hops resolved through
// the kernel's own routes. A prefix that any other protocol already holds
// (connected, kernel, static: all have a better administrative distance
// than BGP) is left alone.

// ucPath is one received unicast path, with what multipath needs.
type ucPath struct {
	nexthop   netip.Addr
	peer      string
	ebgp      bool
	best      bool
	localPref uint32
	med       uint32
	origin    uint8
	asPath    string // canonical text, for "identical AS path"
	asLen     int
	firstAS   uint32
}

// refreshUnicast re-reads GoBGP's ipv4/ipv6 unicast tables (all paths per
// prefix, not only the best one that WatchEvent reports).
func (a *Agent) refreshUnicast() {
	a.ucDirty = false
	if a.bgp == nil {
		return
	}
	dests := map[netip.Prefix][]ucPath{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, fam := range []*api.Family{familyV4, familyV6} {
		err := a.bgp.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: fam}, func(d *api.Destination) {
			var paths []ucPath
			var pfx netip.Prefix
			localBest := false
			for _, p := range d.Paths {
				if p.IsWithdraw || p.Filtered {
					continue
				}
				if a.guard != nil {
					p.NeighborIp = a.guard.Real(p.NeighborIp)
				}
				pf, up, ok := decodeUnicast(p, a.cfg.ASN)
				if !ok {
					continue
				}
				pfx = pf
				if up.peer == "" {
					localBest = localBest || p.Best // our own network: nothing to install
					continue
				}
				paths = append(paths, up)
			}
			if !localBest && len(paths) > 0 {
				dests[pfx] = paths
			}
		})
		if err != nil && !strings.Contains(err.Error(), "not supported") {
			a.log.Warn("list unicast paths", "family", fam, "err", err)
		}
	}
	a.ucDests = dests
}

// decodeUnicast reads one unicast path; ok is false when it is not one.
func decodeUnicast(p *api.Path, localAS uint32) (netip.Prefix, ucPath, bool) {
	var up ucPath
	n, err := apiutil.GetNativeNlri(p)
	if err != nil {
		return netip.Prefix{}, up, false
	}
	var pfx netip.Prefix
	switch n := n.(type) {
	case *bgp.IPAddrPrefix:
		pfx = netip.PrefixFrom(addrFrom(n.Prefix), int(n.Length)).Masked()
	case *bgp.IPv6AddrPrefix:
		pfx = netip.PrefixFrom(addrFrom(n.Prefix), int(n.Length)).Masked()
	default:
		return pfx, up, false
	}
	if nip, err := netip.ParseAddr(p.NeighborIp); err == nil && !nip.IsUnspecified() {
		up.peer = nip.String()
	}
	up.best = p.Best
	up.ebgp = p.SourceAsn != localAS
	up.localPref = 100
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return pfx, up, false
	}
	for _, at := range attrs {
		switch at := at.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			up.nexthop = addrFrom(at.Nexthop)
		case *bgp.PathAttributeNextHop:
			if !up.nexthop.IsValid() {
				up.nexthop = addrFrom(at.Value)
			}
		case *bgp.PathAttributeLocalPref:
			up.localPref = at.Value
		case *bgp.PathAttributeMultiExitDisc:
			up.med = at.Value
		case *bgp.PathAttributeOrigin:
			up.origin = at.Value
		case *bgp.PathAttributeAsPath:
			var parts []string
			for _, seg := range at.Value {
				ases := seg.GetAS()
				switch seg.GetType() {
				case bgp.BGP_ASPATH_ATTR_TYPE_SET:
					up.asLen++ // a set counts as one (RFC 4271 9.1.2.2)
				case bgp.BGP_ASPATH_ATTR_TYPE_SEQ:
					up.asLen += len(ases)
				}
				if up.firstAS == 0 && len(ases) > 0 {
					up.firstAS = ases[0]
				}
				parts = append(parts, seg.String())
			}
			up.asPath = strings.Join(parts, " ")
		}
	}
	return pfx, up, true
}

// multipath returns the next hops FRR installs for one prefix: the best
// path's, and those of paths equal to it up to the multipath check (local
// preference, AS path length, origin, MED from the same neighbour AS, both
// eBGP or both iBGP; for eBGP the same AS path unless `bgp bestpath
// as-path multipath-relax`). FRR's default maximum-paths is 64.
func multipath(paths []ucPath, relax bool) []netip.Addr {
	var best *ucPath
	for i := range paths {
		if paths[i].best {
			best = &paths[i]
		}
	}
	if best == nil || !best.nexthop.IsValid() {
		return nil
	}
	hops := map[netip.Addr]bool{best.nexthop: true}
	for _, p := range paths {
		if p.best || !p.nexthop.IsValid() || len(hops) >= 64 {
			continue
		}
		if p.localPref != best.localPref || p.asLen != best.asLen || p.origin != best.origin || p.ebgp != best.ebgp {
			continue
		}
		if p.firstAS == best.firstAS && p.med != best.med {
			continue
		}
		if p.ebgp && !relax && p.asPath != best.asPath {
			continue
		}
		hops[p.nexthop] = true
	}
	return sortedAddrs(hops)
}

// planUnicast puts the main-table routes the unicast RIB asks for, and
// our `network` announcements, into d.
func (a *Agent) planUnicast(d *desiredState) {
	h := a.handles[""]
	if h == nil {
		return
	}
	if len(a.cfg.Networks) == 0 && len(a.ucDests) == 0 {
		return
	}
	// One dump of the main table serves both the import check and the
	// administrative-distance check.
	foreign := a.foreignRoutes(h)
	if len(a.cfg.Networks) > 0 {
		present := a.connectedPrefixes(h, foreign)
		for _, p := range a.cfg.Networks {
			// FRR's import check: a network is announced only while the
			// routing table holds it (an address, connected or other route).
			if present[p.Masked()] {
				d.advertise(&Route{Type: TypeUnicast, Prefix: p.Masked()})
			}
		}
	}
	for pfx, paths := range a.ucDests {
		if foreign[pfx] {
			continue // a better administrative distance owns the prefix
		}
		var hops []ucHop
		for _, nh := range multipath(paths, a.cfg.MultipathRelax) {
			if hop, ok := a.resolveNexthop(h, pfx, nh); ok {
				hops = append(hops, hop)
			}
		}
		if len(hops) == 0 {
			continue // no usable next hop: FRR keeps the path but zebra installs nothing
		}
		d.put(&ucRouteObj{prefix: pfx, hops: hops})
	}
}

// connectedPrefixes are the prefixes that pass FRR's network import check:
// interface addresses (as connected and, since FRR 9, local host routes)
// and routes of other protocols in the main table (foreign).
func (a *Agent) connectedPrefixes(h *netlink.Handle, foreign map[netip.Prefix]bool) map[netip.Prefix]bool {
	out := map[netip.Prefix]bool{}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		a.log.Warn("list addresses", "err", err)
	}
	for _, ad := range addrs {
		ip := addrFrom(ad.IP)
		ones, _ := ad.Mask.Size()
		if !ip.IsValid() {
			continue
		}
		out[netip.PrefixFrom(ip, ones).Masked()] = true
		out[netip.PrefixFrom(ip, ip.BitLen())] = true
	}
	for p := range foreign {
		out[p] = true
	}
	return out
}

// foreignRoutes are the main-table prefixes held by routes that are not
// ours (protocol other than bgp).
func (a *Agent) foreignRoutes(h *netlink.Handle) map[netip.Prefix]bool {
	out := map[netip.Prefix]bool{}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		rs, err := h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			a.log.Warn("list routes", "err", err)
			continue
		}
		for _, r := range rs {
			if r.Protocol == unix.RTPROT_BGP {
				continue
			}
			out[routeDst(r, fam)] = true
		}
	}
	return out
}

func routeDst(r netlink.Route, fam int) netip.Prefix {
	if r.Dst == nil {
		if fam == unix.AF_INET6 {
			return netip.MustParsePrefix("::/0")
		}
		return netip.MustParsePrefix("0.0.0.0/0")
	}
	ip := addrFrom(r.Dst.IP)
	ones, _ := r.Dst.Mask.Size()
	return netip.PrefixFrom(ip, ones).Masked()
}

// resolveNexthop finds how the kernel reaches a BGP next hop: directly (the
// next hop is on a connected network) or through another route (an eBGP
// multihop or iBGP loopback next hop), as zebra's recursive resolution.
func (a *Agent) resolveNexthop(h *netlink.Handle, pfx netip.Prefix, nh netip.Addr) (ucHop, bool) {
	rs, err := h.RouteGet(net.IP(nh.AsSlice()))
	if err != nil || len(rs) == 0 {
		return ucHop{}, false
	}
	r := rs[0]
	if r.Type == unix.RTN_LOCAL || r.LinkIndex == 0 {
		return ucHop{}, false // our own address, or unreachable
	}
	hop := ucHop{gw: nh, link: r.LinkIndex}
	if r.Gw != nil {
		gw := addrFrom(r.Gw)
		if pfx.Contains(gw) {
			return ucHop{}, false // would resolve through the route itself
		}
		hop.gw = gw
	}
	if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
		hop.dev = l.Attrs().Name
	}
	return hop, true
}

// ucHop is one resolved next hop of a main-table route.
type ucHop struct {
	gw   netip.Addr
	link int
	dev  string
}

// ucRouteObj is a BGP route in the node namespace's main table.
type ucRouteObj struct {
	prefix netip.Prefix
	hops   []ucHop // in next-hop order
}

func (o *ucRouteObj) kind() string { return "uroute" }
func (o *ucRouteObj) ns() string   { return "" }
func (o *ucRouteObj) key() string  { return "uroute|" + o.prefix.String() }
func (o *ucRouteObj) spec() string { return fmt.Sprintf("%s|%v", o.key(), o.hops) }
func (o *ucRouteObj) route() *netlink.Route {
	dst := &net.IPNet{IP: net.IP(o.prefix.Addr().AsSlice()), Mask: net.CIDRMask(o.prefix.Bits(), o.prefix.Addr().BitLen())}
	r := &netlink.Route{Dst: dst, Protocol: unix.RTPROT_BGP, Priority: routeMetric, Table: unix.RT_TABLE_MAIN,
		Family: unix.AF_INET}
	if o.prefix.Addr().Is6() {
		r.Family = unix.AF_INET6
	}
	if len(o.hops) == 1 {
		r.Gw, r.LinkIndex = net.IP(o.hops[0].gw.AsSlice()), o.hops[0].link
		return r
	}
	for _, hp := range o.hops {
		r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{LinkIndex: hp.link, Gw: net.IP(hp.gw.AsSlice())})
	}
	return r
}
func (o *ucRouteObj) add(h *netlink.Handle) error {
	if err := h.RouteReplace(o.route()); err != nil {
		return fmt.Errorf("route %s: %w", o.prefix, err)
	}
	return nil
}
func (o *ucRouteObj) del(h *netlink.Handle) error {
	r := o.route()
	return ignoreNotFound(h.RouteDel(&netlink.Route{Dst: r.Dst, Family: r.Family, Protocol: r.Protocol,
		Priority: r.Priority, Table: r.Table}))
}
func (o *ucRouteObj) view() KernelEntry {
	e := KernelEntry{Kind: "route", Prefix: o.prefix.String()}
	devs := map[string]bool{}
	for _, hp := range o.hops {
		e.NextHop = append(e.NextHop, hp.gw.String())
		if !devs[hp.dev] {
			devs[hp.dev] = true
			if e.Dev != "" {
				e.Dev += ","
			}
			e.Dev += hp.dev
		}
	}
	return e
}

// adoptUnicast records main-table BGP routes an earlier run left behind.
func (a *Agent) adoptUnicast(adopt func(kobj)) {
	h := a.handles[""]
	for _, z := range a.l3 {
		if z.Netns == "" {
			return // the VRF routes share this table: adopted as VRF routes
		}
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		rs, err := h.RouteListFiltered(fam, &netlink.Route{Protocol: unix.RTPROT_BGP, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			continue
		}
		for _, r := range rs {
			o := &ucRouteObj{prefix: routeDst(r, fam)}
			if r.Gw != nil {
				o.hops = append(o.hops, ucHop{gw: addrFrom(r.Gw), link: r.LinkIndex})
			}
			for _, m := range r.MultiPath {
				o.hops = append(o.hops, ucHop{gw: addrFrom(m.Gw), link: m.LinkIndex})
			}
			adopt(o)
		}
	}
}

// unicastPeers tells whether any neighbour carries ipv4 or ipv6 unicast.
func (a *Agent) unicastPeers() bool {
	for _, n := range a.cfg.Neighbors {
		if slices.Contains(n.Families, FamilyIPv4) || slices.Contains(n.Families, FamilyIPv6) {
			return true
		}
	}
	return false
}

// watchUnicast marks the unicast paths for a re-read on every received
// unicast update: a second equal path does not change the best one, so the
// best-path watch alone would miss a new ECMP member.
func (a *Agent) watchUnicast(ctx context.Context, send func(any)) error {
	err := a.bgp.WatchEvent(ctx, &api.WatchEventRequest{Table: &api.WatchEventRequest_Table{
		Filters: []*api.WatchEventRequest_Table_Filter{{Type: api.WatchEventRequest_Table_Filter_ADJIN}},
	}}, func(r *api.WatchEventResponse) {
		t, ok := r.Event.(*api.WatchEventResponse_Table)
		if !ok {
			return
		}
		for _, p := range t.Table.Paths {
			if f := p.Family; f != nil && f.Safi == api.Family_SAFI_UNICAST {
				send(evUnicast{})
				return
			}
		}
	})
	if err != nil {
		return fmt.Errorf("watch bgp unicast: %w", err)
	}
	return nil
}
