// Package bgpguard keeps malformed BGP messages away from an embedded GoBGP
// server. GoBGP v3.37.0 panics in its own receive goroutine on some
// malformed routes (a truncated EVPN MAC/IP route), where nothing can
// recover, so the guard sits between the peers and GoBGP: it frames every
// message a peer sends, checks it per RFC 4271 and RFC 7606, runs GoBGP's
// decoder on it under recover, and only then passes it on (as is, rewritten
// as a withdrawal, or not at all, answering the peer with a NOTIFICATION).
//
// GoBGP identifies a session by the peer's address, so each neighbour gets
// an alias on the loopback (127.77.x.y): GoBGP listens on 127.0.0.1 and is
// configured with the aliases, the guard listens on the real port and dials
// the real peers. The one thing GoBGP puts on the wire that depends on the
// session's addresses is its own address as next hop (next-hop self): the
// guard swaps 127.0.0.1 for the real local address of the session.
//
// The guard also runs every session's keepalives and hold timer, from one
// timer for all of them (keepalive.go): GoBGP's own, a ticker per session
// whose every keepalive crossed the relay, kept a 100-node lab from
// converging.
package bgpguard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// InnerAddr is GoBGP's own address: it listens there and binds its
// sessions to it (set it as every peer's local address).
const InnerAddr = "127.0.0.1"

var innerLocal4 = netip.MustParseAddr(InnerAddr)

// Peer is one configured neighbour.
type Peer struct {
	Addr netip.Addr
	// Port is the neighbour's BGP port; 0 is the guard's listen port.
	Port int
	// Local is the update source; unset lets the kernel choose.
	Local netip.Addr
	// TTL of the session's packets: 1 for single-hop eBGP (what GoBGP
	// would set), the multihop TTL, or 0 for the system default.
	TTL int
}

// Config is what the guard serves.
type Config struct {
	// Port is where peers connect (179 unless set).
	Port  int
	Peers []Peer
	// Share, when set, is a port the guard shares with another BGP speaker
	// in the namespace: the guard listens only on Share.Addrs and leaves
	// the rest of the port to the other speaker.
	Share *Share
}

// Counters are the errors found in one peer's messages.
type Counters struct {
	SessionResets     uint64    `json:"session_resets"`
	TreatAsWithdraw   uint64    `json:"treat_as_withdraw"`
	AttributesDropped uint64    `json:"attributes_discarded"`
	RoutesDropped     uint64    `json:"routes_discarded"`
	LastReason        string    `json:"last_reason,omitempty"`
	LastAt            time.Time `json:"last_at,omitzero"`
}

// Total is the number of malformed messages seen.
func (c Counters) Total() uint64 {
	return c.SessionResets + c.TreatAsWithdraw + c.AttributesDropped + c.RoutesDropped
}

type peerState struct {
	Peer
	alias netip.Addr

	mu     sync.Mutex
	count  Counters
	conns  map[net.Conn]bool
	timers timers // what Configure took from GoBGP
	// lastInbound is when the neighbour last connected to us.
	lastInbound time.Time
}

