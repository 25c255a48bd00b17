// Package bfd is a small RFC 5880 BFD implementation (asynchronous mode,
// single hop on UDP 3784 and multihop on UDP 4784, RFC 5881/5883) for the
// EVPN agent: it tells the agent within Interval x DetectMult that a peer is
// gone, so BGP drops that peer's routes without waiting for the hold timer.
//
// Cost. One node of a 100-node full mesh runs 99 sessions at 300 ms: about
// 660 packets a second in and out. Measured (docs/SCALE.md): with a
// goroutine and a timer per session and a reader parked on each packet,
// every packet was a wake-up of the process, and 100 agents on 2 cores spent
// the machine on context switches before any BGP work. So a Manager runs
// all its sessions from one scheduler goroutine with one timer: it wakes
// when the first session must transmit (or, while a session is coming up
// or going down, Poll after its last pass), reads every packet that has
// arrived (its sockets are outside Go's network poller, so arrivals do not
// wake it), and sends, in one sendmmsg, every session whose transmit
// window (75-100 % of the interval, RFC 5880 6.8.7) is open, so sessions
// fall into one batch per interval. Detection never
// blames a peer for packets that sit unread in our own socket: every pass
// reads the sockets before it looks at a deadline (a starved agent must
// not cascade its own lateness into session resets).
package bfd

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
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
	// Poll is the longest time between two reads of the sockets while a
	// session is not Up at both ends (0: 100 ms, at most a third of
	// Interval): an answer to the peer (a state change, the final of a
	// poll) waits at most that long. Once all are Up the sockets are read
	// on every transmit pass (at least once an interval). Detection is not
	// delayed by it: a deadline is judged only after a read.
	Poll time.Duration
	// Addrs, when set, are the only local addresses the sessions are
	// received on: on an agent node whose fabric runs FRR's bfdd beside
	// the agent, bfdd listens on every address (its sessions come to
	// link-local ones) and Linux hands a packet to the socket bound to its
	// exact destination first.
	Addrs []netip.Addr
}

// defaultPoll: 100 ms is 11 % of the default detection time. Each pass is
// a wake-up of the process and, measured with 300 agents, about two of the
// Go runtime's monitor thread as well.
const defaultPoll = 100 * time.Millisecond

// Manager runs the sessions of one node.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	onChange func(peer netip.Addr, up bool)
	tx       *sock
	rx       []*sock
	// schedDone closes when the scheduler (the sockets' one user) has
	// ended.
	schedDone chan struct{}

	mu       sync.Mutex
	sessions map[netip.Addr]*session
	byDisc   map[uint32]*session
	dropped  map[string]uint64
	ctx      context.Context
	cancel   context.CancelFunc
	// wake asks the scheduler to look at the sessions now (a session
	// added, a state change or a poll to answer).
	wake chan struct{}
	// stats
	wakeups, sent, received, starved uint64
	// notes are the Up/Down notifications not yet delivered: a slow
	// consumer must never stall transmission or reception (measured: an
	// agent loop busy resetting peers held the scheduler, its peers heard
	// nothing, and their sessions went down too).
	noteMu   sync.Mutex
	notes    []func()
	noteWake chan struct{}
}

// notify delivers n in order from the notifier goroutine (at once when
// there is none, in tests).
func (m *Manager) notify(n func()) {
	if m.noteWake == nil {
		n()
		return
	}
	m.noteMu.Lock()
	m.notes = append(m.notes, n)
	m.noteMu.Unlock()
	select {
	case m.noteWake <- struct{}{}:
	default:
	}
}

func (m *Manager) notifier() {
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.noteWake:
		}
		m.noteMu.Lock()
		ns := m.notes
		m.notes = nil
		m.noteMu.Unlock()
		for _, n := range ns {
			n()
		}
	}
}

type session struct {
	peer netip.Addr
	// local is the source of its packets (its BGP session's update
	// source, a loopback); unset, the kernel picks one, which may be an
	// address the peer does not know the session by, or one a tunnel on
	// the way drops (a WireGuard peer accepts only its AllowedIPs).
	local netip.Addr
	// oob is local as a control message, made once (sourceOOB).
	oob        []byte
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
	// lastTx is when the last packet went out; urgent sends one at the
	// scheduler's next pass (a state change, the answer to a poll).
	lastTx time.Time
	urgent bool
	// jitter is how much before the end of its window s asks for the
	// next pass (0-25 % of the interval, 0-15 % with a detection
	// multiplier of 1; drawn at each transmission, RFC 5880 6.8.7; one
	// draw for all the sessions of a pass, see schedule).
	jitter time.Duration
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
	if cfg.Poll <= 0 {
		cfg.Poll = defaultPoll
	}
	cfg.Poll = min(cfg.Poll, cfg.Interval/3)
	ctx, cancel := context.WithCancel(ctx)
	m := &Manager{cfg: cfg, log: log, onChange: onChange, sessions: map[netip.Addr]*session{},
		byDisc: map[uint32]*session{}, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), noteWake: make(chan struct{}, 1)}
	tx, err := openSock(netip.Addr{}, 0, false)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bfd send socket: %w", err)
	}
	m.tx = tx
	ports := []int{cfg.Port}
	if cfg.Port == PortSingleHop {
		ports = append(ports, PortMultiHop)
	}
	locals := []netip.Addr{{}}
	if len(cfg.Addrs) > 0 {
		locals = cfg.Addrs
	}
	for _, p := range ports {
		for _, a := range locals {
			c, err := openSock(a, p, true)
			if err != nil {
				m.Close()
				return nil, fmt.Errorf("bfd listen on %s port %d: %w", a, p, err)
			}
			m.rx = append(m.rx, c)
		}
	}
	m.schedDone = make(chan struct{})
	go func() {
		defer close(m.schedDone)
		m.schedule()
	}()
	go m.notifier()
	return m, nil
}

