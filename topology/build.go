package topology

// Namespace building: segments, nodes, routers, external hosts and
// guests, each in its namespace.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/config"
)

// keep tells the realizer which devices of the node namespace are the
// host's own (from its interfaces file) and not SDN devices.
func (n *Node) keep(name string) bool {
	if name == n.Link.Ifname || slices.Contains(n.P2P, name) {
		return true
	}
	if n.host != nil {
		_, ok := n.host.Ifaces[name]
		return ok
	}
	return false
}

func buildSegment(s *Segment) error {
	ns, err := nsutil.OpenNS(s.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if _, err := ns.EnsureBridge(s.Bridge, s.MTU, ""); err != nil {
		return err
	}
	// A switch only switches: no addresses, no IPv6 autoconf noise.
	if err := nsutil.Sysctls(s.NS, [2]string{"net.ipv6.conf.all.disable_ipv6", "1"}, [2]string{"net.ipv6.conf.default.disable_ipv6", "1"}); err != nil {
		return err
	}
	if _, err := nsutil.BridgeNetfilterOff(s.NS); err != nil {
		return err
	}
	return ns.Up(s.Bridge)
}

// attach plugs a namespace into a segment: a veth whose far end is a port
// of the segment's switch bridge.
func attach(lab *Lab, ns *nsutil.NS, l *Link, mtu int) error {
	seg := lab.Segment(l.Segment)
	sw, err := nsutil.OpenNS(seg.NS, false)
	if err != nil {
		return err
	}
	defer sw.Close()
	if l.Port == "" {
		l.Port = portName(ns.Name, lab.Prefix())
	}
	if err := ns.EnsureVeth(l.Ifname, l.MAC, mtu, sw, l.Port, ""); err != nil {
		return err
	}
	if err := sw.SetMaster(l.Port, seg.Bridge); err != nil {
		return err
	}
	return sw.Up(l.Port)
}

// portName names a switch port after the namespace plugged into it; names
// longer than an interface name allows get a short hash.
func portName(ns, prefix string) string {
	n := strings.TrimPrefix(ns, prefix)
	if len(n) <= 15 {
		return n
	}
	return "p" + shortHash(n, 12)
}

func buildNode(lab *Lab, n *Node, dir string) error {
	ns, err := nsutil.OpenNS(n.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := noDAD(ns.Name); err != nil {
		return err
	}
	seg := lab.Segment(n.Link.Segment)
	if err := attach(lab, ns, &n.Link, seg.MTU); err != nil {
		return err
	}
	if n.InterfacesText != "" {
		p := filepath.Join(dir, "nodes", n.Name, "interfaces")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(n.InterfacesText), 0o644); err != nil {
			return err
		}
		n.Interfaces = p
	}
	if err := realizeHost(ns, n, seg); err != nil {
		return err
	}
	return nodeRPFilter(n)
}

// nodeRPFilter applies the node's rp_filter to its underlay NIC and the
// bridge that carries it (and holds the node's address). conf.all is set to
// 0 so the per-interface value is what counts (the kernel uses the larger of
// the two); the node's other interfaces keep their own values.
func nodeRPFilter(n *Node) error {
	if n.RPFilter == "" {
		return nil
	}
	v := fmt.Sprint(n.Link.RPFilter)
	kv := [][2]string{
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net/ipv4/conf/" + n.Link.Ifname + "/rp_filter", v},
	}
	for _, name := range n.UnderlayIfaces() {
		if name != n.Link.Ifname {
			kv = append(kv, [2]string{"net/ipv4/conf/" + name + "/rp_filter", v})
		}
	}
	return nsutil.Sysctls(n.NS, kv...)
}

// UnderlayIfaces names the node's underlay NIC and the host bridges that
// have it as a port.
func (n *Node) UnderlayIfaces() []string {
	out := []string{n.Link.Ifname}
	if n.host == nil {
		return out
	}
	for _, name := range n.host.Order {
		ifc := n.host.Ifaces[name]
		if ifc == nil {
			continue
		}
		for _, p := range ifc.BridgePorts {
			if p == n.Link.Ifname {
				out = append(out, name)
			}
		}
	}
	return out
}

// realizeHost brings up a node's host interfaces file: the underlay NIC (our
// veth), bridges with their ports, addresses, MTUs and default routes.
func realizeHost(ns *nsutil.NS, n *Node, seg *Segment) error {
	hi := n.host
	if hi == nil {
		return fmt.Errorf("no host interfaces")
	}
	var gws []netip.Addr
	var routes []config.HostRoute
	for _, name := range hi.Order {
		ifc := hi.Ifaces[name]
		if name == "lo" || ifc == nil || ifc.Method4 == "loopback" {
			continue
		}
		if ifc.OVSType != "" || strings.Contains(name, ".") {
			continue // Open vSwitch and VLAN sub-interfaces are not part of the lab underlay
		}
		isBridge := len(ifc.BridgePorts) > 0 || strings.HasPrefix(name, "vmbr")
		if !isBridge && name != n.Link.Ifname {
			continue // a NIC the lab has no wire for
		}
		mtu := ifc.MTU
		if isBridge {
			carriesLink := false
			for _, p := range ifc.BridgePorts {
				if p == n.Link.Ifname {
					carriesLink = true
				}
			}
			mac := ""
			if carriesLink {
				mac = n.UnderlayMAC
				if mtu == 0 {
					mtu = seg.MTU
				}
			}
			if _, err := ns.EnsureBridge(name, mtu, mac); err != nil {
				return err
			}
			for _, p := range ifc.BridgePorts {
				if l, _ := ns.Link(p); l != nil {
					if err := ns.SetMaster(p, name); err != nil {
						return err
					}
				}
			}
		}
		if err := ns.SetAddrs(name, ifc.Addresses); err != nil {
			return err
		}
		if err := ns.Up(name); err != nil {
			return err
		}
		if ifc.Gateway.IsValid() {
			gws = append(gws, ifc.Gateway)
		}
		if ifc.Gateway6.IsValid() {
			gws = append(gws, ifc.Gateway6)
		}
		routes = append(routes, ifc.Routes...)
	}
	if err := ns.Up(n.Link.Ifname); err != nil {
		return err
	}
	if len(gws) == 0 {
		gws = []netip.Addr{n.Gateway4, n.Gateway6}
	}
	if err := defaultRoutes(ns, gws...); err != nil {
		return err
	}
	// The static routes of the file's up commands (a routed underlay's
	// other racks), as ifupdown adds them.
	for _, rt := range routes {
		if err := ns.ReplaceRoute(rt.Dst, []netip.Addr{rt.Via}, ""); err != nil {
			return fmt.Errorf("%s: route to %s via %s: %w", rt.Pos, rt.Dst, rt.Via, err)
		}
	}
	return nil
}

// defaultRoutes installs a default route through each valid gateway (of
// its own address family).
func defaultRoutes(ns *nsutil.NS, gws ...netip.Addr) error {
	for _, gw := range gws {
		if !gw.IsValid() {
			continue
		}
		if err := ns.ReplaceRoute(defaultRoute(gw.Is4()), []netip.Addr{gw}, ""); err != nil {
			return err
		}
	}
	return nil
}

func buildRouter(lab *Lab, r *Router) error {
	ns, err := nsutil.OpenNS(r.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := noDAD(ns.Name); err != nil {
		return err
	}
	kv := [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
	}
	for i := range r.Links {
		l := &r.Links[i]
		if l.MAC == "" {
			l.MAC = portMAC(r.NS, l.Ifname)
		}
		if err := attach(lab, ns, l, lab.Segment(l.Segment).MTU); err != nil {
			return err
		}
		if err := ns.SetAddrs(l.Ifname, l.Addrs); err != nil {
			return err
		}
		if err := ns.Up(l.Ifname); err != nil {
			return err
		}
		kv = append(kv, [2]string{"net/ipv4/conf/" + l.Ifname + "/rp_filter", fmt.Sprint(l.RPFilter)})
	}
	if err := nsutil.Sysctls(r.NS, kv...); err != nil {
		return err
	}
	// rp_filter covers IPv4 only: a strict uRPF router checks IPv6 with a
	// netfilter fib lookup on the same interfaces.
	var strict []string
	for _, l := range r.Links {
		if l.RPFilter == 1 {
			strict = append(strict, l.Ifname)
		}
	}
	if err := nsutil.SetRPF6(r.NS, strict); err != nil {
		return fmt.Errorf("router %s: %w", r.Name, err)
	}
	for _, rt := range r.Routes {
		if err := ns.ReplaceRoute(rt.Dst, rt.Via, ""); err != nil {
			return err
		}
	}
	return nil
}

func buildHost(lab *Lab, h *Host) error {
	ns, err := nsutil.OpenNS(h.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := noDAD(ns.Name); err != nil {
		return err
	}
	if err := attach(lab, ns, &h.Link, lab.Segment(h.Link.Segment).MTU); err != nil {
		return err
	}
	if err := ns.SetAddrs(h.Link.Ifname, h.Link.Addrs); err != nil {
		return err
	}
	if err := ns.Up(h.Link.Ifname); err != nil {
		return err
	}
	return defaultRoutes(ns, h.Gateway4, h.Gateway6)
}

// buildGuest makes the guest namespace and its NIC, and plugs the tap into
// the VNet bridge on its node. When the bridge was not realized (zone type
// the kernel cannot do) the guest is built unplugged and a note returned.
func buildGuest(lab *Lab, g *Guest) (string, error) {
	brNS := lab.BridgeNS(g.Node, g.VNet)
	host, err := nsutil.OpenNS(brNS, false)
	if err != nil {
		return "", err
	}
	defer host.Close()
	bridge, err := host.Link(g.VNet)
	if err != nil {
		return "", err
	}
	// The tap may already be on another node's bridge (migrated earlier):
	// then leave it where it is. Only a guest that exists can have moved.
	if nsutil.Exists(g.NS) {
		if l, _ := host.Link(g.Tap); l == nil {
			if cur := guestTapNS(lab, g); cur != "" && cur != brNS {
				return "", nil
			}
		}
	}
	ns, err := nsutil.OpenNS(g.NS, true)
	if err != nil {
		return "", err
	}
	defer ns.Close()
	if err := ns.EnsureVeth(g.Ifname, g.MAC, g.MTU, host, g.Tap, ""); err != nil {
		return "", err
	}
	if err := guestSysctls(g.NS, g.Ifname); err != nil {
		return "", err
	}
	if err := ns.SetAddrs(g.Ifname, g.Addrs); err != nil {
		return "", err
	}
	if err := ns.Up(g.Ifname); err != nil {
		return "", err
	}
	if err := defaultRoutes(ns, g.Gateway4, g.Gateway6); err != nil {
		return "", err
	}
	if bridge == nil {
		return fmt.Sprintf("guest %s: not plugged in: vnet %s has no bridge on node %s", g.Name, g.VNet, g.Node), nil
	}
	if err := plugTap(host, g); err != nil {
		return "", err
	}
	if g.DHCP {
		waitOperUp(context.Background(), ns, g.Ifname, time.Second)
		if err := guestDHCP(context.Background(), lab, g); err != nil {
			return fmt.Sprintf("guest %s: ip: dhcp: %v", g.Name, err), nil
		}
	}
	return "", nil
}

// guestTapNS finds the namespace that holds a guest's tap on any node of
// the lab ("" when none does yet).
func guestTapNS(lab *Lab, g *Guest) string {
	for _, n := range lab.Nodes {
		ns := lab.BridgeNS(n.Name, g.VNet)
		h, err := nsutil.OpenNS(ns, false)
		if err != nil {
			continue
		}
		l, _ := h.Link(g.Tap)
		h.Close()
		if l != nil {
			return ns
		}
	}
	return ""
}

// noDAD turns IPv6 duplicate address detection off for the interfaces a
// namespace gets: addresses are usable at once (a lab decides them, no
// duplicates), instead of tentative for a second or two after up.
func noDAD(ns string) error {
	return nsutil.Sysctls(ns, [2]string{"net.ipv6.conf.all.accept_dad", "0"}, [2]string{"net.ipv6.conf.default.accept_dad", "0"})
}

// guestSysctls turns DAD off on a guest's NIC and makes the guest keep its
// ARP and ND caches when the NIC loses carrier, in one namespace switch.
//
// A QEMU guest's NIC keeps carrier through a live migration; the lab's veth
// loses it while its host end changes namespace, and Linux would then flush
// the cache a real guest keeps. The evict_nocarrier knobs exist from Linux
// 5.16 on; older kernels keep the flush.
func guestSysctls(ns, ifname string) error {
	set := func(key string, optional bool) error {
		path, err := nsutil.SysctlPath(key)
		if err != nil {
			return fmt.Errorf("%s: %w", ns, err)
		}
		if _, err := os.Stat(path); err != nil && optional {
			return nil
		}
		if err := os.WriteFile(path, []byte("0"), 0o644); err != nil {
			return fmt.Errorf("%s: sysctl %s=%s: %w", ns, key, "0", err)
		}
		return nil
	}
	return nsutil.Do(ns, func() error {
		if err := set("net/ipv6/conf/"+ifname+"/accept_dad", false); err != nil {
			return err
		}
		for _, key := range []string{
			"net/ipv4/conf/all/arp_evict_nocarrier",
			"net/ipv4/conf/" + ifname + "/arp_evict_nocarrier",
			"net/ipv6/conf/" + ifname + "/ndisc_evict_nocarrier",
		} {
			if err := set(key, true); err != nil {
				return err
			}
		}
		return nil
	})
}
