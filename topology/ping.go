package topology

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// PingOptions tune Ping. Zero values: 3 echoes, 200 ms apart, 1 s timeout
// each, 56 bytes of payload.
type PingOptions struct {
	Count        int
	Interval     time.Duration
	Timeout      time.Duration
	Size         int  // ICMP payload bytes (like ping -s)
	DontFragment bool // like ping -M do
}

// PingResult counts echoes.
type PingResult struct {
	Sent, Received int
	RTTs           []time.Duration
}

// Ping sends ICMP echo requests from inside a namespace (a raw socket
// opened on a thread in it) and counts the replies. It needs no ping binary.
func Ping(ctx context.Context, ns string, dst netip.Addr, o PingOptions) (PingResult, error) {
	if o.Count <= 0 {
		o.Count = 3
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Size <= 0 {
		o.Size = 56
	}
	var res PingResult
	var c *icmp.PacketConn
	err := nsutil.Do(ns, func() error {
		var err error
		if dst.Is4() {
			c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		} else {
			c, err = icmp.ListenPacket("ip6:ipv6-icmp", "::")
		}
		if err != nil {
			return err
		}
		if o.DontFragment {
			return setDF(c, dst.Is4())
		}
		return nil
	})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return res, fmt.Errorf("ping from %s: %w", ns, err)
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if dst.Is6() {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	to := &net.IPAddr{IP: net.IP(dst.AsSlice())}
	buf := make([]byte, 65536)
	for seq := 1; seq <= o.Count && ctx.Err() == nil; seq++ {
		start := time.Now()
		msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: make([]byte, o.Size)}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return res, err
		}
		if _, err := c.WriteTo(b, to); err != nil {
			// EMSGSIZE with DF set is a lost echo, like ping -M do reports.
			res.Sent++
			time.Sleep(o.Interval)
			continue
		}
		res.Sent++
		deadline := start.Add(o.Timeout)
		for {
			_ = c.SetReadDeadline(deadline)
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != reply {
				continue
			}
			e, ok := m.Body.(*icmp.Echo)
			if !ok || e.ID != id || e.Seq != seq {
				continue
			}
			if ip, ok := from.(*net.IPAddr); !ok || !ip.IP.Equal(to.IP) {
				continue
			}
			res.Received++
			res.RTTs = append(res.RTTs, time.Since(start))
			break
		}
		if wait := o.Interval - time.Since(start); wait > 0 && seq < o.Count {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
	return res, ctx.Err()
}

func setDF(c *icmp.PacketConn, v4 bool) error {
	var sc syscall.Conn
	if v4 {
		sc, _ = c.IPv4PacketConn().PacketConn.(syscall.Conn)
	} else {
		sc, _ = c.IPv6PacketConn().PacketConn.(syscall.Conn)
	}
	if sc == nil {
		return fmt.Errorf("no raw socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if v4 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// Ping pings dst from a node, guest, router or host of the lab.
func (l *Lab) Ping(ctx context.Context, from string, dst netip.Addr, o PingOptions) (PingResult, error) {
	ns := l.NS(from)
	if ns == "" {
		return PingResult{}, fmt.Errorf("lab %s has no %q", l.Name, from)
	}
	return Ping(ctx, ns, dst, o)
}
