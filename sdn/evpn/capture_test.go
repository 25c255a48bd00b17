package evpn

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// tunnelARP counts ARP frames carried in VXLAN (UDP 4789) on an underlay
// interface while it runs; stop returns the count.
func (l *lab) tunnelARP(t testing.TB, ns, dev string) (stop func() int) {
	t.Helper()
	var fd int
	err := nsutil.Do(ns, func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	var count atomic.Int32
	var done atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		buf := make([]byte, 2048)
		for !done.Load() {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || n < 14+20 {
				continue
			}
			if isVxlanARP(buf[:n]) {
				count.Add(1)
			}
		}
	}()
	return func() int {
		done.Store(true)
		<-finished
		unix.Close(fd)
		return int(count.Load())
	}
}

// isVxlanARP parses Ethernet/IPv4/UDP 4789/VXLAN/Ethernet and tells an
// inner ARP frame.
func isVxlanARP(b []byte) bool {
	if binary.BigEndian.Uint16(b[12:14]) != 0x0800 {
		return false
	}
	ip := b[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[9] != 17 || len(ip) < ihl+8+8+14 {
		return false
	}
	udp := ip[ihl:]
	if binary.BigEndian.Uint16(udp[2:4]) != 4789 {
		return false
	}
	inner := udp[8+8:]
	return binary.BigEndian.Uint16(inner[12:14]) == 0x0806
}
