// Package bfd is a small RFC 5880 BFD implementation (asynchronous mode,
// single hop on UDP 3784 and multihop on UDP 4784, RFC 5881/5883) for the
// EVPN agent: it tells the agent within Interval x DetectMult that a peer is
// gone, so BGP drops that peer's routes without waiting for the hold timer.
package bfd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Session states (RFC 5880 section 4.1).
const (
	AdminDown = 0
	Down      = 1
	Init      = 2
	Up        = 3
)

// Diagnostic codes used here.
const (
	diagNone         = 0
	diagTimeExpired  = 1
	diagNeighborDown = 3
)

// Ports of RFC 5881 (single hop) and RFC 5883 (multihop).
const (
	PortSingleHop = 3784
	PortMultiHop  = 4784
)

var stateNames = [...]string{"AdminDown", "Down", "Init", "Up"}

var diagNames = map[int]string{diagNone: "none", diagTimeExpired: "detection time expired", diagNeighborDown: "neighbor signaled down"}

// Config are the timers of every session (FRR's defaults: 300 ms x 3).
type Config struct {
	Interval   time.Duration
	DetectMult int
	// Port overrides the single-hop port (tests); 0 is 3784.
	Port int
}

// Manager runs the sessions of one node.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	onChange func(peer netip.Addr, up bool)
	tx       *net.UDPConn
	rx       []*net.UDPConn

	mu       sync.Mutex
	sessions map[netip.Addr]*session
	byDisc   map[uint32]*session
	dropped  map[string]uint64
	ctx      context.Context
	cancel   context.CancelFunc
}

type session struct {
	peer       netip.Addr
	port       int
	multihop   bool
	state      int
	remoteSt   int
	localDisc  uint32
	remoteDisc uint32
	diag       int
	remoteMult int
	remoteTx   time.Duration // remote Desired Min TX
	remoteRx   time.Duration // remote Required Min RX
	lastRx     time.Time
	pollSeen   bool
	kick       chan struct{}
}

// Start opens the BFD sockets in the caller's namespace and returns a
// manager; onChange is called (from BFD goroutines) on Up and Down.
func Start(ctx context.Context, cfg Config, log *slog.Logger, onChange func(peer netip.Addr, up bool)) (*Manager, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 300 * time.Millisecond
	}
	if cfg.DetectMult <= 0 {
		cfg.DetectMult = 3
	}
	if cfg.Port == 0 {
		cfg.Port = PortSingleHop
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Manager{cfg: cfg, log: log, onChange: onChange, sessions: map[netip.Addr]*session{},
		byDisc: map[uint32]*session{}, ctx: ctx, cancel: cancel}
	tx, err := listenTTL(&net.UDPAddr{Port: 0}, false)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bfd send socket: %w", err)
	}
	m.tx = tx
	ports := []int{cfg.Port}
	if cfg.Port == PortSingleHop {
		ports = append(ports, PortMultiHop)
	}
	for _, p := range ports {
		c, err := listenTTL(&net.UDPAddr{Port: p}, true)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("bfd listen on %d: %w", p, err)
		}
		m.rx = append(m.rx, c)
		go m.readLoop(c)
	}
	return m, nil
}

// listenTTL opens a UDP socket that sends with TTL 255 (RFC 5881 GTSM).
func listenTTL(addr *net.UDPAddr, reuse bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, 255)
			// The IPv6 hop limit fails on an IPv4-only socket: best effort.
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 255)
			if reuse {
				serr = errors.Join(serr, unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
			}
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// Add starts a session towards peer (idempotent).
func (m *Manager) Add(peer netip.Addr, multihop bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[peer]; ok {
		return
	}
	port := m.cfg.Port
	if multihop {
		port = PortMultiHop
	}
	s := &session{peer: peer, port: port, multihop: multihop, state: Down, localDisc: m.newDisc(),
		remoteRx: time.Second, kick: make(chan struct{}, 1)}
	m.sessions[peer] = s
	m.byDisc[s.localDisc] = s
	go m.txLoop(s)
}

func (m *Manager) newDisc() uint32 {
	for {
		d := rand.Uint32()
		if _, used := m.byDisc[d]; d != 0 && !used {
			return d
		}
	}
}

// State names the session state towards peer ("" when there is none).
func (m *Manager) State(peer netip.Addr) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sessions[peer]; s != nil {
		return stateNames[s.state]
	}
	return ""
}

