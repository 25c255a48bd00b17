package bgpguard

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"golang.org/x/sys/unix"
)

// The guard runs every session's keepalives and hold timer itself, from
// one timer for all sessions (as FRR's bgpd sends keepalives from one
// thread). Left to GoBGP, each session had its own ticker, and each
// keepalive crossed the relay on both ends: four wake-ups of two
// processes per message. At 100 nodes in a full mesh (99 sessions a node,
// keepalive 3 s) that alone kept the lab from converging; with the
// keepalives out of the way the same lab converged in 39 s.
//
// GoBGP is told a hold time it never reaches: it is configured with
// innerHold, the peer's OPEN reaches it with innerHold, and its own OPEN
// leaves with the configured hold time. GoBGP cannot simply be given 0: it
// sets each write's deadline to now plus the negotiated hold time, so with
// 0 every write fails.
const (
	innerHold      = 65535
	innerKeepalive = innerHold / 3
	// A keepalive may go out this much before its interval (RFC 4271
	// section 10: jitter the timers by 0.75 to 1), so that one pass sends
	// every session that is nearly due.
	keepaliveEarly = 4 // interval / keepaliveEarly
)

// timers are a neighbour's configured hold time and keepalive interval in
// seconds; hold 0 leaves the session's timers to GoBGP.
type timers struct{ hold, keepalive uint64 }

// takeTimers moves the configured timers of p from GoBGP to the guard.
func takeTimers(p *api.Peer) timers {
	if p.Timers == nil || p.Timers.Config == nil || p.Timers.Config.HoldTime == 0 {
		return timers{}
	}
	c := p.Timers.Config
	t := timers{hold: c.HoldTime, keepalive: c.KeepaliveInterval}
	c.HoldTime, c.KeepaliveInterval = innerHold, innerKeepalive
	return t
}

func (ps *peerState) configured() timers {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.timers
}

// session is the guard's view of one relayed connection.
type session struct {
	ps        *peerState
	ka        *keepalives // runs this session's timers once negotiated
	out       net.Conn
	closeBoth func()
	wmu       sync.Mutex // one writer on out at a time

	mu         sync.Mutex
	hold       time.Duration // negotiated; 0: no keepalives, no hold timer
	interval   time.Duration
	lastSent   time.Time
	lastRecv   time.Time
	due        time.Time // the next keepalive at the latest
	keepalives int       // received from the peer
	scheduled  bool
	// opened: GoBGP's OPEN has gone to the peer. No KEEPALIVE may go
	// before it: measured at 300 nodes, a reflector slow to send its OPEN
	// had the guard's first keepalive reach the client first, which the
	// client, in OpenSent, took for an invalid message and reset (most of
	// the failed attempts while 300 clients connected).
	opened bool
}

// write sends msg to the peer; sent marks it as restarting the keepalive
// timer (RFC 4271: any UPDATE or KEEPALIVE does).
func (s *session) write(msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err := s.out.Write(msg)
	s.sent(time.Now(), rand.Float64())
	if err == nil && msg[18] == bgp.BGP_MSG_OPEN {
		s.mu.Lock()
		s.opened = true
		s.lastRecv = time.Now() // the hold timer starts when both OPENs are out
		scheduled := s.scheduled
		s.mu.Unlock()
		if scheduled {
			s.ka.wake() // keepalives may start
		}
	}
	return err
}

// sent restarts the keepalive timer; share (0-1) says where in the
// jitter's range the next keepalive falls.
func (s *session) sent(now time.Time, share float64) {
	s.mu.Lock()
	s.lastSent = now
	if s.interval > 0 {
		s.due = now.Add(jitter(s.interval, share))
	}
	s.mu.Unlock()
}

// jitter is interval d cut by share of the RFC's 0-25 %.
func jitter(d time.Duration, share float64) time.Duration {
	return d - time.Duration(share*float64(d/keepaliveEarly))
}

// fromGoBGP prepares GoBGP's message for the wire: its OPEN carries the
// configured hold time, not innerHold.
func (s *session) fromGoBGP(msg []byte) {
	if t := s.ps.configured(); msg[18] == bgp.BGP_MSG_OPEN && t.hold > 0 && len(msg) >= 24 {
		binary.BigEndian.PutUint16(msg[22:24], uint16(min(t.hold, innerHold)))
	}
}

// heard restarts the hold timer: every message from the peer does.
func (s *session) heard() {
	s.mu.Lock()
	s.lastRecv = time.Now()
	s.mu.Unlock()
}

