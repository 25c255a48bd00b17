package bfd

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// The sockets are plain non-blocking descriptors, deliberately kept out of
// Go's network poller. A descriptor in the poller wakes the process for
// every packet that arrives, and for every packet it sent once the kernel
// frees it (the socket's write-space callback). Measured on a 50-node mesh
// (perf, docs/SCALE.md): those wake-ups and the context switches they cost
// were most of each agent's CPU. The scheduler polls the sockets on its
// own passes instead (Config.Poll) and sends a pass's packets in one
// sendmmsg.

// rxBuffer is the receive buffer asked for (the kernel doubles it).
const rxBuffer = 1 << 20

// sock is one BFD socket.
type sock struct {
	fd int
	v6 bool // AF_INET6 (IPv4 peers as mapped addresses)
	tx txScratch
}

// txScratch is sendBatch's headers, kept between calls: the scheduler
// sends every pass, and only its goroutine sends.
type txScratch struct {
	hdrs   []mmsghdr
	iovs   []unix.Iovec
	names4 []unix.RawSockaddrInet4
	names6 []unix.RawSockaddrInet6
}

// grow returns n zeroed headers of each kind.
func (t *txScratch) grow(n int) ([]mmsghdr, []unix.Iovec, []unix.RawSockaddrInet4, []unix.RawSockaddrInet6) {
	if cap(t.hdrs) < n {
		t.hdrs, t.iovs = make([]mmsghdr, n), make([]unix.Iovec, n)
		t.names4, t.names6 = make([]unix.RawSockaddrInet4, n), make([]unix.RawSockaddrInet6, n)
	}
	h, i, n4, n6 := t.hdrs[:n], t.iovs[:n], t.names4[:n], t.names6[:n]
	clear(h)
	clear(i)
	clear(n4)
	clear(n6)
	return h, i, n4, n6
}

// openSock opens a UDP socket bound to local:port (any address when local
// is unset: dual-stack where the kernel has IPv6) that sends with TTL 255
// (RFC 5881 GTSM).
func openSock(local netip.Addr, port int, reuse bool) (*sock, error) {
	v6 := !local.IsValid() || local.Is6()
	fd, err := unix.Socket(family(v6), unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil && !local.IsValid() {
		// A kernel without IPv6: an IPv4 socket serves every peer there is.
		v6 = false
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	s := &sock{fd: fd, v6: v6}
	if err := s.setup(local, port, reuse); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

func family(v6 bool) int {
	if v6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func (s *sock) setup(local netip.Addr, port int, reuse bool) error {
	if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_TTL, 255); err != nil {
		return fmt.Errorf("IP_TTL: %w", err)
	}
	if s.v6 {
		if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 255); err != nil {
			return fmt.Errorf("IPV6_UNICAST_HOPS: %w", err)
		}
		if !local.IsValid() {
			if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
				return fmt.Errorf("IPV6_V6ONLY: %w", err)
			}
		}
	}
	if reuse {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("SO_REUSEADDR: %w", err)
		}
		// Packets wait up to Poll to be read: 99 peers send about 40 in
		// 100 ms, a reset storm many more. The default buffer holds about
		// 300; the agent runs as root and may pass the host's rmem_max
		// ffor its own socket (best effort: the default still works).
		_ = unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rxBuffer)
	}
	if local.IsValid() {
		// A session address may come up after the agent (a loopback).
		if err := nsutil.FreeBind(uintptr(s.fd), s.v6); err != nil {
			return fmt.Errorf("freebind: %w", err)
		}
	}
	if err := unix.Bind(s.fd, sockaddr(s.v6, netip.AddrPortFrom(local, uint16(port)))); err != nil {
		return fmt.Errorf("bind %s port %d: %w", local, port, err)
	}
	return nil
}

