package topology

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// The kernel's neighbour tables (ARP and ND) are shared by every network
// namespace on the machine, and their hard limit, gc_thresh3 (1024 by
// default), is a host setting that only the root namespace can change.
// A full mesh of n nodes on one segment needs n x (n - 1) underlay
// entries: 870 at 30 nodes, 2,450 at 50, 9,900 at 100. Measured at 50
// nodes: the table stood at 1,087 entries, sendmsg failed with ENOBUFS
// ("No buffer space available") for every peer not yet resolved, TCP
// connects and BFD went unanswered, and the BGP sessions retried forever.
// This, not CPU, was the first wall of the 100-node collapse.
//
// Permanent entries do not count against gc_thresh3 (the kernel exempts
// NUD_PERMANENT and externally learned entries from its garbage collector
// and from the limit), so a lab whose nodes, routers and hosts would need
// more dynamic entries than staticNeighAbove writes each one's peers on its
// segments as permanent entries, from the addresses and MACs it assigned. Smaller
// labs keep ordinary ARP/ND, as Proxmox hosts do.
const staticNeighAbove = 256

// station is one namespace's presence on a segment: its addresses there
// and the MAC that answers for them.
type station struct {
	name  string // for errors
	ns    string
	seg   string
	addrs []netip.Addr
	mac   net.HardwareAddr
}

// underlayStations lists every node, router and external host interface
// on the lab's segments. Routers count: measured with 300 nodes and two
// route reflectors, the 1,200 dynamic entries between the nodes and the
// reflectors alone overflowed the table, and no session came up.
func underlayStations(lab *Lab) ([]station, error) {
	var out []station
	add := func(name, ns string, l Link, mac string, extra netip.Prefix) error {
		hw, err := net.ParseMAC(mac)
		if err != nil {
			return fmt.Errorf("%s: underlay MAC %q: %w", name, mac, err)
		}
		st := station{name: name, ns: ns, seg: l.Segment, mac: hw}
		for _, p := range l.Addrs {
			st.addrs = append(st.addrs, p.Addr())
		}
		if len(st.addrs) == 0 && extra.IsValid() {
			st.addrs = append(st.addrs, extra.Addr())
		}
		out = append(out, st)
		return nil
	}
	for _, n := range lab.Nodes {
		if err := add("node "+n.Name, n.NS, n.Link, n.UnderlayMAC, n.Addr); err != nil {
			return nil, err
		}
	}
	for _, r := range lab.Routers {
		for _, l := range r.Links {
			if err := add("router "+r.Name, r.NS, l, l.MAC, netip.Prefix{}); err != nil {
				return nil, err
			}
		}
	}
	for _, h := range lab.Hosts {
		if err := add("host "+h.Name, h.NS, h.Link, h.Link.MAC, netip.Prefix{}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// underlayPairs counts the neighbour entries between the stations of
// each segment.
func underlayPairs(stations []station) int {
	per := map[string]int{}
	for _, st := range stations {
		per[st.seg]++
	}
	pairs := 0
	for _, k := range per {
		pairs += k * (k - 1)
	}
	return pairs
}

// staticUnderlayNeigh writes, in every station's namespace, a permanent
// neighbour entry for each other station on its segment.
func staticUnderlayNeigh(ctx context.Context, stations []station, workers int) error {
	bySeg := map[string][]int{}
	for i, st := range stations {
		bySeg[st.seg] = append(bySeg[st.seg], i)
	}
	return parallel(ctx, len(stations), workers, func(i int) error {
		me := stations[i]
		h, err := nsutil.Handle(me.ns)
		if err != nil {
			return err
		}
		defer h.Close()
		for _, j := range bySeg[me.seg] {
			if j == i {
				continue
			}
			p := stations[j]
			for _, a := range p.addrs {
				rs, err := h.RouteGet(net.IP(a.AsSlice()))
				if err != nil || len(rs) == 0 || rs[0].Gw != nil {
					continue // not on a connected subnet of this station
				}
				fam := unix.AF_INET
				if a.Is6() {
					fam = unix.AF_INET6
				}
				err = h.NeighSet(&netlink.Neigh{LinkIndex: rs[0].LinkIndex, Family: fam, State: netlink.NUD_PERMANENT,
					IP: net.IP(a.AsSlice()), HardwareAddr: p.mac})
				if err != nil {
					return fmt.Errorf("%s: neighbour %s: %w", me.name, a, err)
				}
			}
		}
		return nil
	})
}
