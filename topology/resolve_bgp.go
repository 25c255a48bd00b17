package topology

import (
	"net/netip"
	"slices"
	"sort"

	"github.com/sdnlab/sdnlab/sdn/frr"

	"github.com/sdnlab/sdnlab/topology/underlaybgp"
)

// firstPrivateASN is where default AS numbers start: every BGP router gets
// its own (65001, 65002, ... in file order), so the underlay is eBGP and
// routes travel any number of routers.
const firstPrivateASN = 65001

// bgp configures the routers with routing: bgp. Each one announces its
// connected segments and peers with every other BGP router on a segment it
// shares (one session per address family both have there). The static
// routes to the segments BGP will bring are dropped, so those segments are
// reached only through BGP-learned routes; the default route towards the
// upstream and the routes to SDN subnets stay static.
func (r *resolver) bgp() {
	var speakers []*Router
	for _, rt := range r.lab.Routers {
		if rt.Routing == "bgp" && !rt.Upstream {
			speakers = append(speakers, rt)
		}
	}
	if len(speakers) == 0 {
		return
	}
	for i, rt := range speakers {
		if rt.ASN == 0 {
			rt.ASN = uint32(firstPrivateASN + i)
		}
		cfg := &underlaybgp.Config{Router: rt.Name, ASN: rt.ASN, RouterID: routerID(rt, i)}
		for _, l := range rt.Links {
			if seg := r.lab.Segment(l.Segment); seg == nil || seg.External {
				continue
			}
			for _, a := range l.Addrs {
				cfg.Networks = append(cfg.Networks, a.Masked())
			}
		}
		rt.BGP = cfg
	}
	// Sessions: every pair of speakers on a shared segment, per family.
	type edge struct {
		to   *Router
		ibgp bool
	}
	adj := map[*Router]map[bool][]edge{} // router -> is IPv4 -> peers
	for _, a := range speakers {
		adj[a] = map[bool][]edge{}
		for _, la := range a.Links {
			for _, b := range speakers {
				if a == b {
					continue
				}
				for _, lb := range b.Links {
					if lb.Segment != la.Segment {
						continue
					}
					for _, v4 := range []bool{true, false} {
						mine, theirs := famAddr(la.Addrs, v4), famAddr(lb.Addrs, v4)
						if !mine.IsValid() || !theirs.IsValid() {
							continue
						}
						a.BGP.Neighbors = append(a.BGP.Neighbors, underlaybgp.Neighbor{Addr: theirs, ASN: b.ASN, Name: b.Name, Local: mine})
						adj[a][v4] = append(adj[a][v4], edge{b, a.ASN == b.ASN})
					}
				}
			}
		}
	}
	// What each speaker will learn: a prefix travels every session, except
	// that a route learned over iBGP is not passed to another iBGP peer (no
	// route reflection), as BGP does.
	learn := map[*Router]map[netip.Prefix]bool{}
	for _, o := range speakers {
		for _, pf := range o.BGP.Networks {
			v4 := pf.Addr().Is4()
			type st struct {
				at      *Router
				viaIBGP bool
			}
			seen := map[*Router]bool{o: true}
			queue := []st{{o, false}}
			for len(queue) > 0 {
				cur := queue[0]
				queue = queue[1:]
				for _, e := range adj[cur.at][v4] {
					if seen[e.to] || (e.ibgp && cur.viaIBGP) {
						continue
					}
					seen[e.to] = true
					if learn[e.to] == nil {
						learn[e.to] = map[netip.Prefix]bool{}
					}
					learn[e.to][pf] = true
					queue = append(queue, st{e.to, e.ibgp})
				}
			}
		}
	}
	for _, rt := range speakers {
		own := map[netip.Prefix]bool{}
		for _, pf := range rt.BGP.Networks {
			own[pf] = true
		}
		var exp []netip.Prefix
		for pf := range learn[rt] {
			if !own[pf] {
				exp = append(exp, pf)
			}
		}
		sort.Slice(exp, func(i, j int) bool { return exp[i].String() < exp[j].String() })
		rt.BGPRoutes = exp
		var kept []Route
		for _, ro := range rt.Routes {
			if !learn[rt][ro.Dst] {
				kept = append(kept, ro)
			}
		}
		rt.Routes = kept
	}
}

// famAddr is the first address of l of the family (IPv4 when v4), or the
// zero Addr.
func famAddr(l []netip.Prefix, v4 bool) netip.Addr {
	for _, a := range l {
		if a.Addr().Is4() == v4 {
			return a.Addr()
		}
	}
	return netip.Addr{}
}

// routerID is the router's first IPv4 address; an IPv6-only router gets
// 10.255.255.<n> (a router id is an IPv4-shaped number, not an address).
func routerID(rt *Router, i int) netip.Addr {
	for _, l := range rt.Links {
		if a := famAddr(l.Addrs, true); a.IsValid() {
			return a
		}
	}
	return netip.AddrFrom4([4]byte{10, 255, 255, byte(i + 1)})
}

// upstreamASN is the upstream's AS number when the lab file gives none.
const upstreamASN = 65100

// upstreamBGP configures an upstream with routing: bgp, as Proxmox
// documents it for exporting EVPN routes: every node whose bgp controller
// lists the upstream's address among its peers is a neighbour (eBGP, the
// node's AS), and the SDN subnets those nodes announce are no longer
// static routes on the upstream: it learns them, and forgets those of a
// dead exit node when its session ends.
func (r *resolver) upstreamBGP() {
	up := r.lab.Upstream()
	if up == nil || up.Routing != "bgp" {
		return
	}
	if up.ASN == 0 {
		up.ASN = upstreamASN
	}
	cfg := &underlaybgp.Config{Router: up.Name, ASN: up.ASN, RouterID: routerID(up, 0)}
	var mine []netip.Addr
	for _, l := range up.Links {
		for _, a := range l.Addrs {
			mine = append(mine, a.Addr())
		}
	}
	peers := map[netip.Addr]bool{}
	for _, n := range r.lab.Nodes {
		p := r.lab.Plans[n.Name]
		if p == nil || p.FRR == nil || p.FRR.BGP.Routers[frr.DefaultVRF] == nil {
			continue
		}
		main := p.FRR.BGP.Routers[frr.DefaultVRF]
		for _, g := range main.NeighborGroups {
			for _, a := range g.Peers {
				if !slices.Contains(mine, a) {
					continue
				}
				for _, l := range up.Links {
					if local := famAddr(l.Addrs, a.Is4()); local.IsValid() && l.Segment == n.Link.Segment {
						cfg.Neighbors = append(cfg.Neighbors, underlaybgp.Neighbor{Addr: famAddr(n.Link.Addrs, a.Is4()), ASN: main.ASN, Name: n.Name, Local: local})
						peers[famAddr(n.Link.Addrs, a.Is4())] = true
					}
				}
			}
		}
	}
	if len(cfg.Neighbors) == 0 {
		r.errf(up.pos, "upstream.routing", "bgp: no node's bgp controller peers the upstream at %s (add a bgp controller on each exit node with peers %s, as Proxmox documents)", addrList(mine), addrList(mine))
		return
	}
	up.BGP = cfg
	// Routes to SDN subnets through the peering nodes come from BGP now.
	var kept []Route
	for _, ro := range up.Routes {
		viaPeer := false
		for _, v := range ro.Via {
			viaPeer = viaPeer || peers[v]
		}
		if !viaPeer {
			kept = append(kept, ro)
		}
	}
	up.Routes = kept
}
