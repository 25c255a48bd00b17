package impair

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The paced path. The egress program redirects every packet to a tap
// device that only this process reads; the pacer gives each packet a
// departure time (arrival + delay ± jitter, no earlier than the one before
// it, and no earlier than the rate allows) and sends it out of the real
// interface through a packet socket whose packets carry Mark, which the
// program lets pass. Packets keep their order, as netem's do with a rate.

// queueLimit bounds the packets held, as a qdisc's limit does; beyond it
// packets are dropped (and counted).
const queueLimit = 10000

type held struct {
	at   time.Time
	data []byte
}

// Pacer holds and releases one interface's packets.
type Pacer struct {
	spec    Spec
	tap     *os.File
	tapName string
	out     int // packet socket bound to the interface
	ifindex int

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []held
	last    time.Time // departure of the previous packet
	closed  bool
	Dropped int // packets over the queue limit
	Sent    int
}

// newPacer creates the tap (named tapName, gone when the process ends) and
// the marked packet socket on ifname, in the caller's namespace.
func newPacer(spec Spec, ifname, tapName string, mtu int) (*Pacer, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(tapName)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create tap %s: %w", tapName, err)
	}
	p := &Pacer{spec: spec, tap: os.NewFile(uintptr(fd), tapName), tapName: tapName, ifindex: ifi.Index}
	p.cond = sync.NewCond(&p.mu)
	// The tap must never send anything of its own (no IPv6 autoconf, no
	// ARP): everything read from it is relayed.
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+tapName+"/disable_ipv6", []byte("1"), 0o644)
	if err := setLink(tapName, mtu, true); err != nil {
		p.tap.Close()
		return nil, err
	}
	out, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		p.tap.Close()
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.SetsockoptInt(out, unix.SOL_SOCKET, unix.SO_MARK, Mark); err != nil {
		unix.Close(out)
		p.tap.Close()
		return nil, fmt.Errorf("SO_MARK: %w", err)
	}
	if err := unix.Bind(out, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		unix.Close(out)
		p.tap.Close()
		return nil, fmt.Errorf("bind packet socket to %s: %w", ifname, err)
	}
	p.out = out
	return p, nil
}

// setLink sets an interface's MTU, NOARP and up through ioctls (the
// process is inside the namespace; no netlink handle needed).
func setLink(name string, mtu int, up bool) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	if mtu > 0 {
		ifr, _ := unix.NewIfreq(name)
		ifr.SetUint32(uint32(mtu))
		if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
			return fmt.Errorf("%s: set mtu %d: %w", name, mtu, err)
		}
	}
	ifr, _ := unix.NewIfreq(name)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s: flags: %w", name, err)
	}
	flags := ifr.Uint16() | unix.IFF_NOARP
	if up {
		flags |= unix.IFF_UP
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s: set up: %w", name, err)
	}
	return nil
}

// TapIndex is the tap's ifindex (the program's redirect target).
func (p *Pacer) TapIndex() (int, error) {
	ifi, err := net.InterfaceByName(p.tapName)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}

// departure is when a packet of n bytes arriving now leaves.
func (p *Pacer) departure(now time.Time, n int) time.Time {
	d := p.spec.Delay
	if p.spec.Jitter > 0 {
		d += time.Duration(rand.Int64N(int64(2*p.spec.Jitter)+1)) - p.spec.Jitter
	}
	at := now.Add(max(d, 0))
	if at.Before(p.last) {
		at = p.last // order kept
	}
	if p.spec.Rate > 0 {
		// The packet occupies the line for its serialisation time after
		// the previous one.
		at = at.Add(time.Duration(float64(n*8) / float64(p.spec.Rate) * float64(time.Second)))
	}
	p.last = at
	return at
}

// Run reads the tap and sends packets at their departure times until ctx
// ends.
func (p *Pacer) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- p.read() }()
	go func() { errc <- p.send() }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		p.close()
		return err
	}
	p.close()
	return nil
}

func (p *Pacer) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.tap.Close()
		unix.Close(p.out)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *Pacer) read() error {
	buf := make([]byte, 65536)
	for {
		n, err := p.tap.Read(buf)
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return nil
			}
			return fmt.Errorf("read tap: %w", err)
		}
		now := time.Now()
		p.mu.Lock()
		if len(p.queue) >= queueLimit {
			p.Dropped++
			p.mu.Unlock()
			continue
		}
		p.queue = append(p.queue, held{at: p.departure(now, n), data: append([]byte(nil), buf[:n]...)})
		p.cond.Signal()
		p.mu.Unlock()
	}
}

func (p *Pacer) send() error {
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return nil
		}
		h := p.queue[0]
		p.mu.Unlock()
		if wait := time.Until(h.at); wait > 0 {
			time.Sleep(wait)
		}
		p.mu.Lock()
		p.queue = p.queue[1:]
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return nil
		}
		// A send error (the interface went down) loses this packet, as
		// the wire would; the pacer keeps going.
		to := &unix.SockaddrLinklayer{Ifindex: p.ifindex, Protocol: ethertype(h.data)}
		if err := unix.Sendto(p.out, h.data, 0, to); err == nil {
			p.mu.Lock()
			p.Sent++
			p.mu.Unlock()
		}
	}
}
