package topology

// Resolution of the underlay: segments and their addresses, routers,
// the upstream and static routes.

import (
	"net/netip"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/config"
)

func (r *resolver) segments() {
	s := r.s
	seen := map[string]bool{}
	for _, ss := range s.Segments {
		if !thingNameRE.MatchString(ss.Name.V) || len(ss.Name.V) > 12 {
			r.errf(ss.Name.Pos, "underlay.segments", "%q: a segment name is 1-12 letters, digits, '-' or '_'", ss.Name.V)
			continue
		}
		if ss.Name.V == externalSegmentName {
			r.errf(ss.Name.Pos, "underlay.segments", "%q is reserved for the network behind the upstream router", ss.Name.V)
			continue
		}
		if seen[ss.Name.V] {
			r.errf(ss.Name.Pos, "underlay.segments", "segment %q defined twice", ss.Name.V)
			continue
		}
		seen[ss.Name.V] = true
		seg := &Segment{Name: ss.Name.V, MTU: DefaultMTU, pos: ss.Name.Pos}
		if ss.MTU.Set {
			seg.MTU = ss.MTU.V
			seg.pos = ss.MTU.Pos
		}
		f := "underlay.segments." + ss.Name.V
		for _, sub := range []str{ss.Subnet, ss.Subnet6} {
			if !sub.Set {
				continue
			}
			pf, err := netip.ParsePrefix(sub.V)
			if err != nil {
				r.errf(sub.Pos, f+".subnet", "%q is not a prefix", sub.V)
				continue
			}
			if pf.Masked() != pf {
				r.errf(sub.Pos, f+".subnet", "%q has host bits set (did you mean %s?)", sub.V, pf.Masked())
				continue
			}
			if pf.Addr().Is4() {
				if seg.Subnet4.IsValid() {
					r.errf(sub.Pos, f+".subnet", "two IPv4 subnets")
				}
				seg.Subnet4 = pf
			} else {
				if seg.Subnet6.IsValid() {
					r.errf(sub.Pos, f+".subnet6", "two IPv6 subnets")
				}
				seg.Subnet6 = pf
			}
		}
		if !seg.Subnet4.IsValid() && !seg.Subnet6.IsValid() {
			r.errf(ss.Name.Pos, f+".subnet", "missing")
		}
		if seg.Subnet6.IsValid() && seg.MTU < minMTU6 {
			r.errf(seg.pos, f+".mtu", "MTU %d is below 1280, the IPv6 minimum, but the segment has subnet6 %s (the kernel refuses IPv6 addresses on such a link)", seg.MTU, seg.Subnet6)
		}
		r.lab.Segments = append(r.lab.Segments, seg)
	}
	if len(s.Segments) == 0 {
		// One segment; its subnet comes from the first node address given,
		// else from the configuration's peers, else a private default.
		seg := &Segment{Name: defaultSegment, MTU: DefaultMTU, Subnet4: defaultUnderlay, pos: r.rootPos()}
		found := false
		for _, n := range s.Nodes {
			if n.Addresses.Set && len(n.Addresses.V) > 0 && n.Addresses.V[0].Bits() < n.Addresses.V[0].Addr().BitLen() {
				seg.setSubnet(n.Addresses.V[0].Masked())
				found = true
				break
			}
		}
		if peers := r.configPeers(); !found && len(peers) > 0 {
			bits := 24
			if peers[0].Is6() {
				bits = 64
			}
			pf, _ := peers[0].Prefix(bits)
			seg.setSubnet(pf)
		}
		r.lab.Segments = append(r.lab.Segments, seg)
	}
	// Overlapping subnets make routing ambiguous.
	segs := r.lab.Segments
	for i := range segs {
		for j := i + 1; j < len(segs); j++ {
			for _, pair := range [][2]netip.Prefix{{segs[i].Subnet4, segs[j].Subnet4}, {segs[i].Subnet6, segs[j].Subnet6}} {
				if pair[0].IsValid() && pair[1].IsValid() && pair[0].Overlaps(pair[1]) {
					r.errf(r.segSpecPos(segs[j].Name), "underlay.segments."+segs[j].Name+".subnet",
						"%s overlaps %s of segment %q", pair[1], pair[0], segs[i].Name)
				}
			}
		}
	}
	for _, seg := range r.lab.Segments {
		seg.NS = r.lab.Prefix() + "sw-" + seg.Name
		seg.Bridge = "br0"
	}
}

