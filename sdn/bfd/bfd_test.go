package bfd

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

func testManager(t *testing.T) (*Manager, *[]bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var changes []bool
	m := &Manager{cfg: Config{Interval: 300 * time.Millisecond, DetectMult: 3, Port: PortSingleHop}, log: slog.Default(),
		sessions: map[netip.Addr]*session{}, byDisc: map[uint32]*session{}, ctx: ctx, cancel: cancel,
		onChange: func(_ netip.Addr, up bool) { changes = append(changes, up) }}
	return m, &changes
}

// pkt builds a control packet as a peer would send it.
func pkt(state int, flags byte, myDisc, yourDisc uint32) []byte {
	b := make([]byte, 24)
	b[0] = 1 << 5
	b[1] = byte(state)<<6 | flags
	b[2] = 3
	b[3] = 24
	binary.BigEndian.PutUint32(b[4:], myDisc)
	binary.BigEndian.PutUint32(b[8:], yourDisc)
	binary.BigEndian.PutUint32(b[12:], 300000)
	binary.BigEndian.PutUint32(b[16:], 300000)
	return b
}

// The three-way handshake of RFC 5880 6.8.6, the answer to a poll, and
// the neighbour signalling down.
func TestStateMachine(t *testing.T) {
	m, changes := testManager(t)
	peer := netip.MustParseAddr("192.0.2.2")
	s := &session{peer: peer, port: PortSingleHop, state: Down, localDisc: 77}
	m.sessions[peer] = s
	m.byDisc[77] = s

	m.receive(pkt(Down, 0, 5, 0), peer)
	if s.state != Init || s.remoteDisc != 5 {
		t.Fatalf("after remote Down: state %s remote disc %d", stateNames[s.state], s.remoteDisc)
	}
	m.receive(pkt(Up, 0, 5, 77), peer)
	if s.state != Up || len(*changes) != 1 || !(*changes)[0] {
		t.Fatalf("after remote Up: state %s changes %v", stateNames[s.state], *changes)
	}
	// A poll (P) must be answered with the final bit (F, 0x10), not C.
	m.receive(pkt(Up, 0x20, 5, 77), peer)
	if !s.pollSeen {
		t.Fatal("poll not noticed")
	}
	out := m.appendPacket(nil, s, true)
	if out[1]&0x10 == 0 || out[1]&0x08 != 0 || out[1]>>6 != Up {
		t.Fatalf("final packet flags %#x", out[1])
	}
	if got := binary.BigEndian.Uint32(out[8:]); got != 5 {
		t.Fatalf("your discriminator %d", got)
	}
	// Packets for another discriminator or from another address are ignored.
	m.receive(pkt(Down, 0, 9, 78), peer)
	m.receive(pkt(Down, 0, 5, 77), netip.MustParseAddr("192.0.2.3"))
	if s.state != Up {
		t.Fatalf("foreign packet changed state to %s", stateNames[s.state])
	}
	m.receive(pkt(Down, 0, 5, 77), peer)
	if s.state != Down || s.diag != diagNeighborDown || len(*changes) != 2 || (*changes)[1] {
		t.Fatalf("after remote Down: state %s diag %d changes %v", stateNames[s.state], s.diag, *changes)
	}
}

func TestTimers(t *testing.T) {
	m, _ := testManager(t)
	last := time.Now()
	s := &session{remoteRx: time.Second, remoteTx: 100 * time.Millisecond, remoteMult: 5, lastTx: last}
	if early, late := m.txWindow(s); early.Sub(last) != 750*time.Millisecond || late.Sub(last) != time.Second {
		t.Errorf("tx window %v-%v after the last packet: want the peer's 1 s, from 75 %%", early.Sub(last), late.Sub(last))
	}
	s.urgent = true
	if early, _ := m.txWindow(s); !early.Equal(last) {
		t.Errorf("urgent: window opens %v after the last packet, want at once", early.Sub(last))
	}
	if d := m.detectTime(s); d != 1500*time.Millisecond {
		t.Errorf("detect time %v, want 5 x 300 ms", d)
	}
	// With a detection multiplier of 1, no more than 90 % (RFC 5880
	// 6.8.7): a packet at 100 % could arrive after the peer's detection
	// time. The jitter keeps every send inside the window.
	s.urgent = false
	for _, mult := range []int{1, 3} {
		m.cfg.DetectMult = mult
		want := time.Second
		if mult == 1 {
			want = 900 * time.Millisecond
		}
		early, late := m.txWindow(s)
		if early.Sub(last) != 750*time.Millisecond || late.Sub(last) != want {
			t.Errorf("detect mult %d: tx window %v-%v after the last packet, want 750ms-%v", mult, early.Sub(last), late.Sub(last), want)
		}
		for _, share := range []float64{0, 0.5, 0.999} {
			if at := late.Add(-m.jitter(s, share)); at.Before(early) || at.After(late) {
				t.Errorf("detect mult %d, draw %.3f: sent %v after the last packet, outside %v-%v", mult, share, at.Sub(last), early.Sub(last), late.Sub(last))
			}
		}
	}
}