// sourceOOB is the control message that sends a packet from local (none
// when local is unset).
func sourceOOB(local netip.Addr) []byte {
	switch {
	case !local.IsValid():
		return nil
	case local.Is4():
		return unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: local.As4()})
	default:
		return unix.PktInfo6(&unix.Inet6Pktinfo{Addr: local.As16()})
	}
}

// Add starts a session towards peer (idempotent), sent from local when
// it is valid (else from the address the kernel picks).
func (m *Manager) Add(peer, local netip.Addr, multihop bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[peer]; ok {
		return
	}
	port := m.cfg.Port
	if multihop {
		port = PortMultiHop
	}
	// The first packet goes out at a random point of the first second, so
	// that a node starting many sessions at once spreads them.
	s := &session{peer: peer, local: local, oob: sourceOOB(local), port: port, multihop: multihop, state: Down, localDisc: m.newDisc(),
		remoteRx: time.Second, lastTx: time.Now().Add(-time.Duration(rand.Int64N(int64(time.Second))))}
	m.sessions[peer] = s
	m.byDisc[s.localDisc] = s
	m.poke()
}

// poke wakes the scheduler.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) newDisc() uint32 {
	for {
		d := rand.Uint32()
		if _, used := m.byDisc[d]; d != 0 && !used {
			return d
		}
	}
}

// Stats are the manager's counters.
type Stats struct {
	Sessions int    `json:"sessions"`
	Wakeups  uint64 `json:"wakeups"`  // scheduler passes
	Sent     uint64 `json:"sent"`     // control packets sent
	Received uint64 `json:"received"` // packets read, dropped ones included
	// Starved counts passes that ran more than a quarter interval late
	// (the process was not scheduled); detection was postponed by as much.
	Starved uint64 `json:"starved"`
}

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Sessions: len(m.sessions), Wakeups: m.wakeups, Sent: m.sent, Received: m.received, Starved: m.starved}
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
	if m.schedDone != nil {
		<-m.schedDone
	}
	if m.tx != nil {
		m.tx.close()
		m.tx = nil
	}
	for _, c := range m.rx {
		c.close()
	}
	m.rx = nil
}

// txInterval is the negotiated transmit interval (RFC 5880 6.8.7): the
// larger of ours and the remote's Required Min RX.
func (m *Manager) txInterval(s *session) time.Duration {
	iv := m.cfg.Interval
	if s.remoteRx > iv {
		iv = s.remoteRx
	}
	return iv
}

// txWindow is when s may next transmit: not before 75 % of the interval
// after the last packet (the jitter RFC 5880 6.8.7 allows), not after
// 100 %, or 90 % with a detection multiplier of 1 (one late packet would
// be a detection timeout at the peer).
func (m *Manager) txWindow(s *session) (earliest, latest time.Time) {
	iv := m.txInterval(s)
	if s.urgent {
		return s.lastTx, s.lastTx
	}
	latest = s.lastTx.Add(iv)
	if m.cfg.DetectMult == 1 {
		latest = s.lastTx.Add(iv - iv/10)
	}
	return s.lastTx.Add(iv - iv/4), latest
}

