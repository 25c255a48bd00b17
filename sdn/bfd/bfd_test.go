package bfd

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"testing"
	"time"
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
	s := &session{peer: peer, port: PortSingleHop, state: Down, localDisc: 77, kick: make(chan struct{}, 1)}
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
	out := m.packet(s, true)
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
	s := &session{remoteRx: time.Second, remoteTx: 100 * time.Millisecond, remoteMult: 5}
	if iv := m.txInterval(s); iv > time.Second || iv < 750*time.Millisecond {
		t.Errorf("tx interval %v: want the peer's 1 s minus jitter", iv)
	}
	if d := m.detectTime(s); d != 1500*time.Millisecond {
		t.Errorf("detect time %v, want 5 x 300 ms", d)
	}
}
