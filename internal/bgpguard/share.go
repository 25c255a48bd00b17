package bgpguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
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
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1), nsutil.FreeBind(fd, ap.Addr().Is6()))
		})
		return errors.Join(err, serr)
	}}
	network := "tcp4"
	if ap.Addr().Is6() {
		network = "tcp6"
	}
	var l net.Listener
	listen := func() (err error) {
		l, err = lc.Listen(context.Background(), network, ap.String())
		return err
	}
	if s.UID < 0 {
		return l, listen()
	}
	// The socket's owner is the creating thread's filesystem user.
	return l, nsutil.AsUser(s.UID, listen)
}