// jitter is how far before the end of its window s is sent, for a draw
// share in [0, 1): anywhere in the window.
func (m *Manager) jitter(s *session, share float64) time.Duration {
	early, late := m.txWindow(s)
	return time.Duration(share * float64(late.Sub(early)))
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

// watched tells whether s has a detection deadline.
func watched(s *session) bool { return s.state == Up || s.state == Init }

// schedule is the one goroutine that reads, transmits and detects for
// every session: one timer, set to the earliest deadline of all sessions
// and, while a session is not Up at both ends, never later than Poll.
func (m *Manager) schedule() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var batch []outPacket
	var changes []func()
	// The pass's packets, in one array this goroutine reuses. Built anew
	// for each packet, a node's 99 sessions made 70 kB of garbage a
	// second, and a BFD process's heap grew to the runtime's first
	// collection (docs/SCALE.md 39).
	var pkts []byte
	var planned time.Time // when the timer that woke us was due
	rx := newRxBatch(64, 256)
	for {
		// Pass: read what came, detections, then every session whose
		// window is open.
		m.receiveAll(rx)
		// The pokes our own receptions made are served by this pass.
		select {
		case <-m.wake:
		default:
		}
		now := time.Now()
		next := now.Add(time.Hour)
		m.mu.Lock()
		m.wakeups++
		// This process may not have been scheduled for a while: the
		// machine is short of CPU and the silence of a peer in that time
		// says as much about us as about it. Detection time runs only
		// while we run; a peer that stays silent once we do is still
		// declared down one detection time later.
		var credit time.Duration
		if late := now.Sub(planned); !planned.IsZero() && late > m.cfg.Interval/4 {
			m.starved++
			credit = late
		}
		planned = time.Time{}
		// One draw of the jitter for every session this pass sends. The
		// pass sends each session whose window is open, so sessions sent
		// together stay together and are next due at this draw's point of
		// their window. With a draw per session the next pass came at the
		// earliest of them, the opening of the window: 100 sessions sent
		// every 75 % of the interval, 17 % more packets than the RFC's
		// uniform 75-100 % (docs/SCALE.md 33).
		share := rand.Float64()
		if need := packetLen * len(m.sessions); cap(pkts) < need {
			pkts = make([]byte, 0, need)
		}
		pkts = pkts[:0]
		for _, s := range m.sessions {
			if watched(s) {
				s.lastRx = s.lastRx.Add(credit)
			}
			if watched(s) && now.Sub(s.lastRx) > m.detectTime(s) {
				m.log.Debug("bfd detection timeout", "peer", s.peer, "silent", now.Sub(s.lastRx), "detect", m.detectTime(s),
					"remote_tx", s.remoteTx, "remote_mult", s.remoteMult)
				if ch := m.setState(s, Down, diagTimeExpired); ch != nil {
					changes = append(changes, ch)
				}
				s.remoteDisc = 0
			}
			if early, _ := m.txWindow(s); !now.Before(early) {
				at := len(pkts)
				pkts = m.appendPacket(pkts, s, s.pollSeen)
				batch = append(batch, outPacket{pkt: pkts[at:len(pkts):len(pkts)], dst: netip.AddrPortFrom(s.peer, uint16(s.port)), oob: s.oob})
				s.pollSeen, s.urgent, s.lastTx = false, false, now
				s.jitter = m.jitter(s, share)
			}
			if _, late := m.txWindow(s); late.Add(-s.jitter).Before(next) {
				next = late.Add(-s.jitter)
			}
			if watched(s) {
				if d := s.lastRx.Add(m.detectTime(s) + time.Millisecond); d.Before(next) {
					next = d
				}
			}
			// A session on its way up or down is answered within Poll.
			// Once every session is Up, the passes that transmit read the
			// sockets often enough: a packet then only refreshes a
			// deadline, and a deadline is never judged before a read.
			if poll := now.Add(m.cfg.Poll); (s.state != Up || s.remoteSt != Up) && poll.Before(next) {
				next = poll
			}
		}
		m.sent += uint64(len(batch))
		m.mu.Unlock()
		for _, ch := range changes {
			m.notify(ch)
		}
		m.tx.sendBatch(batch, func(p outPacket, err error) {
			if m.ctx.Err() == nil {
				m.log.Debug("bfd send", "peer", p.dst.Addr(), "err", err)
			}
		})
		clear(batch)
		batch, changes = batch[:0], changes[:0]
		t.Reset(max(time.Until(next), time.Millisecond))
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			planned = next
		case <-m.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
	}
}

// receiveAll reads every socket empty.
func (m *Manager) receiveAll(b *rxBatch) {
	for _, c := range m.rx {
		if _, err := c.drain(b, m.receive); err != nil && m.ctx.Err() == nil {
			m.log.Debug("bfd receive", "err", err)
		}
	}
}

// packetLen is a control packet's length without authentication.
const packetLen = 24

// appendPacket appends a control packet (RFC 5880 section 4.1) to dst.
// Caller holds mu.
func (m *Manager) appendPacket(dst []byte, s *session, final bool) []byte {
	dst = append(dst, make([]byte, packetLen)...)
	b := dst[len(dst)-packetLen:]
	b[0] = 1<<5 | byte(s.diag&0x1f)
	b[1] = byte(s.state) << 6
	if final {
		b[1] |= 0x10 // F (final)
	}
	b[2] = byte(m.cfg.DetectMult)
	b[3] = packetLen
	binary.BigEndian.PutUint32(b[4:], s.localDisc)
	binary.BigEndian.PutUint32(b[8:], s.remoteDisc)
	us := uint32(m.cfg.Interval / time.Microsecond)
	binary.BigEndian.PutUint32(b[12:], us) // desired min TX
	binary.BigEndian.PutUint32(b[16:], us) // required min RX
	return dst
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
	m.received++
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
		s.pollSeen, s.urgent = true, true
		m.poke()
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
		m.notify(change)
	}
}

// setState changes state and returns the notification to make once the lock
// is released. Caller holds mu.
func (m *Manager) setState(s *session, st, diag int) func() {
	old := s.state
	s.state, s.diag = st, diag
	s.urgent = true // tell the peer at once
	m.poke()
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
