package nsutil

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is an open network namespace: a netlink handle bound to it and a file
// descriptor (for moving links in). The lab builder uses it too.
type NS struct {
	Name string
	H    *netlink.Handle
	Fd   netns.NsHandle
}

// OpenNS opens (and with create, first creates) a named namespace and
// brings its loopback up.
func OpenNS(name string, create bool) (*NS, error) {
	if create {
		if err := Create(name); err != nil {
			return nil, err
		}
	}
	fd, err := Open(name)
	if err != nil {
		return nil, err
	}
	h, err := netlink.NewHandleAt(fd, unix.NETLINK_ROUTE)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("netlink handle in %s: %w", name, err)
	}
	n := &NS{Name: name, H: h, Fd: fd}
	if create {
		if lo, err := h.LinkByName("lo"); err == nil && lo.Attrs().Flags&net.FlagUp == 0 {
			if err := h.LinkSetUp(lo); err != nil {
				n.Close()
				return nil, fmt.Errorf("%s: lo up: %w", name, err)
			}
		}
	}
	return n, nil
}

// Close releases the handle and the descriptor.
func (n *NS) Close() {
	if n == nil {
		return
	}
	n.H.Close()
	n.Fd.Close()
}

func (n *NS) Errf(dev string, err error) error {
	return fmt.Errorf("%s: %s: %w", n.Name, dev, err)
}

// Link returns the link called name, or nil if there is none.
func (n *NS) Link(name string) (netlink.Link, error) {
	l, err := n.H.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, nil
		}
		return nil, n.Errf(name, err)
	}
	return l, nil
}

func parseMAC(s string) net.HardwareAddr {
	if s == "" {
		return nil
	}
	hw, err := net.ParseMAC(s)
	if err != nil {
		return nil
	}
	return hw
}

// EnsureBridge makes sure a bridge exists with the given MTU (0: leave) and
// MAC ("" leave), without STP (Proxmox's bridge_stp off).
func (n *NS) EnsureBridge(name string, mtu int, mac string) (netlink.Link, error) {
	l, err := n.Link(name)
	if err != nil {
		return nil, err
	}
	if l != nil && l.Type() != "bridge" {
		if err := n.H.LinkDel(l); err != nil {
			return nil, n.Errf(name, err)
		}
		l = nil
	}
	if l == nil {
		la := netlink.NewLinkAttrs()
		la.Name = name
		if mtu > 0 {
			la.MTU = mtu
		}
		la.HardwareAddr = parseMAC(mac)
		// A new bridge has STP off, so ports forward at once (bridge_fd is moot).
		if err := n.H.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return nil, n.Errf(name, fmt.Errorf("add bridge: %w", err))
		}
		if l, err = n.H.LinkByName(name); err != nil {
			return nil, n.Errf(name, err)
		}
	}
	return l, n.SetAttrs(l, mtu, mac)
}

func (n *NS) SetAttrs(l netlink.Link, mtu int, mac string) error {
	a := l.Attrs()
	if mtu > 0 && a.MTU != mtu {
		if err := n.H.LinkSetMTU(l, mtu); err != nil {
			return n.Errf(a.Name, fmt.Errorf("mtu %d: %w", mtu, err))
		}
	}
	if hw := parseMAC(mac); hw != nil && a.HardwareAddr.String() != hw.String() {
		if err := n.H.LinkSetHardwareAddr(l, hw); err != nil {
			return n.Errf(a.Name, fmt.Errorf("mac %s: %w", hw, err))
		}
	}
	return nil
}

// EnsureVeth makes sure a veth pair exists with one end, name, here and the
// other, peerName, in peer's namespace. Both ends are created directly in
// their namespaces, so the host namespace never sees them.
func (n *NS) EnsureVeth(name, mac string, mtu int, peer *NS, peerName, peerMAC string) error {
	l, err := n.Link(name)
	if err != nil {
		return err
	}
	if l != nil {
		p, err := peer.Link(peerName)
		if err != nil {
			return err
		}
		if l.Type() == "veth" && p != nil && p.Type() == "veth" {
			if err := n.SetAttrs(l, mtu, mac); err != nil {
				return err
			}
			return peer.SetAttrs(p, mtu, peerMAC)
		}
		if err := n.H.LinkDel(l); err != nil {
			return n.Errf(name, err)
		}
	}
	if p, _ := peer.Link(peerName); p != nil {
		if err := peer.H.LinkDel(p); err != nil {
			return peer.Errf(peerName, err)
		}
	}
	la := netlink.NewLinkAttrs()
	la.Name = name
	la.MTU = mtu
	la.HardwareAddr = parseMAC(mac)
	v := &netlink.Veth{LinkAttrs: la, PeerName: peerName, PeerHardwareAddr: parseMAC(peerMAC)}
	if peer.Name != n.Name {
		v.PeerNamespace = netlink.NsFd(int(peer.Fd))
	}
	if err := n.H.LinkAdd(v); err != nil {
		return n.Errf(name, fmt.Errorf("add veth to %s/%s: %w", peer.Name, peerName, err))
	}
	return nil
}

