package probe

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FDBEntry is one bridge forwarding entry (`bridge fdb show`).
type FDBEntry struct {
	MAC    string
	Dev    string     // the port (tap, vxlan device)
	Master string     // the bridge, "" for vxlan device entries without master
	Dst    netip.Addr // remote VTEP of a vxlan entry, invalid otherwise
	VNI    int
	Flags  []string // self, master, extern_learn, permanent, static
}

func (e FDBEntry) String() string {
	s := e.MAC + " dev " + e.Dev
	if e.Dst.IsValid() {
		s += " dst " + e.Dst.String()
	}
	if e.Master != "" {
		s += " master " + e.Master
	}
	if len(e.Flags) > 0 {
		s += " " + strings.Join(e.Flags, " ")
	}
	return s
}

// NeighEntry is one ARP/ND entry.
type NeighEntry struct {
	IP    netip.Addr
	MAC   string
	Dev   string
	State string
	Flags []string
}

func (e NeighEntry) String() string {
	s := e.IP.String() + " dev " + e.Dev
	if e.MAC != "" {
		s += " lladdr " + e.MAC
	}
	s += " " + e.State
	if len(e.Flags) > 0 {
		s += " " + strings.Join(e.Flags, " ")
	}
	return s
}

func linkNames(h *netlink.Handle) (map[int]string, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	m := map[int]string{}
	for _, l := range links {
		m[l.Attrs().Index] = l.Attrs().Name
	}
	return m, nil
}

// withNames opens a handle on ns, reads its interface names by index and
// returns what f makes of them; what names the dump in errors.
func withNames[T any](ns, what string, f func(h *netlink.Handle, names map[int]string) (T, error)) (T, error) {
	var zero T
	h, err := nsutil.Handle(ns)
	if err != nil {
		return zero, err
	}
	defer h.Close()
	names, err := linkNames(h)
	if err != nil {
		return zero, fmt.Errorf("%s %s: links: %w", what, ns, err)
	}
	return f(h, names)
}