// Guard relays the sessions of one speaker.
type Guard struct {
	cfg Config
	log *slog.Logger
	// InnerPort is where GoBGP must listen (on InnerAddr).
	InnerPort int
	// DialPort is the remote port GoBGP must dial: the guard listens on
	// every alias there.
	DialPort int

	peers   map[netip.Addr]*peerState
	byAlias map[netip.Addr]*peerState
	ka      *keepalives
	ls      []net.Listener
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start opens the guard's listeners in the caller's namespace (the
// loopback is brought up if it is not) and serves until Close.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Guard, error) {
	if cfg.Port == 0 {
		cfg.Port = 179
	}
	if err := loUp(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	g := &Guard{cfg: cfg, log: log, peers: map[netip.Addr]*peerState{}, byAlias: map[netip.Addr]*peerState{},
		ctx: ctx, cancel: cancel}
	g.ka = newKeepalives(g.holdExpired)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.ka.run(ctx)
	}()
	fail := func(err error) (*Guard, error) {
		g.Close()
		return nil, err
	}
	if len(cfg.Peers) > 1<<16-2 {
		return fail(fmt.Errorf("bgp guard: %d neighbours, at most %d", len(cfg.Peers), 1<<16-2))
	}
	for i, p := range cfg.Peers {
		if p.Port == 0 {
			p.Port = cfg.Port
		}
		n := i + 1
		ps := &peerState{Peer: p, alias: netip.AddrFrom4([4]byte{127, 77, byte(n >> 8), byte(n)}), conns: map[net.Conn]bool{}}
		g.peers[p.Addr.Unmap()] = ps
		g.byAlias[ps.alias] = ps
	}
	// GoBGP's port: a free one on the loopback (the namespace is ours).
	l, err := net.Listen("tcp4", net.JoinHostPort(InnerAddr, "0"))
	if err != nil {
		return fail(fmt.Errorf("bgp guard: pick a port: %w", err))
	}
	g.InnerPort = l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, ps := range g.peers {
		l, err := net.Listen("tcp4", net.JoinHostPort(ps.alias.String(), strconv.Itoa(g.DialPort)))
		if err != nil {
			return fail(fmt.Errorf("bgp guard: listen for %s: %w", ps.Addr, err))
		}
		if g.DialPort == 0 {
			g.DialPort = l.Addr().(*net.TCPAddr).Port
		}
		g.serve(l, func(c net.Conn) { g.outbound(ps, c) })
	}
	if cfg.Share != nil {
		for _, a := range cfg.Share.Addrs {
			l, err := cfg.Share.Listen(netip.AddrPortFrom(a, uint16(cfg.Port)))
			if err != nil {
				return fail(fmt.Errorf("bgp guard: listen on %s port %d: %w", a, cfg.Port, err))
			}
			g.serve(l, g.inbound)
		}
		return g, nil
	}
	outer, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fail(fmt.Errorf("bgp guard: listen on %d: %w", cfg.Port, err))
	}
	g.serve(outer, g.inbound)
	return g, nil
}

func loUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("bgp guard: loopback: %w", err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(lo); err != nil {
			return fmt.Errorf("bgp guard: loopback up: %w", err)
		}
	}
	return nil
}

func (g *Guard) serve(l net.Listener, handle func(net.Conn)) {
	g.ls = append(g.ls, l)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				handle(c)
			}()
		}
	}()
}

// Close stops listening and ends every relayed session.
func (g *Guard) Close() {
	g.cancel()
	for _, l := range g.ls {
		l.Close()
	}
	for _, ps := range g.peers {
		ps.mu.Lock()
		for c := range ps.conns {
			c.Close()
		}
		ps.mu.Unlock()
	}
	g.wg.Wait()
}

// Alias is the address GoBGP knows peer by.
func (g *Guard) Alias(peer netip.Addr) netip.Addr {
	if ps := g.peers[peer.Unmap()]; ps != nil {
		return ps.alias
	}
	return netip.Addr{}
}

// Configure points GoBGP's configuration of the neighbour at peer to the
// guard: GoBGP knows it by its alias, binds to InnerAddr and dials the
// guard's port; the guard runs the session's keepalives and hold timer
// (keepalive.go).
func (g *Guard) Configure(p *api.Peer, peer netip.Addr) {
	if ps := g.peers[peer.Unmap()]; ps != nil {
		ps.mu.Lock()
		ps.timers = takeTimers(p)
		ps.mu.Unlock()
	}
	if p.Conf == nil {
		p.Conf = &api.PeerConf{}
	}
	if p.Transport == nil {
		p.Transport = &api.Transport{}
	}
	p.Conf.NeighborAddress = g.Alias(peer).String()
	p.Transport.LocalAddress = InnerAddr
	p.Transport.RemotePort = uint32(g.DialPort)
}