// setSubnet makes pf the segment's only subnet (replacing a default).
func (s *Segment) setSubnet(pf netip.Prefix) {
	if pf.Addr().Is4() {
		s.Subnet4, s.Subnet6 = pf, netip.Prefix{}
	} else {
		s.Subnet4, s.Subnet6 = netip.Prefix{}, pf
	}
}

func (r *resolver) segSpecPos(name string) config.Pos {
	for _, ss := range r.s.Segments {
		if ss.Name.V == name {
			if ss.Subnet.Set {
				return ss.Subnet.Pos
			}
			return ss.Name.Pos
		}
	}
	return r.rootPos()
}

// claim records an underlay address; a second user is an error.
func (r *resolver) claim(a netip.Addr, pos config.Pos, field string) {
	if p, ok := r.used[a]; ok {
		r.errf(pos, field, "address %s is already used at %s", a, p)
		return
	}
	r.used[a] = pos
}

// freeHost returns the first unused host address of pf counting from the
// bottom (fromTop false) or from the top.
func (r *resolver) freeHost(pf netip.Prefix, fromTop bool) (netip.Addr, bool) {
	if !pf.IsValid() {
		return netip.Addr{}, false
	}
	pf = pf.Masked()
	a := pf.Addr().Next() // skip the network address
	if fromTop {
		a = lastAddr(pf)
		if pf.Addr().Is4() && pf.Bits() < 31 {
			a = a.Prev() // skip broadcast
		}
	}
	for i := 0; i < 1<<16 && a.IsValid() && pf.Contains(a); i++ {
		if _, ok := r.used[a]; !ok {
			return a, true
		}
		if fromTop {
			a = a.Prev()
		} else {
			a = a.Next()
		}
	}
	return netip.Addr{}, false
}

