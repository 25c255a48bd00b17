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
// and from the limit), so a lab whose nodes would need more dynamic
// entries than staticNeighAbove writes each node's peers on its segments
// as permanent entries, from the addresses and MACs it assigned. Smaller
// labs keep ordinary ARP/ND, as Proxmox hosts do.
const staticNeighAbove = 256

// underlayPairs counts the node-to-node neighbour entries the lab's
// segments need.
func underlayPairs(lab *Lab) int {
	per := map[string]int{}
	for _, n := range lab.Nodes {
		per[n.Link.Segment]++
	}
	pairs := 0
	for _, k := range per {
		pairs += k * (k - 1)
	}
	return pairs
}

// staticUnderlayNeigh writes, in every node, a permanent neighbour entry
// for each other node on its segment.
func staticUnderlayNeigh(ctx context.Context, lab *Lab, workers int) error {
	type peer struct {
		addrs []netip.Addr
		mac   net.HardwareAddr
	}
	bySeg := map[string][]peer{}
	owner := map[*Node]int{}
	for _, n := range lab.Nodes {
		mac, err := net.ParseMAC(n.UnderlayMAC)
		if err != nil {
			return fmt.Errorf("node %s: underlay MAC %q: %w", n.Name, n.UnderlayMAC, err)
		}
		var addrs []netip.Addr
		for _, p := range n.Link.Addrs {
			addrs = append(addrs, p.Addr())
		}
		if len(addrs) == 0 && n.Addr.IsValid() {
			addrs = append(addrs, n.Addr.Addr())
		}
		owner[n] = len(bySeg[n.Link.Segment])
		bySeg[n.Link.Segment] = append(bySeg[n.Link.Segment], peer{addrs: addrs, mac: mac})
	}
	return parallel(ctx, len(lab.Nodes), workers, func(i int) error {
		n := lab.Nodes[i]
		h, err := nsutil.Handle(n.NS)
		if err != nil {
			return err
		}
		defer h.Close()
		for j, p := range bySeg[n.Link.Segment] {
			if j == owner[n] {
				continue
			}
			for _, a := range p.addrs {
				rs, err := h.RouteGet(net.IP(a.AsSlice()))
				if err != nil || len(rs) == 0 || rs[0].Gw != nil {
					continue // not on a connected subnet of this node
				}
				fam := unix.AF_INET
				if a.Is6() {
					fam = unix.AF_INET6
				}
				err = h.NeighSet(&netlink.Neigh{LinkIndex: rs[0].LinkIndex, Family: fam, State: netlink.NUD_PERMANENT,
					IP: net.IP(a.AsSlice()), HardwareAddr: p.mac})
				if err != nil {
					return fmt.Errorf("node %s: neighbour %s: %w", n.Name, a, err)
				}
			}
		}
		return nil
	})
}
