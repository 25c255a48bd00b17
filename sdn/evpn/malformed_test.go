package evpn

import (
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

// malformedMACIPUpdate is an UPDATE whose MP_REACH_NLRI carries an EVPN
// MAC/IP route (type 2) of length 18: a route distinguisher and an ESI and
// nothing else. GoBGP v3.37.0's EVPNMacIPAdvertisementRoute.DecodeFromBytes
// indexes past the end of it instead of returning an error.
func malformedMACIPUpdate(nexthop netip.Addr) []byte {
	nlri := []byte{2, 18, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1} // type 2, length 18, RD 65000:1
	nlri = append(nlri, make([]byte, 10)...)            // ESI 0
	mp := []byte{0, 25, 70, 4}                          // AFI l2vpn, SAFI evpn, next-hop length
	mp = append(mp, nexthop.AsSlice()...)
	mp = append(mp, 0) // reserved
	mp = append(mp, nlri...)
	attrs := []byte{0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 5, 4, 0, 0, 0, 100, 0x80, 14, byte(len(mp))}
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

// readMsg reads one BGP message and returns its type.
func readMsg(c net.Conn) (uint8, error) {
	hdr := make([]byte, 19)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(hdr[16:18]))
	if n < 19 {
		return 0, fmt.Errorf("bad BGP length %d", n)
	}
	if _, err := io.ReadFull(c, make([]byte, n-19)); err != nil {
		return 0, err
	}
	return hdr[18], nil
}

// TestMalformedEVPNRouteKillsAgent documents a GoBGP v3.37.0 limitation
// that the agent cannot guard against: a peer that sends a truncated EVPN
// MAC/IP route makes bgp.ParseBGPBody panic in GoBGP's own receive
// goroutine (fsmHandler.recvMessageloop), where no recover is possible,
// so the whole agent process exits (a control-plane crash of that node).
// If GoBGP is ever fixed or patched this test fails: then the peer should
// instead get a NOTIFICATION (or treat-as-withdraw) and the agent live on.
func TestMalformedEVPNRouteKillsAgent(t *testing.T) {
	l := newLab(t, "bad")
	na, nb := l.addNS("a"), l.addNS("b")
	l.sh(na, fmt.Sprintf(`ip link add u1 type veth peer name u1 netns %s
		ip addr add 10.9.0.1/24 dev u1
		ip link set u1 up`, nb))
	l.sh(nb, "ip addr add 10.9.0.2/24 dev u1\nip link set u1 up")
	ag := l.startAgent("a", Config{Node: "a", RouterID: netip.MustParseAddr("10.9.0.1"), ASN: 65000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr("10.9.0.2")}}})
	exited := make(chan error, 1)
	go func() { exited <- ag.cmd.Wait() }()

	// The raw peer dials from namespace b (a socket stays in the
	// namespace of the thread that opened it).
	var c net.Conn
	deadline := time.Now().Add(20 * time.Second)
	for c == nil {
		err := nsutil.Do(nb, func() error {
			var err error
			c, err = net.DialTimeout("tcp", "10.9.0.1:179", time.Second)
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
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	open, err := bgp.NewBGPOpenMessage(65000, 9, "10.9.0.2", []bgp.OptionParameterInterface{
		bgp.NewOptionParameterCapability([]bgp.ParameterCapabilityInterface{
			bgp.NewCapMultiProtocol(bgp.RF_EVPN), bgp.NewCapFourOctetASNumber(65000)})}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	keepalive, _ := bgp.NewBGPKeepAliveMessage().Serialize()
	if _, err := c.Write(open); err != nil {
		t.Fatal(err)
	}
	gotOpen, gotKA := false, false
	for !gotOpen || !gotKA {
		typ, err := readMsg(c)
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
	if _, err := c.Write(keepalive); err != nil {
		t.Fatal(err)
	}
	// Established on the agent's side before the bad UPDATE goes.
	l.eventually("session established", 10*time.Second, func() (bool, string) {
		s := l.query("a")
		if s == nil || len(s.Peers) == 0 {
			return false, "no state"
		}
		return s.Peers[0].State == "Established", s.Peers[0].State
	})
	if _, err := c.Write(malformedMACIPUpdate(netip.MustParseAddr("10.9.0.2"))); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		b, _ := os.ReadFile(filepath.Join(l.dir, "a.log"))
		log := string(b)
		if i := strings.Index(log, "panic:"); i >= 0 {
			log = log[i:]
		}
		head := log
		if len(head) > 1200 {
			head = head[:1200]
		}
		t.Logf("agent exited: %v\n%s", err, head)
		if !strings.Contains(log, "panic: runtime error") || !strings.Contains(log, "EVPNMacIPAdvertisementRoute).DecodeFromBytes") ||
			!strings.Contains(log, "recvMessageloop") {
			t.Errorf("agent exited, but not with GoBGP's decode panic:\n%s", tail(log, 3000))
		}
		delete(l.agents, "a") // already gone
		ag.stdin.Close()
		ag.log.Close()
	case <-time.After(10 * time.Second):
		s := l.query("a")
		t.Fatalf("agent survived the malformed route (GoBGP fixed? update the docs): state %+v", s)
	}
}
