package bgpguard

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

func openMsg(t *testing.T, hold uint16) []byte {
	t.Helper()
	b, err := bgp.NewBGPOpenMessage(65000, hold, "10.0.0.1", nil).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func holdOf(msg []byte) uint16 { return binary.BigEndian.Uint16(msg[22:24]) }

// tcpPair is a connected pair on the loopback: the guard's side and the
// peer's.
func tcpPair(t *testing.T) (guard, peer net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan net.Conn)
	go func() {
		c, _ := l.Accept()
		done <- c
	}()
	guard, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-done
	t.Cleanup(func() { guard.Close(); peer.Close() })
	return guard, peer
}

// readMessages collects the message types arriving at c until it closes.
func readMessages(c net.Conn) <-chan []byte {
	ch := make(chan []byte, 64)
	go func() {
		defer close(ch)
		for {
			hdr := make([]byte, headerLen)
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			msg := make([]byte, binary.BigEndian.Uint16(hdr[16:18]))
			copy(msg, hdr)
			if _, err := io.ReadFull(c, msg[headerLen:]); err != nil {
				return
			}
			ch <- msg
		}
	}()
	return ch
}

// opened sends GoBGP's OPEN to the peer, after which keepalives may go.
func opened(t *testing.T, s *session) {
	t.Helper()
	if err := s.write(openMsg(t, innerHold)); err != nil {
		t.Fatal(err)
	}
}

func newSession(t *testing.T, k *keepalives, hold, keepalive uint64) (*session, net.Conn) {
	g, p := tcpPair(t)
	ps := &peerState{Peer: Peer{Addr: netip.MustParseAddr("192.0.2.1")}, timers: timers{hold: hold, keepalive: keepalive}}
	return &session{ps: ps, ka: k, out: g, closeBoth: func() { g.Close() }}, p
}

func TestTakeTimers(t *testing.T) {
	p := &api.Peer{Timers: &api.Timers{Config: &api.TimersConfig{HoldTime: 9, KeepaliveInterval: 3}}}
	if got := takeTimers(p); got != (timers{9, 3}) {
		t.Fatalf("took %+v, want hold 9 keepalive 3", got)
	}
	if c := p.Timers.Config; c.HoldTime != innerHold || c.KeepaliveInterval != innerKeepalive {
		t.Fatalf("GoBGP keeps hold %d keepalive %d, want %d %d", c.HoldTime, c.KeepaliveInterval, innerHold, innerKeepalive)
	}
	// Hold 0 (no keepalives at all) stays GoBGP's.
	p = &api.Peer{Timers: &api.Timers{Config: &api.TimersConfig{}}}
	if got := takeTimers(p); got != (timers{}) || p.Timers.Config.HoldTime != 0 {
		t.Fatalf("hold 0: took %+v, GoBGP hold %d", got, p.Timers.Config.HoldTime)
	}
}

func TestOpenAndKeepalivesRewritten(t *testing.T) {
	k := newKeepalives(func(*session) {})
	s, _ := newSession(t, k, 9, 3)

	mine := openMsg(t, innerHold)
	s.fromGoBGP(mine)
	if holdOf(mine) != 9 {
		t.Fatalf("our OPEN leaves with hold %d, want the configured 9", holdOf(mine))
	}
	theirs := openMsg(t, 6)
	if !s.fromPeer(theirs) || holdOf(theirs) != innerHold {
		t.Fatalf("the peer's OPEN reaches GoBGP with hold %d, want %d", holdOf(theirs), innerHold)
	}
	// Negotiated below the configured hold: keepalive is a third of it.
	if s.hold != 6*time.Second || s.interval != 2*time.Second {
		t.Fatalf("negotiated hold %v keepalive %v, want 6s and 2s", s.hold, s.interval)
	}
	ka := frame(bgp.BGP_MSG_KEEPALIVE, nil)
	if !s.fromPeer(ka) {
		t.Fatal("the first KEEPALIVE (it ends OpenConfirm) did not reach GoBGP")
	}
	if s.fromPeer(ka) {
		t.Fatal("a later KEEPALIVE reached GoBGP: the guard runs the hold timer")
	}

	// A peer without a hold timer: nothing to run, every message passes.
	s0, _ := newSession(t, k, 9, 3)
	if o := openMsg(t, 0); !s0.fromPeer(o) || s0.hold != 0 {
		t.Fatalf("hold 0 from the peer: negotiated %v, want none", s0.hold)
	}
	for range 3 {
		if !s0.fromPeer(ka) {
			t.Fatal("no hold timer negotiated, yet a KEEPALIVE was kept from GoBGP")
		}
	}
	// Hold 1 or 2 is an error GoBGP reports: passed on untouched.
	s1, _ := newSession(t, k, 9, 3)
	if o := openMsg(t, 2); !s1.fromPeer(o) || holdOf(o) != 2 {
		t.Fatalf("an OPEN with hold 2 reached GoBGP as %d", holdOf(o))
	}
}