// fromPeer says whether GoBGP gets a message of the peer: the peer's OPEN
// sets the negotiated timers (and reaches GoBGP with innerHold); of its
// KEEPALIVEs GoBGP gets only the first, which ends OpenConfirm.
func (s *session) fromPeer(msg []byte) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch msg[18] {
	case bgp.BGP_MSG_OPEN:
		t := s.ps.configured()
		if t.hold == 0 || len(msg) < 24 {
			return true
		}
		peer := uint64(binary.BigEndian.Uint16(msg[22:24]))
		if peer == 1 || peer == 2 {
			return true // GoBGP refuses it (RFC 4271 section 6.2)
		}
		binary.BigEndian.PutUint16(msg[22:24], innerHold)
		if peer == 0 {
			s.hold = 0
			return true
		}
		hold, keepalive := min(peer, t.hold), t.keepalive
		if hold < t.hold {
			keepalive = hold / 3
		}
		s.hold = time.Duration(hold) * time.Second
		s.interval = max(time.Duration(keepalive)*time.Second, time.Second)
		s.lastSent, s.lastRecv = now, now
		s.due = now.Add(jitter(s.interval, rand.Float64()))
		if !s.scheduled {
			s.scheduled = true
			s.ka.add(s)
		}
	case bgp.BGP_MSG_KEEPALIVE:
		s.keepalives++
		return s.hold == 0 || s.keepalives == 1
	}
	return true
}

// keepalives sends every session's keepalives and runs their hold timers.
type keepalives struct {
	mu       sync.Mutex
	sessions map[*session]struct{}
	kick     chan struct{}
	expired  func(*session)
}

func newKeepalives(expired func(*session)) *keepalives {
	return &keepalives{sessions: map[*session]struct{}{}, kick: make(chan struct{}, 1), expired: expired}
}

func (k *keepalives) add(s *session) {
	k.mu.Lock()
	k.sessions[s] = struct{}{}
	k.mu.Unlock()
	k.wake()
}

// wake makes the timer look at the sessions again.
func (k *keepalives) wake() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *keepalives) remove(s *session) {
	k.mu.Lock()
	delete(k.sessions, s)
	k.mu.Unlock()
}

func (k *keepalives) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.kick:
		}
		t.Reset(time.Until(k.pass(time.Now())))
	}
}

var keepaliveMsg = frame(bgp.BGP_MSG_KEEPALIVE, nil)

var errPartialWrite = errors.New("partial write: the stream is broken")

// tryWrite writes msg if the socket takes it now and never waits: a full
// send buffer leaves this keepalive for the next pass. Not a write
// deadline: measured at 100 nodes, a pass that waited for the CPU past a
// deadline taken at its start failed its writes and closed healthy
// sessions (thousands, three seconds after they came up).
func tryWrite(c net.Conn, msg []byte) (bool, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		_, err := c.Write(msg)
		return err == nil, err
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var n int
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		n, werr = unix.Write(int(fd), msg)
		return true
	}); err != nil {
		return false, err
	}
	switch {
	case werr == unix.EAGAIN:
		return false, nil
	case werr != nil:
		return false, werr
	case n < len(msg):
		return false, errPartialWrite
	}
	return true, nil
}

// pass sends the keepalives that are due or nearly due, ends the sessions
// whose hold timer ran out, and returns when to run again.
func (k *keepalives) pass(now time.Time) time.Time {
	next := now.Add(time.Hour)
	var send, expired []*session
	k.mu.Lock()
	for s := range k.sessions {
		s.mu.Lock()
		switch {
		case s.hold == 0:
		case !s.opened: // our OPEN first; until then OpenSent's hold timer is GoBGP's
		case now.Sub(s.lastRecv) >= s.hold:
			expired = append(expired, s)
			delete(k.sessions, s)
		default:
			if !now.Before(s.due) || now.Sub(s.lastSent) >= s.interval-s.interval/keepaliveEarly {
				send = append(send, s)
			} else if s.due.Before(next) {
				next = s.due
			}
			if d := s.lastRecv.Add(s.hold); d.Before(next) {
				next = d
			}
		}
		s.mu.Unlock()
	}
	k.mu.Unlock()
	// One jitter for every keepalive of the pass: the pass sends each
	// session that is nearly due, so with a draw each the next pass came
	// at the earliest due time and every keepalive went at 75 % of its
	// interval (docs/SCALE.md 33); drawn once, they stay together and go
	// at a random point of the RFC's 75-100 %.
	share := rand.Float64()
	for _, s := range send {
		// A session GoBGP is writing to is sending anyway.
		if s.wmu.TryLock() {
			sent, err := tryWrite(s.out, keepaliveMsg)
			s.wmu.Unlock()
			if err != nil {
				s.closeBoth()
				continue
			}
			if sent {
				s.sent(now, share)
			}
		}
		s.mu.Lock()
		d := s.due
		s.mu.Unlock()
		if !d.After(now) {
			d = now.Add(10 * time.Millisecond) // GoBGP is writing: look again soon
		}
		if d.Before(next) {
			next = d
		}
	}
	for _, s := range expired {
		k.expired(s)
	}
	return next
}
