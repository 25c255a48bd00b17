package evpn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// evpnUpdateBytes is an iBGP UPDATE announcing EVPN routes (given as NLRI
// bytes) with route target 65000:100 and the VXLAN encapsulation.
func evpnUpdateBytes(nexthop netip.Addr, nlri ...[]byte) []byte {
	mp := []byte{0, 25, 70, 4} // AFI l2vpn, SAFI evpn, next-hop length
	mp = append(mp, nexthop.AsSlice()...)
	mp = append(mp, 0) // reserved
	for _, n := range nlri {
		mp = append(mp, n...)
	}
	attrs := []byte{0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 5, 4, 0, 0, 0, 100,
		0xc0, 16, 16, 0, 2, 0xfd, 0xe8, 0, 0, 0, 100, 3, 0x0c, 0, 0, 0, 0, 0, 8,
		0x80, 14, byte(len(mp))}
	attrs = append(attrs, mp...)
	body := []byte{0, 0, byte(len(attrs) >> 8), byte(len(attrs))}
	body = append(body, attrs...)
	msg := make([]byte, 16, 19+len(body))
	for i := range msg {
		msg[i] = 0xff
	}
	msg = binary.BigEndian.AppendUint16(msg, uint16(19+len(body)))
	msg = append(msg, bgp.BGP_MSG_UPDATE)
	return append(msg, body...)
}

// macIPRoute is a well-formed MAC/IP route of VNI 100 from 10.99.0.2.
func macIPRoute(t *testing.T, mac string) []byte {
	rd, _ := bgp.ParseRouteDistinguisher("10.99.0.2:2")
	b, err := bgp.NewEVPNMacIPAdvertisementRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, mac, "", []uint32{100}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// truncatedMACIP is an EVPN MAC/IP route (type 2) of length 18: a route
// distinguisher and an ESI and nothing else. GoBGP v3.37.0's
// EVPNMacIPAdvertisementRoute.DecodeFromBytes indexes past the end of it
// instead of returning an error (a panic in GoBGP's receive goroutine).
var truncatedMACIP = append([]byte{2, 18, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1}, make([]byte, 10)...)

// readMsg reads one BGP message and returns its type and body.
func readMsg(c net.Conn) (uint8, []byte, error) {
	hdr := make([]byte, 19)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[16:18]))
	if n < 19 {
		return 0, nil, fmt.Errorf("bad BGP length %d", n)
	}
	body := make([]byte, n-19)
	if _, err := io.ReadFull(c, body); err != nil {
		return 0, nil, err
	}
	return hdr[18], body, nil
}