// Real maps an address GoBGP reports back to the neighbour's; anything
// else is returned unchanged.
func (g *Guard) Real(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if ps := g.byAlias[a]; ps != nil {
		return ps.Addr.String()
	}
	return addr
}

// Counters returns the errors counted for a neighbour.
func (g *Guard) Counters(peer netip.Addr) Counters {
	ps := g.peers[peer.Unmap()]
	if ps == nil {
		return Counters{}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.count
}

// LastInbound is when peer last connected to our BGP port (zero: never).
func (g *Guard) LastInbound(peer netip.Addr) time.Time {
	ps := g.peers[peer.Unmap()]
	if ps == nil {
		return time.Time{}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.lastInbound
}

// inbound takes a connection from a neighbour to our BGP port.
func (g *Guard) inbound(c net.Conn) {
	ra := c.RemoteAddr().(*net.TCPAddr)
	addr, _ := netip.AddrFromSlice(ra.IP)
	ps := g.peers[addr.Unmap()]
	if ps == nil {
		g.log.Debug("bgp connection from an unknown address refused", "from", ra)
		c.Close()
		return
	}
	ps.mu.Lock()
	ps.lastInbound = time.Now()
	ps.mu.Unlock()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ps.alias.AsSlice()}, Timeout: 5 * time.Second}
	in, err := d.DialContext(g.ctx, "tcp4", net.JoinHostPort(InnerAddr, strconv.Itoa(g.InnerPort)))
	if err != nil {
		g.log.Debug("bgp guard: reach the speaker", "peer", ps.Addr, "err", err)
		c.Close()
		return
	}
	g.relay(ps, c, in)
}

// outbound takes GoBGP's connection to an alias and dials the neighbour.
func (g *Guard) outbound(ps *peerState, in net.Conn) {
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		if ps.TTL == 0 {
			return nil
		}
		var serr error
		err := rc.Control(func(fd uintptr) {
			if ps.Addr.Is4() {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ps.TTL)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ps.TTL)
			}
		})
		return errors.Join(err, serr)
	}}
	if ps.Local.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: ps.Local.AsSlice()}
	}
	c, err := d.DialContext(g.ctx, "tcp", net.JoinHostPort(ps.Addr.String(), strconv.Itoa(ps.Port)))
	if err != nil {
		g.log.Debug("bgp connect", "peer", ps.Addr, "err", err)
		in.Close()
		return
	}
	g.relay(ps, c, in)
}

// relay runs one session: peer messages through Check to GoBGP, GoBGP's
// messages (trusted) to the peer with the next hop put right.
func (g *Guard) relay(ps *peerState, out, in net.Conn) {
	if ps.TTL > 0 {
		setTTL(out, ps.Addr.Is4(), ps.TTL)
	}
	ps.mu.Lock()
	ps.conns[out], ps.conns[in] = true, true
	ps.mu.Unlock()
	defer func() {
		ps.mu.Lock()
		delete(ps.conns, out)
		delete(ps.conns, in)
		ps.mu.Unlock()
	}()
	local, _ := netip.AddrFromSlice(out.LocalAddr().(*net.TCPAddr).IP)
	local = local.Unmap()
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			out.Close()
			in.Close()
		})
	}
	s := &session{ps: ps, ka: g.ka, out: out, closeBoth: closeBoth}
	defer g.ka.remove(s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer closeBoth()
		g.fromGoBGP(s, in, local)
	}()
	g.fromPeer(s, in)
	closeBoth()
	<-done
}

// holdExpired ends a session the peer fell silent on (RFC 4271 section
// 6.5), as GoBGP would have: a NOTIFICATION to the peer, then both
// connections closed, which GoBGP sees as the session's end.
func (g *Guard) holdExpired(s *session) {
	g.log.Info("bgp hold timer expired", "peer", s.ps.Addr, "hold", s.hold)
	if s.wmu.TryLock() {
		_, _ = tryWrite(s.out, notification(errHoldTimerExpired, 0, nil))
		s.wmu.Unlock()
	}
	s.closeBoth()
}

