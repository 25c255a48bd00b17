package probe

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// UDPFrame builds an Ethernet/IP/UDP frame carrying payload, IPv4 or IPv6
// as the addresses are. dstIP may be 255.255.255.255 (IPv4 broadcast) or an
// IPv6 multicast address such as ff02::1 (with dst its MulticastMAC).
func UDPFrame(src, dst net.HardwareAddr, srcIP, dstIP netip.Addr, dport uint16, payload []byte) ([]byte, error) {
	var (
		eth *layers.Ethernet
		ip  gopacket.NetworkLayer
		l3  gopacket.SerializableLayer
	)
	switch {
	case srcIP.Is4() && dstIP.Is4():
		eth = &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}
		v := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: srcIP.AsSlice(), DstIP: dstIP.AsSlice()}
		ip, l3 = v, v
	case srcIP.Is6() && dstIP.Is6():
		eth = &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv6}
		v := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: srcIP.AsSlice(), DstIP: dstIP.AsSlice()}
		ip, l3 = v, v
	default:
		return nil, fmt.Errorf("udp frame: addresses of one family needed, got %s -> %s", srcIP, dstIP)
	}
	udp := &layers.UDP{SrcPort: 40999, DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, l3, udp, gopacket.Payload(payload)); err != nil {
		return nil, fmt.Errorf("udp frame: %w", err)
	}
	return buf.Bytes(), nil
}

// AllNodes is ff02::1, the IPv6 all-nodes group: IPv6 has no broadcast,
// and a frame to this group is flooded to every port of a VNet.
var AllNodes = netip.MustParseAddr("ff02::1")

// MulticastMAC is the Ethernet address of an IPv6 multicast group
// (33:33 and the group's last 32 bits, RFC 2464).
func MulticastMAC(group netip.Addr) net.HardwareAddr {
	b := group.As16()
	return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// VXLANPayload is the UDP payload of a VXLAN packet: the 8-byte header
// (I flag, VNI) followed by the inner frame.
func VXLANPayload(vni uint32, inner []byte) []byte {
	b := make([]byte, 8+len(inner))
	b[0] = 0x08 // I flag: the VNI is valid
	binary.BigEndian.PutUint32(b[4:], vni<<8)
	copy(b[8:], inner)
	return b
}

// SendFrames writes raw Ethernet frames out of ifname in namespace ns
// through an AF_PACKET socket opened there.
func SendFrames(ns, ifname string, frames ...[]byte) error {
	return nsutil.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return fmt.Errorf("send frame: %s in %s: %w", ifname, ns, err)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("send frame: packet socket in %s: %w", ns, err)
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		for _, f := range frames {
			if len(f) < 14 {
				return fmt.Errorf("send frame: frame of %d bytes", len(f))
			}
			copy(sa.Addr[:], f[:6])
			sa.Protocol = htons(binary.BigEndian.Uint16(f[12:14]))
			if err := unix.Sendto(fd, f, 0, sa); err != nil {
				return fmt.Errorf("send frame on %s in %s: %w", ifname, ns, err)
			}
		}
		return nil
	})
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// SendUDP sends one UDP datagram from namespace ns to dst (used to inject
// VXLAN from a host that is not a VTEP).
func SendUDP(ns string, dst netip.AddrPort, payload []byte) error {
	return nsutil.Do(ns, func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return fmt.Errorf("udp to %s from %s: %w", dst, ns, err)
		}
		defer c.Close()
		if _, err := c.Write(payload); err != nil {
			return fmt.Errorf("udp to %s from %s: %w", dst, ns, err)
		}
		return nil
	})
}

// FlushNeigh deletes the neighbour entry of ip on every link of ns (so the
// next packet to ip needs ARP/ND again).
func FlushNeigh(ns string, ip netip.Addr) error {
	h, err := nsutil.Handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	fam := unix.AF_INET
	if ip.Is6() {
		fam = unix.AF_INET6
	}
	list, err := h.NeighList(0, fam)
	if err != nil {
		return fmt.Errorf("flush neigh %s in %s: %w", ip, ns, err)
	}
	for _, n := range list {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip {
			if err := h.NeighDel(&n); err != nil {
				return fmt.Errorf("flush neigh %s in %s: %w", ip, ns, err)
			}
		}
	}
	return nil
}