// Close stops every session.
func (m *Manager) Close() {
	m.cancel()
	if m.tx != nil {
		m.tx.Close()
	}
	for _, c := range m.rx {
		c.Close()
	}
}

// txInterval is the negotiated transmit interval (RFC 5880 6.8.7) with
// 0-25 % jitter.
func (m *Manager) txInterval(s *session) time.Duration {
	iv := m.cfg.Interval
	if s.remoteRx > iv {
		iv = s.remoteRx
	}
	return iv - time.Duration(rand.Int64N(int64(iv/4)+1))
}

// detectTime is how long without a packet before the session is down.
func (m *Manager) detectTime(s *session) time.Duration {
	iv := m.cfg.Interval
	if s.remoteTx > iv {
		iv = s.remoteTx
	}
	mult := s.remoteMult
	if mult == 0 {
		mult = m.cfg.DetectMult
	}
	return time.Duration(mult) * iv
}

func (m *Manager) txLoop(s *session) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		m.mu.Lock()
		var change func()
		if (s.state == Up || s.state == Init) && time.Since(s.lastRx) > m.detectTime(s) {
			m.log.Debug("bfd detection timeout", "peer", s.peer, "silent", time.Since(s.lastRx), "detect", m.detectTime(s),
				"remote_tx", s.remoteTx, "remote_mult", s.remoteMult)
			change = m.setState(s, Down, diagTimeExpired)
			s.remoteDisc = 0
		}
		pkt := m.packet(s, false)
		if s.pollSeen {
			pkt = m.packet(s, true)
			s.pollSeen = false
		}
		next := m.txInterval(s)
		m.mu.Unlock()
		if change != nil {
			change()
		}
		dst := &net.UDPAddr{IP: net.IP(s.peer.AsSlice()), Port: s.port}
		if _, err := m.tx.WriteToUDP(pkt, dst); err != nil && m.ctx.Err() == nil {
			m.log.Debug("bfd send", "peer", s.peer, "err", err)
		}
		// Wake up in time to detect a silent peer too, at the exact
		// deadline rather than at the next transmission.
		m.mu.Lock()
		if s.state == Up || s.state == Init {
			if left := time.Until(s.lastRx.Add(m.detectTime(s))) + time.Millisecond; left < next {
				next = max(left, time.Millisecond)
			}
		}
		m.mu.Unlock()
		t.Reset(next)
	}
}

// packet builds a control packet (RFC 5880 section 4.1). Caller holds mu.
func (m *Manager) packet(s *session, final bool) []byte {
	b := make([]byte, 24)
	b[0] = 1<<5 | byte(s.diag&0x1f)
	b[1] = byte(s.state) << 6
	if final {
		b[1] |= 0x10 // F (final)
	}
	b[2] = byte(m.cfg.DetectMult)
	b[3] = 24
	binary.BigEndian.PutUint32(b[4:], s.localDisc)
	binary.BigEndian.PutUint32(b[8:], s.remoteDisc)
	us := uint32(m.cfg.Interval / time.Microsecond)
	binary.BigEndian.PutUint32(b[12:], us) // desired min TX
	binary.BigEndian.PutUint32(b[16:], us) // required min RX
	return b
}

func (m *Manager) readLoop(c *net.UDPConn) {
	buf := make([]byte, 256)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m.receive(buf[:n], addrOf(from.IP))
	}
}

func addrOf(ip net.IP) netip.Addr {
	if v4 := ip.To4(); v4 != nil {
		a, _ := netip.AddrFromSlice(v4)
		return a
	}
	a, _ := netip.AddrFromSlice(ip)
	return a
}

// Reasons a received packet is dropped (RFC 5880 section 6.8.6).
const (
	DropLength        = "length"          // shorter than 24 (26 with A) or than its length field
	DropVersion       = "version"         // not version 1
	DropMultiplier    = "zero-multiplier" // Detect Mult 0
	DropMultipoint    = "multipoint"      // M bit set
	DropAuth          = "authentication"  // A bit set: no authentication is configured
	DropMyDiscZero    = "my-discriminator-zero"
	DropUnknownDisc   = "unknown-discriminator" // Your Discriminator names no session
	DropNoDiscUp      = "zero-discriminator-not-down"
	DropUnknownSource = "unknown-source" // no session with the sender
)