// SetMaster enslaves port to bridge (no-op when it already is).
func (n *NS) SetMaster(port, bridge string) error {
	p, err := n.H.LinkByName(port)
	if err != nil {
		return n.Errf(port, err)
	}
	b, err := n.H.LinkByName(bridge)
	if err != nil {
		return n.Errf(bridge, err)
	}
	if p.Attrs().MasterIndex == b.Attrs().Index {
		return nil
	}
	if err := n.H.LinkSetMasterByIndex(p, b.Attrs().Index); err != nil {
		return n.Errf(port, fmt.Errorf("master %s: %w", bridge, err))
	}
	return nil
}

// Up sets links up.
func (n *NS) Up(names ...string) error {
	for _, name := range names {
		l, err := n.H.LinkByName(name)
		if err != nil {
			return n.Errf(name, err)
		}
		if l.Attrs().Flags&net.FlagUp != 0 {
			continue
		}
		if err := n.H.LinkSetUp(l); err != nil {
			return n.Errf(name, fmt.Errorf("up: %w", err))
		}
	}
	return nil
}

// SetAddrs makes the global addresses of a link exactly addrs (IPv6
// link-local ones are left alone). IPv6 addresses skip DAD: anycast gateways
// carry the same address on every node by design.
func (n *NS) SetAddrs(name string, addrs []netip.Prefix) error {
	l, err := n.H.LinkByName(name)
	if err != nil {
		return n.Errf(name, err)
	}
	have, err := n.H.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return n.Errf(name, err)
	}
	want := map[netip.Prefix]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	for _, a := range have {
		p, ok := addrPrefix(a.IPNet)
		if !ok || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if want[p] {
			delete(want, p)
			continue
		}
		if err := n.H.AddrDel(l, &a); err != nil {
			return n.Errf(name, fmt.Errorf("del address %s: %w", p, err))
		}
	}
	for _, p := range addrs {
		if !want[p] {
			continue
		}
		a := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := n.H.AddrReplace(l, a); err != nil {
			return n.Errf(name, fmt.Errorf("address %s: %w", p, err))
		}
	}
	return nil
}

func addrPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// ReplaceRoute installs (or replaces) a route to dst through one or more
// next hops, or (via empty) directly out of dev.
func (n *NS) ReplaceRoute(dst netip.Prefix, via []netip.Addr, dev string) error {
	r := &netlink.Route{Dst: ipNet(dst.Masked())}
	if dst.Addr().Is6() {
		r.Family = netlink.FAMILY_V6
	} else {
		r.Family = netlink.FAMILY_V4
	}
	var link netlink.Link
	if dev != "" {
		l, err := n.H.LinkByName(dev)
		if err != nil {
			return n.Errf(dev, err)
		}
		link = l
		r.LinkIndex = l.Attrs().Index
	}
	switch len(via) {
	case 0:
		r.Scope = netlink.SCOPE_LINK
	case 1:
		r.Gw = net.IP(via[0].AsSlice())
	default:
		for _, v := range via {
			nh := &netlink.NexthopInfo{Gw: net.IP(v.AsSlice())}
			if link != nil {
				nh.LinkIndex = link.Attrs().Index
			}
			r.MultiPath = append(r.MultiPath, nh)
		}
		r.LinkIndex = 0
	}
	if err := n.H.RouteReplace(r); err != nil {
		return fmt.Errorf("%s: route %s via %v: %w", n.Name, dst, via, err)
	}
	return nil
}

// Sysctls writes several sysctls inside the namespace in one go (keys as
// for Sysctl: dotted, or a path below /proc/sys).
func Sysctls(ns string, kv ...[2]string) error {
	return Do(ns, func() error {
		for _, p := range kv {
			key := p[0]
			path, err := SysctlPath(key)
			if err != nil {
				return fmt.Errorf("%s: %w", ns, err)
			}
			if err := os.WriteFile(path, []byte(p[1]), 0o644); err != nil {
				return fmt.Errorf("%s: sysctl %s=%s: %w", ns, key, p[1], err)
			}
		}
		return nil
	})
}

// Unreachable adds (or removes) an unreachable route with a metric.
func (n *NS) Unreachable(dst netip.Prefix, metric uint32, add bool) error {
	r := &netlink.Route{Dst: ipNet(dst.Masked()), Type: unix.RTN_UNREACHABLE, Priority: int(metric), Family: netlink.FAMILY_V4}
	if dst.Addr().Is6() {
		r.Family = netlink.FAMILY_V6
	}
	if add {
		if err := n.H.RouteReplace(r); err != nil {
			return fmt.Errorf("%s: unreachable %s metric %d: %w", n.Name, dst, metric, err)
		}
		return nil
	}
	_ = n.H.RouteDel(r) // absent is fine
	return nil
}

// CheckIfname rejects a network interface name the kernel would refuse:
// empty, longer than 15 bytes, ".", "..", or holding '/', ':' or white space.
func CheckIfname(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%q is not an interface name", name)
	case len(name) > 15:
		return fmt.Errorf("interface name %q is longer than 15 bytes", name)
	case strings.ContainsAny(name, "/: \t\n"):
		return fmt.Errorf("interface name %q holds '/', ':' or white space", name)
	}
	return nil
}