func sockaddr(v6 bool, ap netip.AddrPort) unix.Sockaddr {
	if v6 {
		a := ap.Addr()
		if !a.IsValid() {
			a = netip.IPv6Unspecified()
		}
		return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	a := ap.Addr()
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
}

func (s *sock) close() { unix.Close(s.fd) }

// mmsghdr is struct mmsghdr: a msghdr and the byte count the kernel fills.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// outPacket is one packet to send: to dst, from the source address in oob
// (IP_PKTINFO/IPV6_PKTINFO) when there is one.
type outPacket struct {
	pkt []byte
	dst netip.AddrPort
	oob []byte
}

// sendBatch sends the packets with as few sendmmsg calls as the kernel
// allows; a packet the kernel refuses is reported through fail and
// skipped, the rest still go out.
func (s *sock) sendBatch(out []outPacket, fail func(p outPacket, err error)) {
	if len(out) == 0 {
		return
	}
	hdrs, iovs, names4, names6 := s.tx.grow(len(out))
	for i, p := range out {
		iovs[i].Base = &p.pkt[0]
		iovs[i].SetLen(len(p.pkt))
		h := &hdrs[i].hdr
		h.Iov, h.Iovlen = &iovs[i], 1
		if len(p.oob) > 0 {
			h.Control = &p.oob[0]
			h.SetControllen(len(p.oob))
		}
		port := p.dst.Port()
		if s.v6 {
			n := &names6[i]
			n.Family = unix.AF_INET6
			putPort(&n.Port, port)
			n.Addr = p.dst.Addr().As16()
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(n)), unix.SizeofSockaddrInet6
		} else {
			n := &names4[i]
			n.Family = unix.AF_INET
			putPort(&n.Port, port)
			n.Addr = p.dst.Addr().Unmap().As4()
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(n)), unix.SizeofSockaddrInet4
		}
	}
	for i := 0; i < len(hdrs); {
		// Raw: the descriptor never blocks, and a pass's send runs the
		// whole kernel path of its packets (hundreds of microseconds at
		// 99 sessions). Announced as a syscall, the runtime's monitor
		// would hand the processor to another thread meanwhile and take it
		// back after: measured, futex wake-ups doubled at 50 nodes.
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&hdrs[i])), uintptr(len(hdrs)-i), 0, 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			// The first packet left was refused (no route, a full buffer):
			// report it and go on with the others.
			fail(out[i], errno)
			i++
		default:
			i += int(r)
		}
	}
	runtime.KeepAlive(out)
	runtime.KeepAlive(iovs)
	runtime.KeepAlive(names4)
	runtime.KeepAlive(names6)
}

// putPort stores a port in network byte order, as a raw sockaddr holds it.
func putPort(p *uint16, port uint16) {
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(p))[:], port)
}

// rxBatch is the buffers of one recvmmsg.
type rxBatch struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	bufs  [][]byte
	names []unix.RawSockaddrInet6 // large enough for either family
}

func newRxBatch(n, size int) *rxBatch {
	b := &rxBatch{hdrs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n), bufs: make([][]byte, n), names: make([]unix.RawSockaddrInet6, n)}
	for i := range n {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
	}
	return b
}

// drain receives until the socket is empty, handing each packet and its
// sender to fn; it returns how many packets came.
func (s *sock) drain(b *rxBatch, fn func(pkt []byte, from netip.Addr)) (int, error) {
	total := 0
	for {
		for i := range b.hdrs {
			h := &b.hdrs[i].hdr
			h.Iov, h.Iovlen = &b.iovs[i], 1
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(&b.names[i])), unix.SizeofSockaddrInet6
			h.Control, h.Controllen, h.Flags = nil, 0, 0
			b.hdrs[i].n = 0
		}
		r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		runtime.KeepAlive(b)
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return total, nil
		case errno != 0:
			return total, errno
		}
		for i := range int(r) {
			fn(b.bufs[i][:b.hdrs[i].n], sender(&b.names[i]))
		}
		total += int(r)
		if int(r) < len(b.hdrs) {
			return total, nil
		}
	}
}

// sender reads the address recvmmsg wrote (either family).
func sender(n *unix.RawSockaddrInet6) netip.Addr {
	switch n.Family {
	case unix.AF_INET6:
		return netip.AddrFrom16(n.Addr).Unmap()
	case unix.AF_INET:
		n4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(n))
		return netip.AddrFrom4(n4.Addr)
	}
	return netip.Addr{}
}
