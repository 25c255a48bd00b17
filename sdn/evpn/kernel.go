package evpn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// kobj is one piece of kernel state the agent programs. key identifies the
// object (two objects with one key cannot coexist); spec is key plus content,
// so a changed spec means "replace".
type kobj interface {
	kind() string // flood, fdb, neigh, route
	key() string
	spec() string
	add(h *netlink.Handle) error
	del(h *netlink.Handle) error
	ns() string
	view() KernelEntry
}

// KernelEntry is one programmed object as `sdnlab show` prints it.
type KernelEntry struct {
	Kind    string   `json:"kind"`
	Netns   string   `json:"netns,omitempty"`
	Dev     string   `json:"dev"`
	MAC     string   `json:"mac,omitempty"`
	IP      string   `json:"ip,omitempty"`
	Prefix  string   `json:"prefix,omitempty"`
	VTEP    string   `json:"vtep,omitempty"`
	NextHop []string `json:"nexthops,omitempty"`
	Stale   bool     `json:"stale,omitempty"`
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// names caches the key and spec of an object that does not change once
// built. A reconcile compares every desired object with the installed one;
// formatting those strings anew each time was a third of a reconcile's
// cost at 300 nodes (perf, docs/SCALE.md 27).
type names struct{ k, s string }

// cached returns *p, building it on first use.
func cached(p *string, build func() string) string {
	if *p == "" {
		*p = build()
	}
	return *p
}

// floodObj is a head-end replication entry: 00:00:00:00:00:00 dst VTEP.
type floodObj struct {
	netns, dev string
	link       int
	vtep       netip.Addr
	names
}

func (o *floodObj) kind() string { return "flood" }
func (o *floodObj) ns() string   { return o.netns }
func (o *floodObj) key() string {
	return cached(&o.k, func() string { return "flood|" + o.netns + "|" + o.dev + "|" + o.vtep.String() })
}
func (o *floodObj) spec() string { return o.key() }
func (o *floodObj) neigh() *netlink.Neigh {
	return &netlink.Neigh{LinkIndex: o.link, Family: unix.AF_BRIDGE, State: netlink.NUD_NOARP | netlink.NUD_PERMANENT,
		Flags: netlink.NTF_SELF, IP: net.IP(o.vtep.AsSlice()), HardwareAddr: zeroMAC}
}
func (o *floodObj) add(h *netlink.Handle) error { return h.NeighAppend(o.neigh()) }
func (o *floodObj) del(h *netlink.Handle) error { return ignoreNotFound(h.NeighDel(o.neigh())) }
func (o *floodObj) view() KernelEntry {
	return KernelEntry{Kind: "flood", Netns: o.netns, Dev: o.dev, MAC: zeroMAC.String(), VTEP: o.vtep.String()}
}

// fdbObj is a remote MAC: `MAC dev VXLAN dst VTEP self extern_learn` plus
// the bridge's entry `MAC dev VXLAN master extern_learn`, as zebra does, so
// the bridge neither floods to local ports nor ages the entry out.
type fdbObj struct {
	netns, dev string
	link       int
	mac        net.HardwareAddr
	vtep       netip.Addr
	sticky     bool
	names
}

func (o *fdbObj) kind() string { return "fdb" }
func (o *fdbObj) ns() string   { return o.netns }
func (o *fdbObj) key() string {
	return cached(&o.k, func() string { return "fdb|" + o.netns + "|" + o.dev + "|" + o.mac.String() })
}
func (o *fdbObj) spec() string {
	return cached(&o.s, func() string { return o.key() + "|" + o.vtep.String() + "|" + strconv.FormatBool(o.sticky) })
}
func (o *fdbObj) selfNeigh() *netlink.Neigh {
	// vxlan accepts only REACHABLE or PERMANENT; extern_learn keeps it from ageing.
	return &netlink.Neigh{LinkIndex: o.link, Family: unix.AF_BRIDGE, State: netlink.NUD_REACHABLE,
		Flags: netlink.NTF_SELF | netlink.NTF_EXT_LEARNED, IP: net.IP(o.vtep.AsSlice()), HardwareAddr: o.mac}
}
func (o *fdbObj) masterNeigh() *netlink.Neigh {
	return &netlink.Neigh{LinkIndex: o.link, Family: unix.AF_BRIDGE, State: netlink.NUD_NOARP,
		Flags: netlink.NTF_MASTER | netlink.NTF_EXT_LEARNED, HardwareAddr: o.mac}
}
func (o *fdbObj) add(h *netlink.Handle) error {
	// The bridge entry first: it moves the MAC off a local port at once.
	if err := h.NeighSet(o.masterNeigh()); err != nil {
		return fmt.Errorf("bridge fdb %s master: %w", o.mac, err)
	}
	if err := h.NeighSet(o.selfNeigh()); err != nil {
		return fmt.Errorf("bridge fdb %s dst %s: %w", o.mac, o.vtep, err)
	}
	return nil
}
func (o *fdbObj) del(h *netlink.Handle) error {
	e1 := ignoreNotFound(h.NeighDel(o.selfNeigh()))
	e2 := ignoreNotFound(h.NeighDel(o.masterNeigh()))
	return errors.Join(e1, e2)
}
func (o *fdbObj) view() KernelEntry {
	return KernelEntry{Kind: "fdb", Netns: o.netns, Dev: o.dev, MAC: o.mac.String(), VTEP: o.vtep.String()}
}

// neighObj is a remote IP-MAC binding on a bridge (ARP/ND suppression) or
// a VTEP's router MAC on the L3VNI bridge: `nud noarp extern_learn`.
type neighObj struct {
	netns, dev string
	link       int
	ip         netip.Addr
	mac        net.HardwareAddr
	names
}

func (o *neighObj) kind() string { return "neigh" }
func (o *neighObj) ns() string   { return o.netns }
func (o *neighObj) key() string {
	return cached(&o.k, func() string { return "neigh|" + o.netns + "|" + o.dev + "|" + o.ip.String() })
}
func (o *neighObj) spec() string {
	return cached(&o.s, func() string { return o.key() + "|" + o.mac.String() })
}
func (o *neighObj) neigh() *netlink.Neigh {
	fam := unix.AF_INET
	if o.ip.Is6() {
		fam = unix.AF_INET6
	}
	return &netlink.Neigh{LinkIndex: o.link, Family: fam, State: netlink.NUD_NOARP,
		Flags: netlink.NTF_EXT_LEARNED, IP: net.IP(o.ip.AsSlice()), HardwareAddr: o.mac}
}
func (o *neighObj) add(h *netlink.Handle) error { return h.NeighSet(o.neigh()) }

// probe replaces our remote entry with a kernel one in NUD_PROBE: the
// kernel sends unicast ARP requests (or neighbour solicitations) to the
// MAC at once and marks the entry REACHABLE on a reply, FAILED without.
func (o *neighObj) probe(h *netlink.Handle) error {
	n := o.neigh()
	n.State, n.Flags = netlink.NUD_PROBE, 0
	return h.NeighSet(n)
}
func (o *neighObj) del(h *netlink.Handle) error { return ignoreNotFound(h.NeighDel(o.neigh())) }
func (o *neighObj) view() KernelEntry {
	return KernelEntry{Kind: "neigh", Netns: o.netns, Dev: o.dev, IP: o.ip.String(), MAC: o.mac.String()}
}

// routeObj is a VRF route through the L3VNI: `PREFIX via VTEP dev vrfbr
// onlink` (ECMP when several VTEPs), protocol bgp, metric 20 (IPv4) or 512
// (IPv6) so a connected route of the same prefix keeps winning, as zebra
// keeps it (connected beats BGP): the kernel gives IPv4 connected routes
// metric 0 but IPv6 ones 256, and a type 5 route of a local subnet
// (advertise-subnets) at metric 20 would take the VNet's own /64 away. It
// stays below the 1024 of the VRF's default route through the xvrf link.
type routeObj struct {
	netns, dev string
	link       int
	prefix     netip.Prefix
	vteps      []netip.Addr // sorted
}

const (
	routeMetric  = 20
	routeMetric6 = 512
)

func (o *routeObj) kind() string { return "route" }
func (o *routeObj) ns() string   { return o.netns }
func (o *routeObj) key() string  { return fmt.Sprintf("route|%s|%s", o.netns, o.prefix) }
func (o *routeObj) spec() string { return fmt.Sprintf("%s|%s|%v", o.key(), o.dev, o.vteps) }
func (o *routeObj) route() *netlink.Route {
	dst := &net.IPNet{IP: net.IP(o.prefix.Addr().AsSlice()), Mask: net.CIDRMask(o.prefix.Bits(), o.prefix.Addr().BitLen())}
	r := &netlink.Route{Dst: dst, Protocol: unix.RTPROT_BGP, Priority: routeMetric}
	if o.prefix.Addr().Is4() {
		r.Family = unix.AF_INET
	} else {
		r.Family = unix.AF_INET6
		r.Priority = routeMetric6
	}
	hop := func(v netip.Addr) *netlink.NexthopInfo {
		nh := &netlink.NexthopInfo{LinkIndex: o.link, Flags: int(netlink.FLAG_ONLINK)}
		switch {
		case v.Is4() && o.prefix.Addr().Is6():
			// An IPv6 route cannot use an IPv4 gateway. zebra uses the
			// IPv4-mapped address; netlink here cannot carry one (it reads
			// as IPv4), so the gateway is fe80::ffff:<vtep> instead, with
			// a neighbour entry holding the router MAC just the same.
			nh.Gw = net.IP(mapped(v).AsSlice())
		case v.Is6() && o.prefix.Addr().Is4():
			nh.Via = &netlink.Via{AddrFamily: netlink.FAMILY_V6, Addr: net.IP(v.AsSlice())}
		default:
			nh.Gw = net.IP(v.AsSlice())
		}
		return nh
	}
	if len(o.vteps) == 1 {
		nh := hop(o.vteps[0])
		r.LinkIndex, r.Gw, r.Via, r.Flags = nh.LinkIndex, nh.Gw, nh.Via, nh.Flags
		return r
	}
	for _, v := range o.vteps {
		r.MultiPath = append(r.MultiPath, hop(v))
	}
	return r
}
func (o *routeObj) add(h *netlink.Handle) error { return h.RouteReplace(o.route()) }
func (o *routeObj) del(h *netlink.Handle) error {
	r := o.route()
	return ignoreNotFound(h.RouteDel(&netlink.Route{Dst: r.Dst, Family: r.Family, Protocol: r.Protocol, Priority: r.Priority}))
}
func (o *routeObj) view() KernelEntry {
	e := KernelEntry{Kind: "route", Netns: o.netns, Dev: o.dev, Prefix: o.prefix.String()}
	for _, v := range o.vteps {
		e.NextHop = append(e.NextHop, v.String())
	}
	return e
}

// mapped is the IPv6 next hop standing for an IPv4 VTEP: fe80::ffff:a.b.c.d.
func mapped(v netip.Addr) netip.Addr {
	b := v.As16()
	b[0], b[1] = 0xfe, 0x80
	return netip.AddrFrom16(b)
}

func ignoreNotFound(err error) error {
	if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

// sortedAddrs returns the addresses of a set in ascending order.
func sortedAddrs(m map[netip.Addr]bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}
