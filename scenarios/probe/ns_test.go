package probe

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// twoHosts makes two namespaces joined by a veth (10.77.0.1 and .2/24,
// MTU 1400) and removes them at the end of the test.
func twoHosts(t *testing.T) (a, b string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	p := fmt.Sprintf("sdnlab-t%d-", os.Getpid())
	a, b = p+"pa", p+"pb"
	for _, n := range []string{a, b} {
		if err := nsutil.Create(n); err != nil {
			t.Fatal(err)
		}
		n := n
		t.Cleanup(func() { _ = nsutil.Delete(n) })
	}
	ha, err := nsutil.Handle(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	fb, err := nsutil.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0", MTU: 1400}, PeerName: "eth1", PeerNamespace: netlink.NsFd(int(fb))}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ ns, ifc, addr string }{{a, "eth0", "10.77.0.1/24"}, {b, "eth1", "10.77.0.2/24"}} {
		h, err := nsutil.Handle(x.ns)
		if err != nil {
			t.Fatal(err)
		}
		l, err := h.LinkByName(x.ifc)
		if err != nil {
			t.Fatal(err)
		}
		ad, _ := netlink.ParseAddr(x.addr)
		if err := h.AddrAdd(l, ad); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	// Until the kernel's link watch reports carrier the veth drops
	// everything: wait for both ends rather than hope the first probe waits.
	for _, x := range []struct{ ns, ifc string }{{a, "eth0"}, {b, "eth1"}} {
		h, err := nsutil.Handle(x.ns)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			l, err := h.LinkByName(x.ifc)
			if err == nil && l.Attrs().OperState == netlink.OperUp {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s did not come up", x.ifc, x.ns)
			}
			time.Sleep(5 * time.Millisecond)
		}
		h.Close()
	}
	return a, b
}

func TestStreamPingTables(t *testing.T) {
	a, b := twoHosts(t)
	dst := netip.MustParseAddr("10.77.0.2")
	pr, err := Ping(context.Background(), a, dst, PingOpts{Count: 2, Interval: 50 * time.Millisecond})
	if err != nil || pr.Received != 2 {
		t.Fatalf("ping: %+v %v", pr, err)
	}
	// DF probe above the link MTU fails with a local error naming the MTU.
	big, err := Ping(context.Background(), a, dst, PingOpts{Count: 1, Size: 1500, DF: true, Timeout: 300 * time.Millisecond})
	if err != nil || big.OK() || big.MTU != 1400 {
		t.Fatalf("DF ping over MTU: %+v %v", big, err)
	}
	s, err := StartStream(a, b, dst, 45000, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Poll for traffic rather than sleep a fixed time: a loaded machine
	// may send far fewer than one datagram per millisecond.
	for deadline := time.Now().Add(10 * time.Second); len(s.Snapshot()) < 50 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	st := s.Stop(50 * time.Millisecond)
	if st.Sent < 50 || st.Received == 0 || st.Lost < 0 || st.Received > st.Sent || st.TailSent == 0 {
		t.Fatalf("stream: %s", st)
	}
	// Every datagram is in the record; a received one carries the kernel's
	// receive stamp, after it was sent.
	recs := s.Records()
	arrived := 0
	for i, rc := range recs {
		if rc.Seq != uint64(i) || rc.Sent.IsZero() {
			t.Fatalf("record %d: %+v", i, rc)
		}
		if !rc.Lost {
			arrived++
			if rc.Recv.Before(rc.Sent) || rc.Recv.Sub(rc.Sent) > 5*time.Second {
				t.Fatalf("record %d: received %v, sent %v", i, rc.Recv, rc.Sent)
			}
		}
	}
	if len(recs) != st.Sent || arrived != st.Received {
		t.Fatalf("records: %d (%d received), stats %s", len(recs), arrived, st)
	}
	e, ok, err := NeighFor(a, dst)
	if err != nil || !ok || e.MAC == "" {
		t.Fatalf("neigh: %+v %v %v", e, ok, err)
	}
	mac, err := LinkMAC(b, "eth1")
	if err != nil || e.MAC != mac.String() {
		t.Fatalf("neigh MAC %s, link MAC %v (%v)", e.MAC, mac, err)
	}
	if m, err := LinkMTU(a, "eth0"); err != nil || m != 1400 {
		t.Fatalf("mtu %d %v", m, err)
	}
	if err := FlushNeigh(a, dst); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := NeighFor(a, dst); ok {
		t.Fatal("neighbour entry survived the flush")
	}
	// A raw frame sent from a arrives at b (a UDP socket there reads it).
	got := make(chan string, 1)
	var conn *net.UDPConn
	if err := nsutil.Do(b, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 9})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, 100)
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := conn.Read(buf)
		got <- string(buf[:n])
	}()
	srcMAC, _ := LinkMAC(a, "eth0")
	frame, err := UDPFrame(srcMAC, mac, netip.MustParseAddr("10.77.0.1"), dst, 9, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := SendFrames(a, "eth0", frame); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "hello" {
		t.Fatalf("raw frame: got %q", s)
	}
	if st, err := Netstat(a); err != nil || len(st) == 0 {
		t.Fatalf("netstat: %v %v", len(st), err)
	}
	if rs, err := Routes(a, 4); err != nil || len(rs) == 0 {
		t.Fatalf("routes: %v %v", rs, err)
	}
}