// Packets that fail the reception checks of RFC 5880 6.8.6 are counted by
// reason and change nothing: the session stays up, and they do not count as
// hearing from the peer (they could keep a dead session alive otherwise).
func TestMalformedPacketsDropped(t *testing.T) {
	m, changes := testManager(t)
	peer := netip.MustParseAddr("192.0.2.2")
	s := &session{peer: peer, port: PortSingleHop, state: Down, localDisc: 77}
	m.sessions[peer] = s
	m.byDisc[77] = s
	m.receive(pkt(Init, 0, 5, 77), peer)
	if s.state != Up {
		t.Fatalf("state %s, want Up", stateNames[s.state])
	}
	heard := time.Now().Add(-time.Hour)
	s.lastRx = heard
	mod := func(f func(b []byte) []byte) []byte { return f(pkt(Down, 0, 5, 77)) }
	cases := map[string][]byte{
		DropLength:        mod(func(b []byte) []byte { return b[:20] }),
		DropVersion:       mod(func(b []byte) []byte { b[0] = 2 << 5; return b }),
		DropMultiplier:    mod(func(b []byte) []byte { b[2] = 0; return b }),
		DropMultipoint:    pkt(Down, 0x01, 5, 77),
		DropAuth:          mod(func(b []byte) []byte { b[1] |= 0x04; b[3] = 26; return append(b, 0, 0) }),
		DropMyDiscZero:    pkt(Down, 0, 0, 77),
		DropUnknownDisc:   pkt(Down, 0, 5, 78),
		DropNoDiscUp:      pkt(Up, 0, 5, 0),
		DropUnknownSource: pkt(Down, 0, 5, 0),
	}
	// The length field longer than the packet, and a header too short to read.
	long := mod(func(b []byte) []byte { b[3] = 40; return b })
	for why, b := range cases {
		from := peer
		if why == DropUnknownSource {
			from = netip.MustParseAddr("192.0.2.9")
		}
		m.receive(b, from)
		if got := m.Dropped()[why]; got != 1 {
			t.Errorf("%s: counted %d, want 1 (all: %v)", why, got, m.Dropped())
		}
	}
	m.receive(long, peer)
	m.receive([]byte{0x20}, peer)
	if got := m.Dropped()[DropLength]; got != 3 {
		t.Errorf("length drops %d, want 3", got)
	}
	if s.state != Up || len(*changes) != 1 || !s.lastRx.Equal(heard) || s.remoteDisc != 5 {
		t.Errorf("a dropped packet touched the session: state %s changes %v last heard %v", stateNames[s.state], *changes, s.lastRx)
	}
}

// FuzzReceive: no packet panics the receive path, and none that is dropped
// changes the session.
func FuzzReceive(f *testing.F) {
	f.Add(pkt(Down, 0, 5, 0))
	f.Add(pkt(Up, 0x20, 5, 77))
	f.Add([]byte{0x20, 0xc0, 0, 24})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := testManager(t)
		m.log = slog.New(slog.DiscardHandler)
		peer := netip.MustParseAddr("192.0.2.2")
		s := &session{peer: peer, port: PortSingleHop, state: Up, localDisc: 77, remoteDisc: 5}
		m.sessions[peer] = s
		m.byDisc[77] = s
		before := *s
		m.receive(b, peer)
		var dropped uint64
		for _, n := range m.Dropped() {
			dropped += n
		}
		if dropped > 0 && (s.state != before.state || !s.lastRx.Equal(before.lastRx) || s.remoteDisc != before.remoteDisc) {
			t.Fatalf("dropped packet %x changed the session", b)
		}
	})
}

