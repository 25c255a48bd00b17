package nsutil

import (
	"fmt"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// AsUser runs fn on a fresh OS thread in the calling thread's network
// namespace with uid as its filesystem user, so that sockets fn creates
// belong to uid (Linux shares a port through SO_REUSEPORT only between
// sockets of one owner). The thread is discarded afterwards, as Do's are.
func AsUser(uid int, fn func() error) error {
	ns, err := netns.Get()
	if err != nil {
		return fmt.Errorf("this thread's network namespace: %w", err)
	}
	defer ns.Close()
	return onThread(func() error {
		if err := unix.Setns(int(ns), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		if err := unix.Setfsuid(uid); err != nil {
			return fmt.Errorf("filesystem user %d: %w", uid, err)
		}
		return fn()
	})
}

// FreeBind lets the socket fd bind an address not (yet) on the namespace's
// interfaces (a loopback address configured after the daemon starts).
func FreeBind(fd uintptr, v6 bool) error {
	if v6 {
		return unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, 1)
	}
	return unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
}
