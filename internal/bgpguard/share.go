package bgpguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Share is a TCP port shared with another speaker in one namespace: on an
// agent node whose BGP fabric runs in FRR's bgpd, bgpd listens on every
// address of port 179 (the fabric's sessions come to link-local
// addresses) and the guard on the addresses of the EVPN sessions only.
//
// Linux lets two listeners share a port with SO_REUSEPORT only when both
// set it and the same user owns both sockets. bgpd sets it and runs as the
// frr user, so the guard's sockets are created as that user. For a
// connection, Linux then takes the listener bound to its exact destination
// address over the one bound to every address, so each session reaches
// its own speaker.
type Share struct {
	// Addrs are the guard's addresses (bound even before they exist).
	Addrs []netip.Addr
	// UID owns the other speaker's sockets (the frr user of the FRR that
	// runs it); -1 leaves the guard's sockets to the caller's user.
	UID int
}

// Listen opens a listener on ap that leaves the rest of its port to the
// other speaker.
func (s *Share) Listen(ap netip.AddrPort) (net.Listener, error) {
	uid := s.UID
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if ap.Addr().Is4() {
				serr = errors.Join(serr, unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1))
			} else {
				serr = errors.Join(serr, unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, 1))
			}
		})
		return errors.Join(err, serr)
	}}
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp6"
	}
	if uid < 0 {
		return lc.Listen(context.Background(), network, ap.String())
	}
	// The socket's owner is the creating thread's filesystem user. A
	// thread of its own makes it; the thread stays locked, so it ends with
	// its goroutine instead of going back to the runtime as another user.
	type result struct {
		l   net.Listener
		err error
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("this thread's network namespace: %w", err)
	}
	defer ns.Close()
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// In the caller's namespace, which may be its thread's alone.
		if err := netns.Set(ns); err != nil {
			done <- result{err: fmt.Errorf("enter the namespace: %w", err)}
			return
		}
		if err := unix.Setfsuid(uid); err != nil {
			done <- result{err: fmt.Errorf("create the socket as uid %d: %w", uid, err)}
			return
		}
		l, err := lc.Listen(context.Background(), network, ap.String())
		done <- result{l, err}
	}()
	r := <-done
	return r.l, r.err
}