// FDB dumps the bridge forwarding database of namespace ns.
func FDB(ns string) ([]FDBEntry, error) {
	return withNames(ns, "fdb", func(h *netlink.Handle, names map[int]string) ([]FDBEntry, error) {
		list, err := h.NeighList(0, unix.AF_BRIDGE)
		if err != nil {
			return nil, fmt.Errorf("fdb %s: %w", ns, err)
		}
		out := make([]FDBEntry, 0, len(list))
		for _, n := range list {
			out = append(out, fdbEntry(n, names))
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
		return out, nil
	})
}

func fdbEntry(n netlink.Neigh, names map[int]string) FDBEntry {
	e := FDBEntry{MAC: n.HardwareAddr.String(), Dev: names[n.LinkIndex], VNI: n.VNI}
	if n.MasterIndex > 0 {
		e.Master = names[n.MasterIndex]
	}
	if n.IP != nil {
		if a, ok := netip.AddrFromSlice(n.IP); ok {
			e.Dst = a.Unmap()
		}
	}
	if n.Flags&netlink.NTF_SELF != 0 {
		e.Flags = append(e.Flags, "self")
	}
	if n.Flags&netlink.NTF_MASTER != 0 {
		e.Flags = append(e.Flags, "master")
	}
	if n.Flags&unix.NTF_EXT_LEARNED != 0 {
		e.Flags = append(e.Flags, "extern_learn")
	}
	if n.State&netlink.NUD_PERMANENT != 0 {
		e.Flags = append(e.Flags, "permanent")
	}
	if n.State&netlink.NUD_NOARP != 0 {
		e.Flags = append(e.Flags, "static")
	}
	return e
}

// FDBFor returns the entries for one MAC.
func FDBFor(ns string, mac net.HardwareAddr) ([]FDBEntry, error) {
	all, err := FDB(ns)
	if err != nil {
		return nil, err
	}
	var out []FDBEntry
	for _, e := range all {
		if strings.EqualFold(e.MAC, mac.String()) {
			out = append(out, e)
		}
	}
	return out, nil
}

var nudNames = []struct {
	bit  int
	name string
}{
	{netlink.NUD_PERMANENT, "PERMANENT"}, {netlink.NUD_NOARP, "NOARP"},
	{netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"},
	{netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
	{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_INCOMPLETE, "INCOMPLETE"},
}

// Neigh dumps the IPv4 and IPv6 neighbour tables of namespace ns.
func Neigh(ns string) ([]NeighEntry, error) {
	return withNames(ns, "neigh", func(h *netlink.Handle, names map[int]string) ([]NeighEntry, error) {
		return neighList(h, ns, names)
	})
}

func neighList(h *netlink.Handle, ns string, names map[int]string) ([]NeighEntry, error) {
	var out []NeighEntry
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		list, err := h.NeighList(0, fam)
		if err != nil {
			return nil, fmt.Errorf("neigh %s: %w", ns, err)
		}
		for _, n := range list {
			a, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			e := NeighEntry{IP: a.Unmap(), Dev: names[n.LinkIndex]}
			if len(n.HardwareAddr) > 0 {
				e.MAC = n.HardwareAddr.String()
			}
			for _, s := range nudNames {
				if n.State&s.bit != 0 {
					e.State = s.name
					break
				}
			}
			if n.Flags&unix.NTF_EXT_LEARNED != 0 {
				e.Flags = append(e.Flags, "extern_learn")
			}
			if n.Flags&netlink.NTF_ROUTER != 0 {
				e.Flags = append(e.Flags, "router")
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// NeighFor returns the neighbour entry of ip in ns, ok false when none.
func NeighFor(ns string, ip netip.Addr) (NeighEntry, bool, error) {
	all, err := Neigh(ns)
	if err != nil {
		return NeighEntry{}, false, err
	}
	for _, e := range all {
		if e.IP == ip {
			return e, true, nil
		}
	}
	return NeighEntry{}, false, nil
}

// withLink opens a handle on ns, looks up link there and returns what f
// makes of them.
func withLink[T any](ns, link string, f func(h *netlink.Handle, l netlink.Link) (T, error)) (T, error) {
	var zero T
	h, err := nsutil.Handle(ns)
	if err != nil {
		return zero, err
	}
	defer h.Close()
	l, err := h.LinkByName(link)
	if err != nil {
		return zero, fmt.Errorf("%s in %s: %w", link, ns, err)
	}
	return f(h, l)
}

// LinkMTU returns the MTU of a link in ns.
func LinkMTU(ns, link string) (int, error) {
	return withLink(ns, link, func(_ *netlink.Handle, l netlink.Link) (int, error) {
		return l.Attrs().MTU, nil
	})
}

// LinkMAC returns the MAC of a link in ns.
func LinkMAC(ns, link string) (net.HardwareAddr, error) {
	return withLink(ns, link, func(_ *netlink.Handle, l netlink.Link) (net.HardwareAddr, error) {
		return l.Attrs().HardwareAddr, nil
	})
}

// LinkAddrs returns the addresses of a link in ns.
func LinkAddrs(ns, link string) ([]netip.Prefix, error) {
	return withLink(ns, link, func(h *netlink.Handle, l netlink.Link) ([]netip.Prefix, error) {
		list, err := h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s in %s: %w", link, ns, err)
		}
		var out []netip.Prefix
		for _, a := range list {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ones, _ := a.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
		}
		return out, nil
	})
}

// Route is one kernel route (main table).
type Route struct {
	Dst netip.Prefix
	Via []netip.Addr // next hops (several for ECMP)
	Dev string
	// Proto is who installed it (RTPROT_*: boot/static, kernel, bgp 186, ...).
	Proto int
}

// RouteProtoBGP is the protocol of routes a BGP speaker installed (zebra's
// for bgpd, and the lab's underlay routers').
const RouteProtoBGP = 186

// Learned tells a route a routing protocol installs and withdraws (BGP)
// from a static one.
func (r Route) Learned() bool { return r.Proto == RouteProtoBGP }

func (r Route) String() string {
	s := r.Dst.String()
	for _, v := range r.Via {
		s += " via " + v.String()
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	return s
}

// Routes lists the routes of namespace ns for a family (4 or 6).
func Routes(ns string, family int) ([]Route, error) {
	return withNames(ns, "routes", func(h *netlink.Handle, names map[int]string) ([]Route, error) {
		return routeList(h, ns, family, names)
	})
}

func routeList(h *netlink.Handle, ns string, family int, names map[int]string) ([]Route, error) {
	fam := netlink.FAMILY_V4
	if family == 6 {
		fam = netlink.FAMILY_V6
	}
	list, err := h.RouteList(nil, fam)
	if err != nil {
		return nil, fmt.Errorf("routes in %s: %w", ns, err)
	}
	var out []Route
	for _, r := range list {
		out = append(out, toRoute(r, family, names))
	}
	return out, nil
}

// toRoute turns a netlink route into a Route; names maps link indexes to
// names (nil: no device names).
func toRoute(r netlink.Route, family int, names map[int]string) Route {
	rt := Route{Dev: names[r.LinkIndex], Proto: int(r.Protocol)}
	if r.Dst == nil {
		if family == 6 {
			rt.Dst = netip.MustParsePrefix("::/0")
		} else {
			rt.Dst = netip.MustParsePrefix("0.0.0.0/0")
		}
	} else if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
		ones, _ := r.Dst.Mask.Size()
		rt.Dst = netip.PrefixFrom(a.Unmap(), ones)
	}
	add := func(ip net.IP) {
		if a, ok := netip.AddrFromSlice(ip); ok {
			rt.Via = append(rt.Via, a.Unmap())
		}
	}
	if r.Gw != nil {
		add(r.Gw)
	}
	if r.Via != nil {
		if v, ok := r.Via.(*netlink.Via); ok {
			add(v.Addr)
		}
	}
	for _, nh := range r.MultiPath {
		if nh.Gw != nil {
			add(nh.Gw)
		}
		if v, ok := nh.Via.(*netlink.Via); ok && v != nil {
			add(v.Addr)
		}
	}
	return rt
}

// Netstat reads the TcpExt/IpExt counters of namespace ns
// (/proc/thread-self/net/netstat follows the thread's namespace), e.g.
// "IPReversePathFilter", the packets dropped by rp_filter.
func Netstat(ns string) (map[string]int64, error) {
	out := map[string]int64{}
	err := nsutil.Do(ns, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/netstat")
		if err != nil {
			return err
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			for j := 1; j < len(keys) && j < len(vals); j++ {
				var n int64
				fmt.Sscan(vals[j], &n)
				out[keys[j]] = n
			}
		}
		return nil
	})
	return out, err
}

// Tables is a netlink handle kept open on one namespace, for polling.
type Tables struct {
	NS string
	h  *netlink.Handle
}

// OpenTables opens a handle on ns; Close it.
func OpenTables(ns string) (*Tables, error) {
	h, err := nsutil.Handle(ns)
	if err != nil {
		return nil, err
	}
	return &Tables{NS: ns, h: h}, nil
}

// Close releases the handle.
func (t *Tables) Close() { t.h.Close() }

// FDBFor returns the FDB entries for mac.
func (t *Tables) FDBFor(mac net.HardwareAddr) ([]FDBEntry, error) {
	list, err := t.h.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("fdb %s: %w", t.NS, err)
	}
	var names map[int]string
	var out []FDBEntry
	for _, n := range list {
		if !bytes.Equal(n.HardwareAddr, mac) {
			continue
		}
		if names == nil {
			if names, err = linkNames(t.h); err != nil {
				return nil, err
			}
		}
		out = append(out, fdbEntry(n, names))
	}
	return out, nil
}

// Routes lists the routes of the namespace for a family (4 or 6).
func (t *Tables) Routes(family int) ([]Route, error) {
	names, err := linkNames(t.h)
	if err != nil {
		return nil, fmt.Errorf("routes %s: links: %w", t.NS, err)
	}
	return routeList(t.h, t.NS, family, names)
}

// LinkNames lists the interfaces of ns (without lo).
func LinkNames(ns string) ([]string, error) {
	return withNames(ns, "links", func(_ *netlink.Handle, m map[int]string) ([]string, error) {
		var out []string
		for _, n := range m {
			if n != "lo" {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out, nil
	})
}