// One scheduler serves every session: 100 sessions send their packets in
// batches, far fewer wake-ups than packets (the cost that made 100-node
// labs collapse was a wake-up per packet).
func TestSchedulerBatches(t *testing.T) {
	var m *Manager
	inOwnNS(t, func() (err error) {
		m, err = Start(context.Background(), Config{Interval: 300 * time.Millisecond, DetectMult: 3, Port: 47840},
			slog.New(slog.DiscardHandler), nil)
		return err
	})
	defer m.Close()
	for i := range 100 {
		m.Add(netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}), netip.Addr{}, false)
	}
	// Down sessions send once a second (RFC 5880 6.8.3): wait for three
	// rounds, whatever the load.
	deadline := time.Now().Add(30 * time.Second)
	for m.Stats().Sent < 300 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	st := m.Stats()
	if st.Sent < 300 {
		t.Fatalf("sent %d packets in 30 s for 100 sessions, want 300", st.Sent)
	}
	if st.Wakeups*4 > st.Sent {
		t.Errorf("%d scheduler wake-ups for %d packets: not batched", st.Wakeups, st.Sent)
	}
	t.Logf("%d packets in %d wake-ups", st.Sent, st.Wakeups)
	// Sessions sent in one pass share its jitter, inside the RFC's 0-25 %
	// of the interval: with a draw each, the next pass came at the
	// earliest, and every session sent at 75 % of its interval.
	m.mu.Lock()
	defer m.mu.Unlock()
	byPass := map[time.Time]time.Duration{}
	for _, s := range m.sessions {
		if s.jitter < 0 || s.jitter > m.txInterval(s)/4 {
			t.Errorf("session %s: jitter %v outside 0-25 %% of %v", s.peer, s.jitter, m.txInterval(s))
		}
		if j, ok := byPass[s.lastTx]; !ok {
			byPass[s.lastTx] = s.jitter
		} else if j != s.jitter {
			t.Fatalf("sessions sent in the same pass wait %v and %v before their window's end: a draw each", j, s.jitter)
		}
	}
	if len(byPass) > 10 {
		t.Errorf("100 sessions last sent in %d passes: not batched", len(byPass))
	}
}