// One timer sends the keepalives of every session; a session whose peer
// negotiated no hold time gets none.
func TestKeepalivesSentForEverySession(t *testing.T) {
	var mu sync.Mutex
	var expired []*session
	k := newKeepalives(func(s *session) { mu.Lock(); expired = append(expired, s); mu.Unlock() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.run(ctx)

	const n = 5
	var peers []<-chan []byte
	var sessions []*session
	for range n {
		s, p := newSession(t, k, 3, 1)
		s.fromPeer(openMsg(t, 3))
		opened(t, s)
		sessions = append(sessions, s)
		peers = append(peers, readMessages(p))
	}
	silent, sp := newSession(t, k, 3, 1)
	silent.fromPeer(openMsg(t, 0))
	silentIn := readMessages(sp)

	// The peers keep talking, so no hold timer runs out.
	stop := time.After(2500 * time.Millisecond)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	got := make([]int, n)
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-tick.C:
			for _, s := range sessions {
				s.heard()
			}
		default:
			for i, ch := range peers {
				select {
				case m := <-ch:
					if m[18] == bgp.BGP_MSG_KEEPALIVE {
						got[i]++
					}
				default:
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i, c := range got {
		if c < 2 {
			t.Errorf("session %d: %d keepalives in 2.5 s at a 1 s interval, want at least 2", i, c)
		}
	}
	select {
	case m := <-silentIn:
		t.Errorf("a session with no hold time got message type %d", m[18])
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	if len(expired) > 0 {
		t.Errorf("%d hold timers ran out although the peers kept talking", len(expired))
	}
}

// A peer that falls silent is sent Hold Timer Expired and its session is
// closed; one that keeps talking is not.
func TestHoldTimerExpires(t *testing.T) {
	g := &Guard{log: slog.New(slog.DiscardHandler)}
	k := newKeepalives(g.holdExpired)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.run(ctx)

	quiet, qp := newSession(t, k, 3, 1)
	talking, _ := newSession(t, k, 3, 1)
	quiet.fromPeer(openMsg(t, 3))
	talking.fromPeer(openMsg(t, 3))
	in := readMessages(qp)
	start := time.Now()
	opened(t, quiet)
	opened(t, talking)
	deadline := time.After(10 * time.Second)
	keep := time.NewTicker(500 * time.Millisecond)
	defer keep.Stop()
	for {
		select {
		case <-keep.C:
			talking.heard()
			continue
		case <-deadline:
			t.Fatal("no NOTIFICATION within 10 s of the peer falling silent (hold 3 s)")
		case m, ok := <-in:
			if !ok {
				t.Fatal("the session closed without a NOTIFICATION")
			}
			if m[18] != bgp.BGP_MSG_NOTIFICATION {
				continue
			}
			if m[19] != errHoldTimerExpired {
				t.Fatalf("NOTIFICATION code %d, want %d (Hold Timer Expired)", m[19], errHoldTimerExpired)
			}
			if d := time.Since(start); d < 3*time.Second {
				t.Fatalf("hold timer ran out after %v, before its 3 s", d)
			}
			if _, ok := <-in; ok {
				t.Fatal("the session stayed open after Hold Timer Expired")
			}
			k.mu.Lock()
			_, still := k.sessions[talking]
			k.mu.Unlock()
			if !still {
				t.Fatal("the session whose peer kept talking was ended too")
			}
			return
		}
	}
}

// A pass that ran late (its process waited for the CPU) still sends: the
// first version gave its writes a deadline taken at the pass's start and,
// at 100 nodes, closed thousands of healthy sessions that way.
func TestLatePassStillSends(t *testing.T) {
	k := newKeepalives(func(*session) {})
	s, p := newSession(t, k, 9, 3)
	closed := false
	s.closeBoth = func() { closed = true }
	s.fromPeer(openMsg(t, 9))
	in := readMessages(p)
	opened(t, s)
	<-in // our OPEN
	s.mu.Lock()
	s.lastSent, s.due = time.Now().Add(-10*time.Second), time.Now().Add(-7*time.Second)
	s.mu.Unlock()
	k.pass(time.Now().Add(-time.Second))
	if closed {
		t.Fatal("a late pass closed the session")
	}
	select {
	case m := <-in:
		if m[18] != bgp.BGP_MSG_KEEPALIVE {
			t.Fatalf("got message type %d, want a KEEPALIVE", m[18])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a late pass sent no keepalive")
	}
}

// No KEEPALIVE goes before GoBGP's OPEN, however long GoBGP takes to send
// it: a peer in OpenSent takes a KEEPALIVE for an invalid message and
// resets. The hold timer starts when both OPENs are out.
func TestNoKeepaliveBeforeOpen(t *testing.T) {
	k := newKeepalives(func(*session) { t.Error("the hold timer ran out before our OPEN was sent") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.run(ctx)
	s, p := newSession(t, k, 3, 1)
	in := readMessages(p)
	s.fromPeer(openMsg(t, 3)) // the peer's OPEN; GoBGP is slow to answer
	select {
	case m := <-in:
		t.Fatalf("message type %d reached the peer before our OPEN", m[18])
	case <-time.After(3500 * time.Millisecond): // past a keepalive interval and the hold time
	}
	opened(t, s)
	if m := <-in; m[18] != bgp.BGP_MSG_OPEN {
		t.Fatalf("first message type %d, want our OPEN", m[18])
	}
	select {
	case m := <-in:
		if m[18] != bgp.BGP_MSG_KEEPALIVE {
			t.Fatalf("message type %d after our OPEN, want a KEEPALIVE", m[18])
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no KEEPALIVE within 3 s of our OPEN (interval 1 s)")
	}
}

// The keepalives one pass sends share its jitter, inside RFC 4271's
// 75-100 % of the interval: with a draw each, the next pass came at the
// earliest due time and all of them went at 75 %.
func TestPassSharesJitter(t *testing.T) {
	k := newKeepalives(func(*session) {})
	var sessions []*session
	for range 20 {
		s, p := newSession(t, k, 9, 3)
		s.fromPeer(openMsg(t, 9))
		in := readMessages(p)
		opened(t, s)
		<-in // our OPEN
		sessions = append(sessions, s)
	}
	now := time.Now()
	for _, s := range sessions {
		s.mu.Lock()
		s.lastSent, s.lastRecv = now.Add(-2500*time.Millisecond), now
		s.mu.Unlock()
	}
	k.pass(now)
	var want time.Duration
	for i, s := range sessions {
		s.mu.Lock()
		sent, wait := s.lastSent, s.due.Sub(s.lastSent)
		s.mu.Unlock()
		if !sent.Equal(now) {
			t.Fatalf("session %d: not sent by the pass although 2.5 s of its 3 s had gone", i)
		}
		if wait < 2250*time.Millisecond || wait > 3*time.Second {
			t.Errorf("session %d: next keepalive %v after this one, want 2.25-3 s", i, wait)
		}
		if i == 0 {
			want = wait
		} else if wait != want {
			t.Fatalf("sessions sent by one pass are next due %v and %v after it: a draw each", want, wait)
		}
	}
}
