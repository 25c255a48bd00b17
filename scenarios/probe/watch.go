package probe

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// RouteState is a namespace's routing table right after the kernel
// announced a change, stamped with the moment the announcement arrived.
type RouteState struct {
	At     time.Time
	Routes []Route
}

// RouteWatch records a namespace's routing table each time the kernel
// announces a route change (netlink multicast), starting with the table
// as it was: when a route came or went is read from these announcements,
// not from polling.
type RouteWatch struct {
	fd     int
	h      *netlink.Handle
	family int
	stop   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	states []RouteState
	err    error
}

// WatchRoutes starts recording the routes of namespace ns for a family
// (4 or 6).
func WatchRoutes(ns string, family int) (*RouteWatch, error) {
	h, err := nsutil.Handle(ns)
	if err != nil {
		return nil, err
	}
	w := &RouteWatch{fd: -1, h: h, family: family, stop: make(chan struct{})}
	group := uint32(unix.RTMGRP_IPV4_ROUTE)
	if family == 6 {
		group = unix.RTMGRP_IPV6_ROUTE
	}
	// The socket is opened inside the namespace and stays bound to it.
	err = nsutil.Do(ns, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		// A short receive timeout lets Close stop the reader.
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: group}); err != nil {
			unix.Close(fd)
			return err
		}
		w.fd = fd
		return nil
	})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("watch routes in %s: %w", ns, err)
	}
	if err := w.snapshot(time.Now()); err != nil {
		w.Close()
		return nil, err
	}
	w.wg.Add(1)
	go w.read()
	return w, nil
}

func (w *RouteWatch) read() {
	defer w.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		at := time.Now()
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			// Announcements were lost: the table is re-read, but the
			// moment of the change is known only to be before now.
			w.fail(fmt.Errorf("route notifications lost (socket buffer overflow)"))
		case err != nil:
			w.fail(err)
			return
		}
		changed := err != nil
		if err == nil {
			msgs, perr := syscall.ParseNetlinkMessage(buf[:n])
			if perr != nil {
				w.fail(perr)
				continue
			}
			for _, m := range msgs {
				changed = changed || m.Header.Type == unix.RTM_NEWROUTE || m.Header.Type == unix.RTM_DELROUTE
			}
		}
		if changed {
			if err := w.snapshot(at); err != nil {
				w.fail(err)
			}
		}
	}
}

func (w *RouteWatch) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *RouteWatch) snapshot(at time.Time) error {
	fam := netlink.FAMILY_V4
	if w.family == 6 {
		fam = netlink.FAMILY_V6
	}
	list, err := w.h.RouteList(nil, fam)
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	st := RouteState{At: at}
	for _, r := range list {
		st.Routes = append(st.Routes, toRoute(r, w.family, nil))
	}
	w.mu.Lock()
	w.states = append(w.states, st)
	w.mu.Unlock()
	return nil
}

// Close stops recording.
func (w *RouteWatch) Close() {
	select {
	case <-w.stop:
		return
	default:
		close(w.stop)
	}
	w.wg.Wait()
	if w.fd >= 0 {
		unix.Close(w.fd)
	}
	w.h.Close()
}

// States returns the tables recorded so far, and the first error (lost
// announcements make the moments uncertain).
func (w *RouteWatch) States() ([]RouteState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]RouteState(nil), w.states...), w.err
}

// GoneAt returns the first announcement after t from which on no route to
// dst leads via nh (ok false: one still did at the last one), and the
// routes to dst at the last one.
func (w *RouteWatch) GoneAt(dst netip.Prefix, nh netip.Addr, t time.Time) (at time.Time, ok bool, final []Route, err error) {
	states, err := w.States()
	for _, st := range states {
		var to []Route
		via := false
		for _, r := range st.Routes {
			if r.Dst != dst {
				continue
			}
			to = append(to, r)
			for _, v := range r.Via {
				via = via || v == nh
			}
		}
		final = to
		switch {
		case via:
			at, ok = time.Time{}, false
		case !ok && st.At.After(t):
			at, ok = st.At, true
		}
	}
	return at, ok, final, err
}
