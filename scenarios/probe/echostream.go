package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// ICMP message types of echo request and reply, IPv4 and IPv6.
const (
	icmp4EchoReply   = 0
	icmp4EchoRequest = 8
	icmp6EchoRequest = 128
	icmp6EchoReply   = 129
)

// StartEchoStream is a stream whose far end runs nothing of ours: every
// interval an ICMP echo request carrying the stream's datagram (magic,
// sequence, send time) leaves fromNS for dst, and the far end's kernel
// echoes it back. It is how a namespace probes a VM guest (its own kernel,
// no Go probe inside) and, for comparison, a namespace guest the same way.
// A datagram counts as received when its echo is back: the stream sees a
// gap on either leg, to dst or back.
func StartEchoStream(fromNS string, dst netip.Addr, interval time.Duration) (*Stream, error) {
	if interval <= 0 {
		return nil, errors.New("echo stream: interval must be positive")
	}
	c, err := listenICMP(fromNS, dst.Is6())
	if err != nil {
		return nil, fmt.Errorf("echo stream: %w", err)
	}
	id := uint16(rand.UintN(1 << 16))
	var seq uint16
	to := &net.IPAddr{IP: dst.AsSlice()}
	t := transport{
		read: func(buf, oob []byte) ([]byte, time.Time, error) {
			n, oobn, _, from, err := c.ReadMsgIP(buf, oob)
			if err != nil {
				return nil, time.Time{}, err
			}
			at := kernelStamp(oob[:oobn])
			src, _ := netip.AddrFromSlice(from.IP)
			typ, gotID, _, payload := parseEcho(buf[:n], dst.Is6())
			if src.Unmap() != dst || gotID != id || (typ != icmp4EchoReply && typ != icmp6EchoReply) {
				return nil, at, nil // not ours: skipped
			}
			return payload, at, nil
		},
		write: func(p []byte, deadline time.Time) error {
			msg := echoRequest(dst.Is6(), id, seq, p)
			seq++
			_ = c.SetWriteDeadline(deadline)
			_, err := c.WriteToIP(msg, to)
			return err
		},
		closers: []func() error{c.Close},
	}
	return newStream(interval, t), nil
}

// listenICMP opens a raw ICMP (or ICMPv6) socket inside ns with kernel
// receive timestamps. A raw socket sees every ICMP message of the
// namespace: callers filter by identifier and source.
func listenICMP(ns string, v6 bool) (*net.IPConn, error) {
	var c *net.IPConn
	err := nsutil.Do(ns, func() error {
		network := "ip4:icmp"
		if v6 {
			network = "ip6:ipv6-icmp"
		}
		conn, err := net.ListenIP(network, nil)
		if err != nil {
			return fmt.Errorf("raw %s socket in %s: %w", network, ns, err)
		}
		if err := timestamping(conn); err != nil {
			conn.Close()
			return fmt.Errorf("SO_TIMESTAMPNS in %s: %w", ns, err)
		}
		c = conn
		return nil
	})
	return c, err
}

// echoRequest builds an ICMP echo request. The kernel fills in an
// ICMPv6 checksum itself (it needs the pseudo header); an ICMPv4 one is
// ours.
func echoRequest(v6 bool, id, seq uint16, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = icmp4EchoRequest
	if v6 {
		b[0] = icmp6EchoRequest
	}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], payload)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], inetChecksum(b))
	}
	return b
}

// parseEcho reads an echo message from a raw socket: IPv4 raw sockets
// deliver the IP header too, IPv6 ones only the ICMPv6 message. typ is
// 255 when b is no echo message.
func parseEcho(b []byte, v6 bool) (typ uint8, id, seq uint16, payload []byte) {
	if !v6 {
		if len(b) < 20 || b[0]>>4 != 4 {
			return 255, 0, 0, nil
		}
		b = b[int(b[0]&0x0f)*4:]
	}
	if len(b) < 8 {
		return 255, 0, 0, nil
	}
	switch b[0] {
	case icmp4EchoReply, icmp4EchoRequest, icmp6EchoRequest, icmp6EchoReply:
	default:
		return 255, 0, 0, nil
	}
	return b[0], binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), b[8:]
}

// inetChecksum is the Internet checksum (RFC 1071).
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// PingWatch records the echo requests that arrive in a namespace from one
// source: the receiving side of a ping run by someone we cannot put a
// probe into (a VM guest's own busybox ping), so that the direction from
// the guest is measured where it arrives, by the kernel's clock.
type PingWatch struct {
	c   *net.IPConn
	src netip.Addr

	mu       sync.Mutex
	arrivals []arrival // seq is the ICMP sequence number
	seen     map[uint64]bool
	started  time.Time
	done     chan struct{}
	once     sync.Once
}

// WatchPings starts recording echo requests from src arriving in ns.
func WatchPings(ns string, src netip.Addr) (*PingWatch, error) {
	c, err := listenICMP(ns, src.Is6())
	if err != nil {
		return nil, fmt.Errorf("ping watch: %w", err)
	}
	w := &PingWatch{c: c, src: src, seen: map[uint64]bool{}, started: time.Now(), done: make(chan struct{})}
	go w.run()
	return w, nil
}

func (w *PingWatch) run() {
	defer close(w.done)
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := w.c.ReadMsgIP(buf, oob)
		if err != nil {
			return
		}
		at := kernelStamp(oob[:oobn])
		src, _ := netip.AddrFromSlice(from.IP)
		typ, _, seq, _ := parseEcho(buf[:n], w.src.Is6())
		if src.Unmap() != w.src || (typ != icmp4EchoRequest && typ != icmp6EchoRequest) {
			continue
		}
		w.mu.Lock()
		if !w.seen[uint64(seq)] {
			w.seen[uint64(seq)] = true
			w.arrivals = append(w.arrivals, arrival{uint64(seq), at})
		}
		w.mu.Unlock()
	}
}

// Stop ends the watch. sent is how many requests the sender says it sent
// (its own summary): what did not arrive is lost. The longest gap is
// between two arrivals in a row; Duration runs from the first arrival to
// the last.
func (w *PingWatch) Stop(sent int) StreamStats {
	w.once.Do(func() { w.c.Close() })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	st := StreamStats{Sent: sent, Received: len(w.arrivals)}
	st.Lost = max(sent-st.Received, 0)
	arr := append([]arrival(nil), w.arrivals...)
	sort.SliceStable(arr, func(i, j int) bool { return arr[i].at.Before(arr[j].at) })
	var maxSeq uint64
	for i, a := range arr {
		if i > 0 {
			if g := a.at.Sub(arr[i-1].at); g > st.LongestGap {
				st.LongestGap, st.GapFrom, st.GapTo = g, arr[i-1].seq, a.seq
			}
			if a.seq < maxSeq {
				st.Reordered++
			}
		}
		maxSeq = max(maxSeq, a.seq)
	}
	if len(arr) > 0 {
		st.Duration = arr[len(arr)-1].at.Sub(arr[0].at)
		// The last requests sent: did they arrive (did the direction recover)?
		st.TailSent = min(sent, 20)
		for _, a := range arr {
			if int(a.seq) >= sent-st.TailSent {
				st.TailReceived++
			}
		}
	}
	return st
}