func lastAddr(pf netip.Prefix) netip.Addr {
	b := pf.Masked().Addr().AsSlice()
	bits := pf.Bits()
	for i := range b {
		for k := 0; k < 8; k++ {
			if i*8+k >= bits {
				b[i] |= 0x80 >> k
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (r *resolver) segmentFor(name str, field string, fallback config.Pos) *Segment {
	if name.Set {
		if seg := r.lab.Segment(name.V); seg != nil && !seg.External {
			return seg
		}
		r.errf(name.Pos, field, "unknown segment %q", name.V)
		return nil
	}
	if len(r.s.Segments) > 1 {
		r.errf(fallback, field, "missing: the lab has several segments")
		return nil
	}
	return r.lab.Segments[0]
}

// addrIn assigns the given addresses (which must lie in the segment's
// subnets) or a default one, and claims them.
func (r *resolver) addrIn(seg *Segment, given prefixes, field string, pos config.Pos, preferred netip.Addr, fromTop bool) []netip.Prefix {
	var out []netip.Prefix
	if given.Set {
		for _, a := range given.V {
			sub := seg.Subnet4
			if a.Addr().Is6() {
				sub = seg.Subnet6
			}
			if !sub.IsValid() || !sub.Contains(a.Addr()) {
				r.errf(given.Pos, field, "%s is not in segment %q (%s)", a.Addr(), seg.Name, subnetsText(seg))
				continue
			}
			if a.Addr() == sub.Addr() {
				r.errf(given.Pos, field, "%s is the network address of %s", a.Addr(), sub)
				continue
			}
			r.claim(a.Addr(), given.Pos, field)
			out = append(out, netip.PrefixFrom(a.Addr(), sub.Bits()))
		}
		return out
	}
	for _, sub := range []netip.Prefix{seg.Subnet4, seg.Subnet6} {
		if !sub.IsValid() {
			continue
		}
		a := netip.Addr{}
		if preferred.IsValid() && sub.Contains(preferred) {
			if _, taken := r.used[preferred]; !taken {
				a = preferred
			}
		}
		if !a.IsValid() {
			var ok bool
			if a, ok = r.freeHost(sub, fromTop); !ok {
				r.errf(pos, field, "segment %q has no free address left in %s", seg.Name, sub)
				continue
			}
		}
		r.claim(a, pos, field)
		out = append(out, netip.PrefixFrom(a, sub.Bits()))
	}
	return out
}

func subnetsText(seg *Segment) string {
	var l []string
	for _, p := range []netip.Prefix{seg.Subnet4, seg.Subnet6} {
		if p.IsValid() {
			l = append(l, p.String())
		}
	}
	return strings.Join(l, ", ")
}

func (r *resolver) routers() {
	seen := map[string]bool{}
	for _, rs := range r.s.Routers {
		f := "underlay.routers." + rs.Name.V
		if !r.newName(seen, rs.Name, "underlay.routers", "%q is not a valid name", "router %q defined twice") {
			continue
		}
		rt := &Router{Name: rs.Name.V, NS: r.lab.Prefix() + rs.Name.V, Routing: "static", pos: rs.Name.Pos,
			reflectorSpec: rs.Reflector, engineSpec: rs.Engine}
		if rs.Routing.Set {
			switch rs.Routing.V {
			case "static", "bgp":
				rt.Routing = rs.Routing.V
			default:
				r.errf(rs.Routing.Pos, f+".routing", "%q: expected static or bgp", rs.Routing.V)
			}
		}
		if rs.ASN.Set {
			if rt.Routing != "bgp" {
				r.errf(rs.ASN.Pos, f+".asn", "only a router with routing: bgp has an AS number")
			}
			rt.ASN = uint32(rs.ASN.V)
		}
		if len(rs.Ifaces) == 0 {
			r.errf(rs.Name.Pos, f+".interfaces", "a router joins at least one segment")
		}
		segSeen := map[string]bool{}
		for _, ri := range rs.Ifaces {
			ff := f + ".interfaces." + ri.Segment.V
			seg := r.lab.Segment(ri.Segment.V)
			if seg == nil || seg.External {
				r.errf(ri.Segment.Pos, ff, "unknown segment %q", ri.Segment.V)
				continue
			}
			if segSeen[seg.Name] {
				r.errf(ri.Segment.Pos, ff, "router joins segment %q twice", seg.Name)
				continue
			}
			segSeen[seg.Name] = true
			addrs := r.addrIn(seg, ri.Address, ff+".address", ri.Segment.Pos, netip.Addr{}, true)
			rt.Links = append(rt.Links, Link{
				Segment: seg.Name, Ifname: seg.Name, Addrs: addrs,
				RPFilter: rpFilter(ri.RPFilter, ff+".rp_filter", r),
			})
		}
		r.lab.Routers = append(r.lab.Routers, rt)
	}
}

// exitNodes lists the exit nodes of every EVPN zone, in zone order.
func (r *resolver) exitNodes() []string {
	if r.cfg == nil {
		return nil
	}
	var out []string
	for _, z := range r.cfg.SortedZones() {
		out = append(out, z.ExitNodes...)
	}
	return out
}

func (r *resolver) upstream() {
	u := r.s.Upstream
	if u == nil && len(r.s.External) == 0 {
		return
	}
	if u == nil {
		u = &upstreamSpec{Pos: r.rootPos()}
	}
	rt := &Router{Name: defaultUpstreamName, Upstream: true, Routing: "static", pos: u.Pos}
	if u.Name.Set {
		if !thingNameRE.MatchString(u.Name.V) {
			r.errf(u.Name.Pos, "upstream.name", "%q is not a valid name", u.Name.V)
		}
		rt.Name = u.Name.V
	}
	rt.NS = r.lab.Prefix() + rt.Name
	if u.Routing.Set {
		switch u.Routing.V {
		case "static", "bgp":
			rt.Routing = u.Routing.V
		default:
			r.errf(u.Routing.Pos, "upstream.routing", "%q: expected static or bgp", u.Routing.V)
		}
	}
	if u.ASN.Set {
		if rt.Routing != "bgp" {
			r.errf(u.ASN.Pos, "upstream.asn", "only an upstream with routing: bgp has an AS number")
		}
		rt.ASN = uint32(u.ASN.V)
	}
	// Where it sits: the segment of the first exit node, else of the first node.
	var seg *Segment
	if u.Segment.Set {
		seg = r.segmentFor(u.Segment, "upstream.segment", u.Pos)
	} else if len(r.lab.Nodes) > 0 {
		at := r.lab.Nodes[0]
		for _, en := range r.exitNodes() {
			if n := r.lab.Node(en); n != nil {
				at = n
				break
			}
		}
		seg = r.lab.Segment(at.Link.Segment)
	}
	if seg == nil {
		return
	}
	addrs := r.addrIn(seg, u.Address, "upstream.address", u.Pos, netip.Addr{}, true)
	rt.Links = append(rt.Links, Link{Segment: seg.Name, Ifname: seg.Name, Addrs: addrs, RPFilter: rpFilter(u.RPFilter, "upstream.rp_filter", r)})

	ext := &Segment{Name: externalSegmentName, MTU: DefaultMTU, Subnet4: defaultExternal, External: true, pos: u.Pos}
	ext.NS = r.lab.Prefix() + "sw-" + ext.Name
	ext.Bridge = "br0"
	if u.MTU.Set {
		ext.MTU = u.MTU.V
	}
	if u.Subnet.Set {
		pf, err := netip.ParsePrefix(u.Subnet.V)
		if err != nil || pf.Masked() != pf {
			r.errf(u.Subnet.Pos, "upstream.subnet", "%q is not a prefix without host bits", u.Subnet.V)
		} else {
			ext.setSubnet(pf)
		}
	}
	if u.Subnet6.Set {
		pf, err := netip.ParsePrefix(u.Subnet6.V)
		switch {
		case err != nil || pf.Masked() != pf || !pf.Addr().Is6():
			r.errf(u.Subnet6.Pos, "upstream.subnet6", "%q is not an IPv6 prefix without host bits", u.Subnet6.V)
		case u.Subnet.Set && ext.Subnet6.IsValid():
			r.errf(u.Subnet6.Pos, "upstream.subnet6", "upstream.subnet is already IPv6")
		default:
			ext.Subnet6 = pf
			if ext.MTU < minMTU6 {
				r.errf(u.MTU.Pos, "upstream.mtu", "MTU %d is below 1280, the IPv6 minimum, but upstream.subnet6 is %s (the kernel refuses IPv6 addresses on such a link)", ext.MTU, pf)
			}
		}
	}
	for _, s := range r.lab.Segments {
		for _, pair := range [][2]netip.Prefix{{s.Subnet4, ext.Subnet4}, {s.Subnet6, ext.Subnet6}} {
			if pair[0].IsValid() && pair[1].IsValid() && pair[0].Overlaps(pair[1]) {
				pos := u.Pos
				if u.Subnet.Set {
					pos = u.Subnet.Pos
				}
				r.errf(pos, "upstream.subnet", "external subnet %s overlaps %s of segment %q", pair[1], pair[0], s.Name)
			}
		}
	}
	r.lab.Segments = append(r.lab.Segments, ext)
	eaddrs := r.addrIn(ext, prefixes{}, "upstream.subnet", u.Pos, netip.Addr{}, false)
	rt.Links = append(rt.Links, Link{Segment: ext.Name, Ifname: ext.Name, Addrs: eaddrs, RPFilter: 2})
	r.lab.Routers = append(r.lab.Routers, rt)

	seen := map[string]bool{}
	for _, hs := range r.s.External {
		f := "external." + hs.Name.V
		if !thingNameRE.MatchString(hs.Name.V) || seen[hs.Name.V] {
			r.errf(hs.Name.Pos, "external", "%q is not a valid (or is a duplicate) host name", hs.Name.V)
			continue
		}
		seen[hs.Name.V] = true
		addrs := r.addrIn(ext, hs.Address, f+".address", hs.Name.Pos, netip.Addr{}, false)
		h := &Host{Name: hs.Name.V, NS: r.lab.Prefix() + hs.Name.V,
			Link: Link{Segment: ext.Name, Ifname: "eth0", Addrs: addrs, MAC: stableMAC("ext", hs.Name.V)}}
		h.Gateway4, h.Gateway6 = famAddr(eaddrs, true), famAddr(eaddrs, false)
		r.lab.Hosts = append(r.lab.Hosts, h)
	}
}

// routes gives nodes their default gateway and routers their static routes
// (every segment they are not on, and a default towards the upstream).
func (r *resolver) routes() {
	lab := r.lab
	// Graph: segment -> routers on it.
	on := map[string][]*Router{}
	for _, rt := range lab.Routers {
		for _, l := range rt.Links {
			on[l.Segment] = append(on[l.Segment], rt)
		}
	}
	addrOn := func(rt *Router, seg string, v4 bool) netip.Addr {
		for _, l := range rt.Links {
			if a := famAddr(l.Addrs, v4); l.Segment == seg && a.IsValid() {
				return a
			}
		}
		return netip.Addr{}
	}
	// Node gateways: the first ordinary router on the segment, else the upstream.
	for _, n := range lab.Nodes {
		var gwr *Router
		for _, rt := range on[n.Link.Segment] {
			if !rt.Upstream {
				gwr = rt
				break
			}
		}
		if gwr == nil && len(on[n.Link.Segment]) > 0 {
			gwr = on[n.Link.Segment][0]
		}
		if gwr == nil {
			continue
		}
		if !n.Gateway4.IsValid() {
			n.Gateway4 = addrOn(gwr, n.Link.Segment, true)
		}
		if !n.Gateway6.IsValid() {
			n.Gateway6 = addrOn(gwr, n.Link.Segment, false)
		}
	}
	// Router routes: breadth-first over routers, so each segment is reached
	// through the nearest router that sits on it.
	up := lab.Upstream()
	type hop struct{ v4, v6 netip.Addr }
	pick := func(h hop, v4 bool) netip.Addr {
		if v4 {
			return h.v4
		}
		return h.v6
	}
	for _, rt := range lab.Routers {
		first := map[*Router]hop{}
		visited := map[*Router]bool{rt: true}
		var order []*Router
		queue := []*Router{rt}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, l := range cur.Links {
				for _, nb := range on[l.Segment] {
					if visited[nb] {
						continue
					}
					visited[nb] = true
					if cur == rt {
						first[nb] = hop{addrOn(nb, l.Segment, true), addrOn(nb, l.Segment, false)}
					} else {
						first[nb] = first[cur]
					}
					order = append(order, nb)
					queue = append(queue, nb)
				}
			}
		}
		done := map[string]bool{}
		for _, l := range rt.Links {
			done[l.Segment] = true
		}
		for _, x := range order {
			for _, l := range x.Links {
				if done[l.Segment] {
					continue
				}
				done[l.Segment] = true
				seg := lab.Segment(l.Segment)
				if seg.External && up != nil && rt != up {
					continue // reached through the default route
				}
				for _, sub := range []netip.Prefix{seg.Subnet4, seg.Subnet6} {
					if via := pick(first[x], sub.Addr().Is4()); sub.IsValid() && via.IsValid() {
						rt.Routes = append(rt.Routes, Route{Dst: sub, Via: []netip.Addr{via}})
					}
				}
			}
		}
		if h, ok := first[up]; ok && up != nil && rt != up {
			for _, v4 := range []bool{true, false} {
				if via := pick(h, v4); via.IsValid() {
					rt.Routes = append(rt.Routes, Route{Dst: defaultRoute(v4), Via: []netip.Addr{via}})
				}
			}
		}
	}
}

func defaultRoute(v4 bool) netip.Prefix {
	if v4 {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
}