func TestGuardVXLAN(t *testing.T) {
	a, b := twoHosts(t)
	// b listens on the VXLAN port; the guard lets only 10.77.0.9 through.
	var conn *net.UDPConn
	if err := nsutil.Do(b, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 4789})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// recv tells whether a datagram carrying want arrives within a second;
	// a late copy of an earlier round (sent again while ARP resolved) is
	// read and ignored, so it cannot pass for this round's.
	recv := func(want []byte) bool {
		buf := make([]byte, 100)
		deadline := time.Now().Add(time.Second)
		for {
			_ = conn.SetReadDeadline(deadline)
			n, err := conn.Read(buf)
			if err != nil {
				return false
			}
			if bytes.Contains(buf[:n], want) {
				return true
			}
		}
	}
	dst := netip.MustParseAddrPort("10.77.0.2:4789")
	round := 0
	// deliver sends up to tries times, a second apart (the first may wait
	// for ARP, which on a loaded machine can take a few rounds), and tells
	// whether one arrived. What must arrive gets ten tries; what must not
	// gets three, which is plenty once ARP is resolved.
	deliver := func(tries int) bool {
		round++
		marker := []byte(fmt.Sprintf("round-%d", round))
		for i := 0; i < tries; i++ {
			if err := SendUDP(a, dst, VXLANPayload(100, marker)); err != nil {
				t.Fatal(err)
			}
			if recv(marker) {
				return true
			}
		}
		return false
	}
	if !deliver(10) {
		t.Fatal("without the guard the datagram must arrive")
	}
	remove, err := GuardVXLAN(b, 4789, []netip.Addr{netip.MustParseAddr("10.77.0.9")})
	if err != nil {
		t.Fatal(err)
	}
	if deliver(3) {
		t.Fatal("the guard let a non-VTEP source through")
	}
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	if !deliver(10) {
		t.Fatal("after removing the guard the datagram must arrive")
	}
}