// Dropped counts the received packets dropped, by reason.
func (m *Manager) Dropped() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]uint64, len(m.dropped))
	for k, v := range m.dropped {
		out[k] = v
	}
	return out
}

// drop counts a dropped packet. Caller holds mu.
func (m *Manager) drop(why string, from netip.Addr) {
	if m.dropped == nil {
		m.dropped = map[string]uint64{}
	}
	m.dropped[why]++
	m.log.Debug("bfd packet dropped", "from", from, "reason", why)
}

// receive runs the reception rules of RFC 5880 section 6.8.6. A packet that
// fails them is counted and dropped without touching any session.
func (m *Manager) receive(b []byte, from netip.Addr) {
	m.mu.Lock()
	why := ""
	switch {
	case len(b) < 4 || b[0]>>5 != 1:
		why = DropVersion
		if len(b) < 4 {
			why = DropLength
		}
	case len(b) < 24 || b[3] < 24 || int(b[3]) > len(b) || (b[1]&0x04 != 0 && b[3] < 26):
		why = DropLength
	case b[2] == 0:
		why = DropMultiplier
	case b[1]&0x01 != 0:
		why = DropMultipoint
	case b[1]&0x04 != 0:
		why = DropAuth
	case binary.BigEndian.Uint32(b[4:]) == 0:
		why = DropMyDiscZero
	}
	if why != "" {
		m.drop(why, from)
		m.mu.Unlock()
		return
	}
	flags := b[1] & 0x3f
	remoteState := int(b[1] >> 6)
	myDisc := binary.BigEndian.Uint32(b[4:])
	yourDisc := binary.BigEndian.Uint32(b[8:])
	var s *session
	switch {
	case yourDisc != 0:
		if s = m.byDisc[yourDisc]; s == nil {
			m.drop(DropUnknownDisc, from)
		}
	case remoteState == Down || remoteState == AdminDown:
		if s = m.sessions[from]; s == nil {
			m.drop(DropUnknownSource, from)
		}
	default:
		m.drop(DropNoDiscUp, from)
	}
	if s == nil {
		m.mu.Unlock()
		return
	}
	if s.peer != from {
		m.drop(DropUnknownSource, from)
		m.mu.Unlock()
		return
	}
	s.remoteDisc = myDisc
	s.remoteSt = remoteState
	s.remoteMult = int(b[2])
	s.remoteTx = time.Duration(binary.BigEndian.Uint32(b[12:])) * time.Microsecond
	s.remoteRx = time.Duration(binary.BigEndian.Uint32(b[16:])) * time.Microsecond
	s.lastRx = time.Now()
	if flags&0x20 != 0 { // P: answer with F at once
		s.pollSeen = true
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	var change func()
	switch {
	case remoteState == AdminDown:
		if s.state != Down {
			change = m.setState(s, Down, diagNeighborDown)
		}
	case s.state == Down:
		if remoteState == Down {
			change = m.setState(s, Init, diagNone)
		} else if remoteState == Init {
			change = m.setState(s, Up, diagNone)
		}
	case s.state == Init:
		if remoteState == Init || remoteState == Up {
			change = m.setState(s, Up, diagNone)
		}
	case s.state == Up:
		if remoteState == Down {
			change = m.setState(s, Down, diagNeighborDown)
		}
	}
	m.mu.Unlock()
	if change != nil {
		change()
	}
}

// setState changes state and returns the notification to make once the lock
// is released. Caller holds mu.
func (m *Manager) setState(s *session, st, diag int) func() {
	old := s.state
	s.state, s.diag = st, diag
	select {
	case s.kick <- struct{}{}: // tell the peer at once
	default:
	}
	if (old == Up) == (st == Up) {
		return nil
	}
	up := st == Up
	peer := s.peer
	return func() {
		m.log.Info("bfd session", "peer", peer, "state", stateNames[st], "was", stateNames[old], "diag", diagNames[diag])
		if m.onChange != nil {
			m.onChange(peer, up)
		}
	}
}