// TestMalformedEVPNRouteAgentSurvives sends the agent, from a raw BGP peer,
// the UPDATE that makes GoBGP v3.37.0 panic (a truncated EVPN MAC/IP route,
// next to a good one), then a message with a broken header. The agent must
// live on: the UPDATE is treated as withdraw (neither route installed, the
// session stays up, the error counted for the peer and logged with peer and
// reason), and the broken header gets a NOTIFICATION and a session reset.
// Good routes sent before and after show that routes do get installed.
func TestMalformedEVPNRouteAgentSurvives(t *testing.T) {
	l := newLab(t, "bad")
	na := l.buildL2Node("a", "10.99.0.1", 100)
	nb := l.addNS("b")
	l.linkUnderlay(na, "u1", nb, "u2")
	peer := netip.MustParseAddr("10.99.0.2")
	cfg := twoNodeConfig("a", "10.99.0.1", "10.99.0.2")
	cfg.Neighbors[0].BFD = false // the raw peer speaks no BFD
	ag := l.startAgent("a", cfg)
	exited := make(chan error, 1)
	go func() { exited <- ag.cmd.Wait() }()
	alive := func(when string) {
		t.Helper()
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(l.dir, "a.log"))
			delete(l.agents, "a")
			t.Fatalf("agent died %s: %v\n%s", when, err, tail(string(b), 3000))
		default:
		}
	}

	// The raw peer dials from namespace b (a socket stays in the
	// namespace of the thread that opened it).
	var c net.Conn
	deadline := time.Now().Add(20 * time.Second)
	for c == nil {
		err := nsutil.Do(nb, func() error {
			var err error
			c, err = net.DialTimeout("tcp", "10.99.0.1:179", time.Second)
			return err
		})
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("dial agent: %v", err)
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	open, err := bgp.NewBGPOpenMessage(65000, 90, peer.String(), []bgp.OptionParameterInterface{
		bgp.NewOptionParameterCapability([]bgp.ParameterCapabilityInterface{
			bgp.NewCapMultiProtocol(bgp.RF_EVPN), bgp.NewCapFourOctetASNumber(65000)})}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	keepalive, _ := bgp.NewBGPKeepAliveMessage().Serialize()
	send := func(m []byte) {
		t.Helper()
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	send(open)
	gotOpen, gotKA := false, false
	for !gotOpen || !gotKA {
		typ, _, err := readMsg(c)
		if err != nil {
			t.Fatalf("handshake: %v (open %v keepalive %v)", err, gotOpen, gotKA)
		}
		switch typ {
		case bgp.BGP_MSG_OPEN:
			gotOpen = true
		case bgp.BGP_MSG_KEEPALIVE:
			gotKA = true
		case bgp.BGP_MSG_NOTIFICATION:
			t.Fatal("agent refused the session (NOTIFICATION)")
		}
	}
	send(keepalive)
	// Whatever the agent sends from now on is read here, so that a
	// NOTIFICATION is seen.
	msgs := make(chan []byte, 64)
	go func() {
		defer close(msgs)
		for {
			typ, body, err := readMsg(c)
			if err != nil {
				return
			}
			msgs <- append([]byte{typ}, body...)
		}
	}()
	peerStatus := func() PeerStatus {
		if s := l.query("a"); s != nil && len(s.Peers) == 1 {
			return s.Peers[0]
		}
		return PeerStatus{}
	}
	l.eventually("session established", 10*time.Second, func() (bool, string) {
		ps := peerStatus()
		return ps.State == "Established" && ps.Addr == peer.String(), fmt.Sprintf("%+v", ps)
	})

	// A good route is installed (FDB entry towards the peer's VTEP).
	send(evpnUpdateBytes(peer, macIPRoute(t, "02:00:00:00:00:21")))
	l.eventually("good route in the FDB", 10*time.Second, func() (bool, string) {
		return l.fdbHas(na, "vx100", "02:00:00:00:00:21", "dst 10.99.0.2")
	})

	// The UPDATE GoBGP cannot parse, with a good route beside the bad
	// one; then a good route again, which marks when the first was handled.
	send(evpnUpdateBytes(peer, macIPRoute(t, "02:00:00:00:00:22"), truncatedMACIP))
	send(evpnUpdateBytes(peer, macIPRoute(t, "02:00:00:00:00:23")))
	l.eventually("route after the malformed UPDATE in the FDB", 10*time.Second, func() (bool, string) {
		return l.fdbHas(na, "vx100", "02:00:00:00:00:23", "dst 10.99.0.2")
	})
	alive("after the malformed UPDATE")
	if ok, out := l.fdbHas(na, "vx100", "02:00:00:00:00:22"); ok {
		t.Errorf("the route of the malformed UPDATE was installed:\n%s", out)
	}
	s := l.query("a")
	if s == nil {
		t.Fatal("agent does not answer")
	}
	for _, r := range s.Routes {
		if r.MAC == "02:00:00:00:00:22" {
			t.Errorf("the route of the malformed UPDATE is in the RIB: %+v", r)
		}
	}
	ps := peerStatus()
	if ps.State != "Established" || ps.Malformed.TreatAsWithdraw != 1 || ps.Malformed.SessionResets != 0 {
		t.Errorf("after the malformed UPDATE: want the session up and one treat-as-withdraw, got %+v", ps)
	}
	if !strings.Contains(ps.Malformed.LastReason, "MAC/IP route of length 18") {
		t.Errorf("last reason %q does not say what was wrong", ps.Malformed.LastReason)
	}
	b, _ := os.ReadFile(filepath.Join(l.dir, "a.log"))
	if log := string(b); !strings.Contains(log, "malformed BGP message") || !strings.Contains(log, "peer=10.99.0.2") ||
		!strings.Contains(log, "treat-as-withdraw") {
		t.Errorf("the log does not name the peer and the reason:\n%s", tail(log, 2000))
	}

	// A broken header: NOTIFICATION (message header error, connection not
	// synchronised) and the session reset; the peer's routes go.
	bad := bytes.Clone(keepalive)
	bad[5] = 0
	send(bad)
	var notif []byte
	for m := range msgs {
		if m[0] == bgp.BGP_MSG_NOTIFICATION {
			notif = m[1:]
		}
	}
	if len(notif) < 2 || notif[0] != 1 || notif[1] != 1 {
		t.Errorf("want a NOTIFICATION 1/1 (header, not synchronised) before the close, got %x", notif)
	}
	l.eventually("session reset and the peer's routes gone", 15*time.Second, func() (bool, string) {
		ps := peerStatus()
		ok, out := l.fdbHas(na, "vx100", "02:00:00:00:00:21")
		return ps.State != "Established" && ps.Malformed.SessionResets == 1 && !ok, fmt.Sprintf("%+v\n%s", ps, out)
	})
	time.Sleep(time.Second)
	alive("after the broken header")
	if l.query("a") == nil {
		t.Fatal("agent does not answer after the broken header")
	}
}

// TestMalformedBFDNoFlap sends an agent with an up BFD session, from the
// peer's address, BFD packets with a wrong length, version, a zero
// multiplier and unknown discriminators for three detection times: they
// are dropped and counted, and neither BFD nor BGP flaps.
func TestMalformedBFDNoFlap(t *testing.T) {
	l := newLab(t, "bfdbad")
	n1 := l.buildL2Node("n1", "10.99.0.1", 100)
	n2 := l.buildL2Node("n2", "10.99.0.2", 100)
	l.linkUnderlay(n1, "u1", n2, "u2")
	l.startAgent("n1", twoNodeConfig("n1", "10.99.0.1", "10.99.0.2"))
	l.startAgent("n2", twoNodeConfig("n2", "10.99.0.2", "10.99.0.1"))
	var up PeerStatus
	l.eventually("BGP and BFD up", 30*time.Second, func() (bool, string) {
		s := l.query("n1")
		if s == nil || len(s.Peers) != 1 {
			return false, "no state"
		}
		up = s.Peers[0]
		return up.State == "Established" && up.BFD == "Up", fmt.Sprintf("%+v", up)
	})
	good := func(state byte) []byte {
		b := make([]byte, 24)
		b[0], b[1], b[2], b[3] = 1<<5, state<<6, 3, 24
		binary.BigEndian.PutUint32(b[4:], 12345)
		binary.BigEndian.PutUint32(b[12:], 300000)
		binary.BigEndian.PutUint32(b[16:], 300000)
		return b
	}
	bad := map[string][]byte{
		"length":                good(1)[:20],
		"version":               func() []byte { b := good(1); b[0] = 0; return b }(),
		"zero-multiplier":       func() []byte { b := good(1); b[2] = 0; return b }(),
		"unknown-discriminator": func() []byte { b := good(1); binary.BigEndian.PutUint32(b[8:], 999); return b }(),
	}
	var c *net.UDPConn
	if err := nsutil.Do(n2, func() error {
		var err error
		c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 99, 0, 1), Port: 3784})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := 0
	for end := time.Now().Add(3 * 900 * time.Millisecond); time.Now().Before(end); sent++ {
		for _, b := range bad {
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.eventually("drops counted", 5*time.Second, func() (bool, string) {
		s := l.query("n1")
		if s == nil {
			return false, "no state"
		}
		for why := range bad {
			if s.BFDDropped[why] < uint64(sent) {
				return false, fmt.Sprintf("sent %d of each, counted %v", sent, s.BFDDropped)
			}
		}
		return true, ""
	})
	s := l.query("n1")
	if s == nil || len(s.Peers) != 1 {
		t.Fatal("no state")
	}
	if p := s.Peers[0]; p.State != "Established" || p.BFD != "Up" || !p.Since.Equal(up.Since) {
		t.Errorf("the session flapped: before %+v, after %+v", up, p)
	}
}