// TestWatchRoutes: a default route via two next hops loses one; the watch
// says when, from the kernel's announcement.
func TestWatchRoutes(t *testing.T) {
	a, _ := twoHosts(t)
	out, err := nsutil.Output(context.Background(), a, "ip", "route", "add", "default", "nexthop", "via", "10.77.0.2", "nexthop", "via", "10.77.0.3")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	w, err := WatchRoutes(a, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dfl := netip.MustParsePrefix("0.0.0.0/0")
	gone := netip.MustParseAddr("10.77.0.3")
	if _, ok, final, _ := w.GoneAt(dfl, gone, time.Time{}); ok || len(final) != 1 {
		t.Fatalf("before: gone %v, routes %v", ok, final)
	}
	before := time.Now()
	if out, err := nsutil.Output(context.Background(), a, "ip", "route", "replace", "default", "via", "10.77.0.2"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var at time.Time
	var ok bool
	var final []Route
	for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		at, ok, final, err = w.GoneAt(dfl, gone, before)
	}
	if !ok || err != nil || at.Before(before) {
		t.Fatalf("after the replace: gone %v at %v (before %v), routes %v, err %v", ok, at, before, final, err)
	}
	if len(final) != 1 || len(final[0].Via) != 1 || final[0].Via[0] != netip.MustParseAddr("10.77.0.2") {
		t.Errorf("final routes %v", final)
	}
}

// A ping that cannot start (no ping binary on PATH) is an error, not a
// probe that got no reply.
func TestPingBinaryMissing(t *testing.T) {
	a, _ := twoHosts(t)
	t.Setenv("PATH", t.TempDir())
	r, err := Ping(context.Background(), a, netip.MustParseAddr("10.77.0.2"), PingOpts{Count: 1})
	if err == nil || !strings.Contains(err.Error(), "could not run") {
		t.Fatalf("ping without a ping binary: %+v, %v", r, err)
	}
}

// TestEchoStreamAndPingWatch: the far end runs nothing of ours; its kernel
// echoes the stream, and a ping it sends is timed where it arrives. While
// the far end's link is down, nothing comes back: the stream loses
// datagrams and sees a gap at least as long as the link was down.
func TestEchoStreamAndPingWatch(t *testing.T) {
	a, b := twoHosts(t)
	dst := netip.MustParseAddr("10.77.0.2")
	s, err := StartEchoStream(a, dst, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.Snapshot()) < 30 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	hb, err := nsutil.Handle(b)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	l, err := hb.LinkByName("eth1")
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	time.Sleep(100 * time.Millisecond)
	if err := hb.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	downFor := time.Since(down)
	before := len(s.Snapshot())
	for deadline := time.Now().Add(10 * time.Second); len(s.Snapshot()) < before+30 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	st := s.Stop(50 * time.Millisecond)
	if st.Received < 60 || st.Lost == 0 || st.LongestGap < downFor || st.TailReceived == 0 {
		t.Fatalf("echo stream over a link down for %v: %s (tail %d/%d)", downFor, st, st.TailReceived, st.TailSent)
	}

	// b pings a (iputils, as a VM guest's busybox would): a times it.
	w, err := WatchPings(a, dst)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Ping(context.Background(), b, netip.MustParseAddr("10.77.0.1"), PingOpts{Count: 5, Interval: 20 * time.Millisecond})
	if err != nil || pr.Transmitted != 5 {
		t.Fatalf("ping: %+v %v", pr, err)
	}
	ws := w.Stop(pr.Transmitted)
	if ws.Sent != 5 || ws.Received != 5 || ws.Lost != 0 || ws.LongestGap <= 0 || ws.TailReceived != 5 {
		t.Fatalf("ping watch: %s (tail %d/%d)", ws, ws.TailReceived, ws.TailSent)
	}
	w.Stop(5) // a second stop is harmless
}

func TestEchoMessage(t *testing.T) {
	m := echoRequest(false, 0x1234, 7, []byte("payload"))
	if inetChecksum(m) != 0 {
		t.Errorf("the request's checksum does not verify: %x", m)
	}
	// As an IPv4 raw socket delivers it: a 20-byte header first.
	ip := append([]byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, m...)
	ip[20] = icmp4EchoReply
	typ, id, seq, p := parseEcho(ip, false)
	if typ != icmp4EchoReply || id != 0x1234 || seq != 7 || string(p) != "payload" {
		t.Errorf("parseEcho: %d %x %d %q", typ, id, seq, p)
	}
	if typ, _, _, _ := parseEcho([]byte{3, 3, 0, 0, 0, 0, 0, 0}, true); typ != 255 {
		t.Errorf("a destination unreachable parsed as echo type %d", typ)
	}
}
