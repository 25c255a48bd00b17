package topology

import (
	"slices"
	"strings"

	"github.com/sdnlab/sdnlab/reports"
)

// Graph is the lab as a picture model: segments, routers, external hosts,
// nodes (VTEP, engine, exit-node role) and guests with their VNet and zone.
// It reads only the resolved lab (and its SDN configuration, when loaded);
// LiveGraph adds what a running lab shows (crashed agents, failed links,
// impairments).
func (l *Lab) Graph() *reports.Topology {
	t := &reports.Topology{Lab: l.Name}
	for _, s := range l.Segments {
		ts := reports.TopoSegment{Name: s.Name, MTU: s.MTU, External: s.External}
		for _, p := range []string{pfx(s.Subnet4.String(), s.Subnet4.IsValid()), pfx(s.Subnet6.String(), s.Subnet6.IsValid())} {
			if p != "" {
				ts.Subnets = append(ts.Subnets, p)
			}
		}
		t.Segments = append(t.Segments, ts)
	}
	for _, r := range l.Routers {
		tr := reports.TopoRouter{Name: r.Name, Upstream: r.Upstream, Routing: r.Routing}
		for _, ln := range r.Links {
			tr.Links = append(tr.Links, topoLink(ln))
		}
		t.Routers = append(t.Routers, tr)
	}
	for _, h := range l.Hosts {
		t.Hosts = append(t.Hosts, reports.TopoHost{Name: h.Name, Link: topoLink(h.Link)})
	}
	exits := map[string][]string{}
	if l.Config != nil {
		var zones []string
		for id := range l.Config.Zones {
			zones = append(zones, id)
		}
		slices.Sort(zones)
		for _, id := range zones {
			z := l.Config.Zones[id]
			t.Zones = append(t.Zones, reports.TopoZone{Name: id, Type: z.Type, VNI: z.VrfVxlan})
			for _, n := range z.ExitNodes {
				exits[n] = append(exits[n], id)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, v := range l.VNets {
			if !seen[v.Zone] {
				seen[v.Zone] = true
				t.Zones = append(t.Zones, reports.TopoZone{Name: v.Zone, Type: v.ZoneType})
			}
		}
		slices.SortFunc(t.Zones, func(a, b reports.TopoZone) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, n := range l.Nodes {
		tn := reports.TopoNode{Name: n.Name, Exit: exits[n.Name], Links: []reports.TopoLink{topoLink(n.Link)}}
		if n.Addr.IsValid() {
			tn.VTEP = n.Addr.Addr().String()
		}
		tn.Engine = l.Engine(n.Name)
		t.Nodes = append(t.Nodes, tn)
	}
	for _, g := range l.Guests {
		tg := reports.TopoGuest{Name: g.Name, Node: g.Node, VNet: g.VNet, Zone: g.Zone}
		if l.Config != nil {
			if v := l.Config.VNets[g.VNet]; v != nil {
				tg.Tag = v.Tag
			}
		}
		for _, a := range g.Addrs {
			tg.Addrs = append(tg.Addrs, a.String())
		}
		t.Guests = append(t.Guests, tg)
	}
	return t
}

// Engine names the control plane a node runs: its engine (agent or frr)
// when a controller applies to it, "" when only kernel devices are set up
// (simple and vxlan zones need no control plane).
func (l *Lab) Engine(node string) string {
	n := l.Node(node)
	if p := l.Plans[node]; n != nil && p != nil && p.FRR != nil {
		return n.EngineOf()
	}
	return ""
}

func pfx(s string, ok bool) string {
	if !ok {
		return ""
	}
	return s
}

func topoLink(ln Link) reports.TopoLink {
	tl := reports.TopoLink{Segment: ln.Segment, Ifname: ln.Ifname}
	for _, a := range ln.Addrs {
		tl.Addrs = append(tl.Addrs, a.Addr().String())
	}
	switch ln.RPFilter {
	case 1:
		tl.Note = "uRPF strict"
	case 2:
		tl.Note = "uRPF loose"
	}
	return tl
}