// A peer that goes silent is declared down (an earlier design parked a
// reader on the empty socket and the scheduler's drain waited for it: BFD
// stopped sending at all).
func TestSilentPeerDetected(t *testing.T) {
	downs := make(chan bool, 16)
	var m *Manager
	var c *net.UDPConn
	peer := netip.MustParseAddr("127.0.0.2")
	inOwnNS(t, func() (err error) {
		if m, err = Start(context.Background(), Config{Interval: 100 * time.Millisecond, DetectMult: 3, Port: 47841},
			slog.New(slog.DiscardHandler), func(_ netip.Addr, up bool) { downs <- up }); err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(peer.AsSlice())})
		return err
	})
	defer m.Close()
	defer c.Close()
	m.Add(peer, netip.Addr{}, false)
	m.mu.Lock()
	disc := m.sessions[peer].localDisc
	m.mu.Unlock()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 47841}
	send := func(b []byte) {
		if _, err := c.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
	send(pkt(Down, 0, 9, 0))
	send(pkt(Up, 0, 9, disc))
	select {
	case up := <-downs:
		if !up {
			t.Fatal("first change is down, want up")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("session not up (state %s)", m.State(peer))
	}
	select {
	case up := <-downs:
		if up {
			t.Fatal("second change is up, want down")
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("silent peer not declared down in 20 s (detection 300 ms), state %s", m.State(peer))
	}
}

// Arriving packets do not wake the process one by one: a burst of 2,000
// packets is read in a few passes (each packet was a wake-up before, the
// cost that made 100-node labs collapse).
func TestArrivalsReadInBatches(t *testing.T) {
	var m *Manager
	var c *net.UDPConn
	inOwnNS(t, func() (err error) {
		if m, err = Start(context.Background(), Config{Interval: 300 * time.Millisecond, DetectMult: 3, Port: 47843},
			slog.New(slog.DiscardHandler), nil); err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
		return err
	})
	defer m.Close()
	defer c.Close()
	// A session that never comes up keeps the manager polling (with every
	// session Up it reads on its transmit passes instead). Multihop: its
	// packets go to 4784, where nothing listens, not back to us.
	m.Add(netip.MustParseAddr("127.0.0.9"), netip.Addr{}, true)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 47843}
	before := m.Stats()
	const burst = 2000
	for i := range burst {
		if _, err := c.WriteToUDP(pkt(Down, 0, uint32(i+1), 0), to); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(60 * time.Millisecond) // stay below the socket's buffer
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for m.Stats().Received-before.Received < burst && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := m.Stats()
	got, passes := st.Received-before.Received, st.Wakeups-before.Wakeups
	if got < burst {
		t.Fatalf("read %d of %d packets in 20 s", got, burst)
	}
	if passes*10 > got {
		t.Errorf("%d passes for %d packets: arrivals wake the process", passes, got)
	}
	if d := m.Dropped()[DropUnknownSource]; d != burst {
		t.Errorf("%d packets dropped as from an unknown source, want %d", d, burst)
	}
	t.Logf("%d packets read in %d passes", got, passes)
}

// stater is a Manager or a Process.
type stater interface{ State(netip.Addr) string }

// bothUp waits until a's session towards lb and b's towards la are Up.
func bothUp(a, b stater, la, lb netip.Addr, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for a.State(lb) != "Up" || b.State(la) != "Up" {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// inOwnNS runs open (which opens the test's sockets) in a network
// namespace the test creates and removes, so its BFD traffic never touches
// the host's loopback; an error opening them fails the test.
func inOwnNS(t *testing.T, open func() error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace of its own")
	}
	name := fmt.Sprintf("sdnlab-t%d-%s", os.Getpid(), t.Name())
	ns, err := nsutil.OpenNS(name, true)
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	t.Cleanup(func() {
		if err := nsutil.Delete(name); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	})
	if err := nsutil.Do(name, open); err != nil {
		t.Fatal(err)
	}
}

// A session sends from the local address it was given (its BGP session's
// update source), not from the address the kernel would pick: a peer knows
// the session by it, and a WireGuard tunnel drops other sources. With
// Addrs the manager receives on those addresses only, so another daemon
// (the peer here, bfdd beside the agent) can hold the port elsewhere.
func TestSessionSendsFromItsLocalAddress(t *testing.T) {
	var m *Manager
	var c *net.UDPConn
	peer, local := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	inOwnNS(t, func() (err error) {
		if m, err = Start(context.Background(), Config{Interval: 100 * time.Millisecond, DetectMult: 3, Port: 47842, Addrs: []netip.Addr{local}},
			slog.New(slog.DiscardHandler), nil); err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(peer.AsSlice()), Port: 47842})
		return err
	})
	defer m.Close()
	defer c.Close()
	m.Add(peer, local, false)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	_, from, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := netip.AddrFromSlice(from.IP); got.Unmap() != local {
		t.Fatalf("BFD packet from %s, want %s", from.IP, local)
	}
}

// Once its sessions are Up at both ends a manager stops polling: its
// passes are its transmissions (with polling they were about three times
// as many for one session at 300 ms).
func TestNoPollingWhenUp(t *testing.T) {
	var a, b *Manager
	la, lb := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	quiet := slog.New(slog.DiscardHandler)
	inOwnNS(t, func() (err error) {
		if a, err = Start(context.Background(), Config{Interval: 300 * time.Millisecond, DetectMult: 3, Port: 47844, Addrs: []netip.Addr{la}}, quiet, nil); err != nil {
			return err
		}
		b, err = Start(context.Background(), Config{Interval: 300 * time.Millisecond, DetectMult: 3, Port: 47844, Addrs: []netip.Addr{lb}}, quiet, nil)
		return err
	})
	defer a.Close()
	defer b.Close()
	a.Add(lb, la, false)
	b.Add(la, lb, false)
	if !bothUp(a, b, la, lb, 20*time.Second) {
		t.Fatalf("sessions not up in 20 s: %s, %s", a.State(lb), b.State(la))
	}
	time.Sleep(time.Second) // the remote state settles on both sides
	before := a.Stats()
	time.Sleep(3 * time.Second)
	after := a.Stats()
	passes, sent := after.Wakeups-before.Wakeups, after.Sent-before.Sent
	if sent == 0 || passes > 2*sent {
		t.Errorf("%d passes for %d packets sent with the session Up: still polling", passes, sent)
	}
	if a.State(lb) != "Up" {
		t.Errorf("session went %s without polling", a.State(lb))
	}
	t.Logf("%d passes, %d packets sent in 3 s", passes, sent)
}

// The scheduler's passes allocate nothing once running. A pass that made
// each packet and its headers anew grew an idle BFD process's heap to the
// runtime's first collection, 5.6 MB of PSS per node at 100 nodes (a
// process per node, docs/SCALE.md 39).
func TestPassesDoNotAllocate(t *testing.T) {
	var m *Manager
	local := netip.MustParseAddr("127.0.0.3")
	inOwnNS(t, func() (err error) {
		m, err = Start(context.Background(), Config{Interval: 300 * time.Millisecond, DetectMult: 3, Port: 47847, Addrs: []netip.Addr{local}},
			slog.New(slog.DiscardHandler), nil)
		return err
	})
	defer m.Close()
	for i := range 100 {
		m.Add(netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}), local, false)
	}
	waitSent := func(n uint64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); m.Stats().Sent < n; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("sent %d packets in 30 s, want %d", m.Stats().Sent, n)
			}
		}
	}
	waitSent(200) // the first passes size the buffers
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st0 := m.Stats()
	waitSent(st0.Sent + 300)
	runtime.ReadMemStats(&after)
	st := m.Stats()
	sent, passes := st.Sent-st0.Sent, st.Wakeups-st0.Wakeups
	// Nothing else in this process allocates meanwhile (the polling reads
	// counters), so even one allocation a pass, such as the send headers
	// made anew, shows: fewer allocations than passes.
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d allocations for %d packets in %d passes", allocs, sent, passes)
	if allocs >= passes {
		t.Errorf("%d allocations while %d passes sent %d packets, want fewer than one a pass", allocs, passes, sent)
	}
}
