package capture

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// vethPair makes namespaces sdnlab-t<pid>-a/b joined by veth va (10.99.0.1)
// and vb (10.99.0.2), and removes them when the test ends.
func vethPair(t *testing.T) (nsA, nsB string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	nsA = fmt.Sprintf("sdnlab-t%d-a", os.Getpid())
	nsB = fmt.Sprintf("sdnlab-t%d-b", os.Getpid())
	for _, ns := range []string{nsA, nsB} {
		if err := nsutil.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := nsutil.Delete(ns); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	ha, err := nsutil.Handle(nsA)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := nsutil.Handle(nsB)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	fdB, err := nsutil.Open(nsB)
	if err != nil {
		t.Fatal(err)
	}
	defer fdB.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(int(fdB))}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	for _, x := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{ha, "va", "10.99.0.1/24"}, {hb, "vb", "10.99.0.2/24"}} {
		l, err := x.h.LinkByName(x.name)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := netlink.ParseAddr(x.addr)
		if err := x.h.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
		if err := x.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	// Until the kernel's link watch reports carrier, the device's qdisc drops
	// everything: wait for both ends to be operationally up.
	waitOperUp(t, ha, "va")
	waitOperUp(t, hb, "vb")
	return nsA, nsB
}

// waitOperUp waits (10 s at most) until link name is operationally up.
func waitOperUp(t *testing.T, h *netlink.Handle, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := h.LinkByName(name)
		if err == nil && l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// udpPair opens a UDP socket listening on ip:port in nsB and one connected
// to it in nsA; both are closed when the test ends.
func udpPair(t *testing.T, nsA, nsB string, ip net.IP, port int) (conn, lis *net.UDPConn) {
	t.Helper()
	if err := nsutil.Do(nsB, func() (err error) {
		lis, err = net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	if err := nsutil.Do(nsA, func() (err error) {
		conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: ip, Port: port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, lis
}

func TestLiveCaptureVeth(t *testing.T) {
	nsA, nsB := vethPair(t)
	// A listener in b so the datagrams are received (and nothing answers ICMP unreachable).
	conn, lis := udpPair(t, nsA, nsB, net.IPv4(10, 99, 0, 2), 9999)

	dir := t.TempDir()
	s, err := Start(context.Background(), []Point{
		{Netns: nsA, Ifname: "va", Label: "a-va"},
		{Netns: nsB, Ifname: "vb", Label: "b-vb"},
	}, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	buf := make([]byte, 100)
	for i := range n {
		if _, err := conn.Write([]byte(fmt.Sprintf("hello %d", i))); err != nil {
			t.Fatal(err)
		}
		// Read it in b so the test knows it crossed before stopping.
		if _, _, err := lis.ReadFromUDP(buf); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	udp := func(p *Packet) bool { return p.IPProto == layers.IPProtocolUDP && p.DstPort == 9999 }
	if got := r.CountMatching(AtPoint("a-va"), Outgoing(), udp); got != n {
		t.Errorf("a-va outgoing UDP: %d, want %d", got, n)
	}
	if got := r.CountMatching(AtPoint("b-vb"), Incoming(), udp); got != n {
		t.Errorf("b-vb incoming UDP: %d, want %d", got, n)
	}
	if err := r.Some("ARP request for 10.99.0.2 sent by a", AtPoint("a-va"), Outgoing(), ARPRequestFor(netip.MustParseAddr("10.99.0.2"))); err != nil {
		t.Error(err)
	}
	if err := r.NoARPRequestFor(netip.MustParseAddr("10.99.0.2"), AtPoint("b-vb"), Outgoing()); err != nil {
		t.Error(err)
	}
	for _, st := range r.Points {
		if st.Kept == 0 || st.Seen != st.Kept || st.OverLimit != 0 {
			t.Errorf("stats %+v", st)
		}
	}
	for i := 1; i < len(r.Packets); i++ {
		if r.Packets[i].Time.Before(r.Packets[i-1].Time) {
			t.Fatalf("result not time-ordered at %d", i)
		}
	}
	// Files: per-point pcaps and the merged pcapng are readable and ordered.
	for label, path := range r.Files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		count := 0
		for {
			if _, _, err := pr.ReadPacketData(); err != nil {
				break
			}
			count++
		}
		f.Close()
		for _, st := range r.Points {
			if st.Label == label && st.Kept != count {
				t.Errorf("%s: %d packets in file, %d kept", path, count, st.Kept)
			}
		}
	}
	back, err := ReadFile(r.Merged, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Packets) != len(r.Packets) {
		t.Fatalf("merged file: %d packets, result %d", len(back.Packets), len(r.Packets))
	}
	for i, p := range back.Packets {
		if i > 0 && p.Time.Before(back.Packets[i-1].Time) {
			t.Fatalf("merged file not time-ordered at %d", i)
		}
		if p.Point != r.Packets[i].Point || p.Dir != r.Packets[i].Dir || p.Summary() != r.Packets[i].Summary() {
			t.Errorf("merged packet %d: %s %s %s, want %s", i, p.Point, p.Dir, p.Summary(), r.Packets[i].Evidence())
		}
	}
	if got := back.CountMatching(AtPoint("b-vb"), udp); got != n {
		t.Errorf("merged file b-vb UDP: %d", got)
	}
	t.Logf("captured %d frames; first: %s", len(r.Packets), r.Packets[0].Evidence())
}

func TestLiveCaptureLimitAndCancel(t *testing.T) {
	nsA, nsB := vethPair(t)
	conn, lis := udpPair(t, nsA, nsB, net.IPv4(10, 99, 0, 2), 9)
	// One exchange before capturing resolves ARP, so the datagrams below
	// leave at once (an outgoing frame reaches the packet socket during send).
	if _, err := conn.Write([]byte("warm up")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lis.ReadFromUDP(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, []Point{{Netns: nsA, Ifname: "va"}}, Options{MaxPackets: 3, Snaplen: 60})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, _ = conn.Write(make([]byte, 500))
	}
	cancel()
	r, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	st := r.Points[0]
	if st.Label != nsA+"_va" || st.Kept != 3 || st.OverLimit < 1 || st.Seen != st.Kept+st.OverLimit {
		t.Fatalf("stats %+v", st)
	}
	for _, p := range r.Packets {
		if p.CapLen > 60 {
			t.Errorf("snaplen not applied: %d bytes kept", p.CapLen)
		}
		if p.IPProto == layers.IPProtocolUDP && p.Len < 500 {
			t.Errorf("wire length lost: %d", p.Len)
		}
	}
	if _, err := s.Stop(); err == nil {
		t.Error("second Stop must fail")
	}
	if _, err := Start(context.Background(), []Point{{Netns: nsA, Ifname: "nope"}}, Options{}); err == nil {
		t.Error("missing interface must fail")
	}
}

// TestLiveCaptureVXLAN runs a VXLAN (VNI 100) over the veth and checks what
// the underlay and the VXLAN device show.
func TestLiveCaptureVXLAN(t *testing.T) {
	nsA, nsB := vethPair(t)
	for _, x := range []struct{ ns, local, remote, addr string }{
		{nsA, "10.99.0.1", "10.99.0.2", "10.200.0.1/24"},
		{nsB, "10.99.0.2", "10.99.0.1", "10.200.0.2/24"},
	} {
		h, err := nsutil.Handle(x.ns)
		if err != nil {
			t.Fatal(err)
		}
		under, err := h.LinkByName(map[string]string{nsA: "va", nsB: "vb"}[x.ns])
		if err != nil {
			t.Fatal(err)
		}
		vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx0", MTU: 1450}, VxlanId: 100, VtepDevIndex: under.Attrs().Index,
			SrcAddr: net.ParseIP(x.local), Group: net.ParseIP(x.remote), Port: DefaultVXLANPort}
		if err := h.LinkAdd(vx); err != nil {
			h.Close()
			t.Fatalf("vxlan in %s: %v", x.ns, err)
		}
		a, _ := netlink.ParseAddr(x.addr)
		if err := h.AddrAdd(vx, a); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(vx); err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	conn, lis := udpPair(t, nsA, nsB, net.IPv4(10, 200, 0, 2), 7777)
	s, err := Start(context.Background(), []Point{
		{Netns: nsA, Ifname: "va", Label: "a-under"},
		{Netns: nsA, Ifname: "vx0", Label: "a-vx0"},
		{Netns: nsB, Ifname: "vb", Label: "b-under"},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	for range 3 {
		if _, err := conn.Write([]byte("over vxlan")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := lis.ReadFromUDP(buf); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	vtepA, vtepB := netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.99.0.2")
	guestB := netip.MustParseAddr("10.200.0.2")
	if err := r.EveryVXLANFrom(vtepA, 100, AtPoint("a-under"), Outgoing()); err != nil {
		t.Error(err)
	}
	if err := r.EveryVXLANFrom(vtepB, 100, AtPoint("b-under"), Outgoing()); err != nil {
		t.Error(err)
	}
	if got := r.VNIsSeen(); len(got) != 1 || got[0] != 100 {
		t.Errorf("VNIs seen %v", got)
	}
	// The ARP request for 10.200.0.2 went out once, encapsulated, to b's VTEP:
	// seen at both underlay ends it still counts as one copy.
	if err := r.BroadcastReplicatedOnce(100, []netip.Addr{vtepB}, ARPRequestFor(guestB), AtPoint("a-under", "b-under")); err != nil {
		t.Error(err)
	}
	if err := r.Some("ARP request inside VXLAN", InVXLAN(100), ARPRequestFor(guestB)); err != nil {
		t.Error(err)
	}
	// On the VXLAN device itself it is a plain frame.
	if err := r.Some("plain ARP request on vx0", AtPoint("a-vx0"), Outer(), ARPRequestFor(guestB)); err != nil {
		t.Error(err)
	}
	if err := r.NoARPRequestFor(guestB, AtPoint("a-under"), Outer()); err != nil {
		t.Error(err)
	}
	if err := r.NoOuterFragments(); err != nil {
		t.Error(err)
	}
	// The negative must fail: b's VTEP is not 10.99.0.1.
	if err := r.EveryVXLANFrom(vtepA, 100, AtPoint("b-under"), Outgoing()); err == nil {
		t.Error("EveryVXLANFrom with the wrong VTEP passed")
	} else {
		t.Logf("expected failure:\n%v", err)
	}
}

// TestLiveCaptureBGP sends BGP messages over a real TCP connection on port
// 179, split across writes, and finds them reassembled at both ends.
func TestLiveCaptureBGP(t *testing.T) {
	nsA, nsB := vethPair(t)
	var lis net.Listener
	if err := nsutil.Do(nsB, func() (err error) {
		lis, err = net.Listen("tcp4", "10.99.0.2:179")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	s, err := Start(context.Background(), []Point{
		{Netns: nsA, Ifname: "va", Label: "a"},
		{Netns: nsB, Ifname: "vb", Label: "b"},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var conn net.Conn
	if err := nsutil.Do(nsA, func() (err error) {
		conn, err = net.Dial("tcp4", "10.99.0.2:179")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	up := evpnUpdate(t, 7)
	ka := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 19, 4}
	stream := append(append([]byte{}, ka...), up...)
	got := make([]byte, len(stream))
	// Three writes, each read on the other side before the next, so the
	// UPDATE really spans segments.
	for _, part := range [][]byte{stream[:len(ka)+10], stream[len(ka)+10 : len(ka)+40], stream[len(ka)+40:]} {
		if _, err := conn.Write(part); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(peer, got[:len(part)]); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []string{"a", "b"} {
		var msgs []*BGPMessage
		segments := 0
		for _, p := range r.Frames(AtPoint(pt), func(p *Packet) bool { return p.TCP != nil && p.DstPort == 179 && p.PayloadLen > 0 }) {
			segments++
			msgs = append(msgs, p.BGP...)
		}
		if segments < 3 || len(msgs) != 2 || msgs[0].TypeName() != "KEEPALIVE" || msgs[1].TypeName() != "UPDATE" {
			t.Fatalf("point %s: %d segments, %d messages", pt, segments, len(msgs))
		}
		rs := r.EVPNRoutes(AtPoint(pt))
		if len(rs) != 1 || rs[0].MACMobility == nil || rs[0].MACMobility.Seq != 7 || rs[0].VNI() != 100 || rs[0].Packet.Point != pt {
			t.Fatalf("point %s: EVPN %+v", pt, rs)
		}
	}
}

// TestLiveCaptureLinkFlap: a capture survives its interface going down and
// up again (as a tap does when a guest migrates), counting the event.
func TestLiveCaptureLinkFlap(t *testing.T) {
	nsA, nsB := vethPair(t)
	conn, lis := udpPair(t, nsA, nsB, net.IPv4(10, 99, 0, 2), 9)
	s, err := Start(context.Background(), []Point{{Netns: nsA, Ifname: "va", Label: "a"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	send := func(msg string) {
		t.Helper()
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := lis.ReadFromUDP(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	send("before")
	h, err := nsutil.Handle(nsA)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	waitOperUp(t, h, "va")
	send("after")
	r, err := s.Stop()
	if err != nil {
		t.Fatalf("stop after a link flap: %v", err)
	}
	udp := func(p *Packet) bool { return p.IPProto == layers.IPProtocolUDP && p.DstPort == 9 && p.Dir == DirOut }
	if got := r.CountMatching(udp); got != 2 {
		t.Errorf("UDP frames before and after the flap: %d, want 2", got)
	}
	if r.Points[0].Downs < 1 {
		t.Errorf("link down not counted: %+v", r.Points[0])
	}
}