func setTTL(c net.Conn, v4 bool, ttl int) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if v4 {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
		} else {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
		}
	})
}

// fromPeer checks each message of the neighbour.
func (g *Guard) fromPeer(s *session, in net.Conn) {
	ps, out := s.ps, s.out
	hdr := make([]byte, headerLen)
	for {
		if _, err := io.ReadFull(out, hdr); err != nil {
			return
		}
		n, v, ok := checkHeader(hdr)
		if ok {
			msg := make([]byte, n)
			copy(msg, hdr)
			if _, err := io.ReadFull(out, msg[headerLen:]); err != nil {
				return
			}
			v = Check(msg)
		}
		s.heard()
		g.record(ps, &v)
		if v.Notify != nil {
			s.wmu.Lock()
			_ = out.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = out.Write(v.Notify)
			s.wmu.Unlock()
			return
		}
		for _, m := range v.Out {
			if !s.fromPeer(m) {
				continue
			}
			if _, err := in.Write(m); err != nil {
				return
			}
		}
	}
}

// record counts and logs what Check found.
func (g *Guard) record(ps *peerState, v *Verdict) {
	if len(v.Problems) == 0 {
		return
	}
	ps.mu.Lock()
	for _, p := range v.Problems {
		switch p.Action {
		case SessionReset:
			ps.count.SessionResets++
		case TreatAsWithdraw:
			ps.count.TreatAsWithdraw++
		case DiscardAttribute:
			ps.count.AttributesDropped++
		case DiscardRoute:
			ps.count.RoutesDropped++
		}
		ps.count.LastReason = p.Action.String() + ": " + p.Reason
		ps.count.LastAt = time.Now()
	}
	ps.mu.Unlock()
	for _, p := range v.Problems {
		g.log.Warn("malformed BGP message", "peer", ps.Addr, "action", p.Action.String(), "reason", p.Reason)
	}
}

// fromGoBGP forwards GoBGP's messages, framing them to find its UPDATEs.
func (g *Guard) fromGoBGP(s *session, in net.Conn, local netip.Addr) {
	hdr := make([]byte, headerLen)
	for {
		if _, err := io.ReadFull(in, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[16:18]))
		if n < headerLen {
			return
		}
		msg := make([]byte, n)
		copy(msg, hdr)
		if _, err := io.ReadFull(in, msg[headerLen:]); err != nil {
			return
		}
		if msg[18] == bgp.BGP_MSG_UPDATE {
			nextHopSelf(msg, local)
		}
		s.fromGoBGP(msg)
		if err := s.write(msg); err != nil {
			return
		}
	}
}

// nextHopSelf puts the session's real local address where GoBGP put its
// own (127.0.0.1, or ::ffff:127.0.0.1 in an IPv6 next hop), in place.
func nextHopSelf(msg []byte, local netip.Addr) {
	var v Verdict
	u, ok := splitUpdate(msg, &v)
	if !ok {
		return
	}
	in4 := innerLocal4.As4()
	in16 := netip.AddrFrom16(netip.AddrFrom4(in4).As16()).As16()
	for _, a := range u.attrs {
		switch a.typ {
		case bgp.BGP_ATTR_TYPE_NEXT_HOP:
			if len(a.value) == 4 && [4]byte(a.value) == in4 && local.Is4() {
				l := local.As4()
				copy(a.value, l[:])
			}
		case bgp.BGP_ATTR_TYPE_MP_REACH_NLRI:
			if len(a.value) < 4 || len(a.value) < 4+int(a.value[3]) {
				continue
			}
			nh := a.value[4 : 4+int(a.value[3])]
			switch {
			case len(nh) == 4 && [4]byte(nh) == in4 && local.Is4():
				l := local.As4()
				copy(nh, l[:])
			case len(nh) >= 16 && [16]byte(nh[:16]) == in16 && local.Is6():
				l := local.As16()
				copy(nh, l[:])
			}
		}
	}
}
