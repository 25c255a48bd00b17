package capture

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// replication builds what the sender's uplink sees when a guest broadcasts
// an ARP request in VNI 100 and the sender replicates it to dsts.
func replication(t *testing.T, point string, dsts ...string) []*Packet {
	inner := arpFrame(t, macG1, "10.1.0.10", "10.1.0.99")
	d := NewDecoder(DecodeOptions{})
	var out []*Packet
	for i, dst := range dsts {
		frame := vxlanFrame(t, "192.0.2.1", dst, uint16(100+i), DefaultVXLANPort, 100, inner)
		out = append(out, d.Decode(point, t0.Add(time.Duration(i)*time.Microsecond), DirOut, 0, frame))
	}
	return out
}

func result(ps ...[]*Packet) *Result { return &Result{Packets: mergeByTime(ps)} }

func TestBroadcastReplicatedOnce(t *testing.T) {
	remotes := []netip.Addr{ip("192.0.2.2"), ip("192.0.2.3")}
	ok := result(replication(t, "n1-up", "192.0.2.2", "192.0.2.3"))
	if err := ok.BroadcastReplicatedOnce(100, remotes, nil); err != nil {
		t.Fatalf("good replication failed: %v", err)
	}
	// The same copies seen again on a router port count once.
	twoPoints := result(replication(t, "n1-up", "192.0.2.2", "192.0.2.3"), replication(t, "r1-p1", "192.0.2.2", "192.0.2.3"))
	if err := twoPoints.BroadcastReplicatedOnce(100, remotes, nil); err != nil {
		t.Fatalf("same copies at two points: %v", err)
	}
	// Only ARP requests for another address are asked about: nothing seen.
	if err := ok.BroadcastReplicatedOnce(100, remotes, ARPRequestFor(ip("10.9.9.9"))); err == nil {
		t.Fatal("inner filter ignored")
	}
	bad := result(replication(t, "n1-up", "192.0.2.2", "192.0.2.2", "192.0.2.4"))
	err := bad.BroadcastReplicatedOnce(100, remotes, nil)
	var ae *AssertionError
	if !errors.As(err, &ae) {
		t.Fatalf("bad replication passed: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"192.0.2.2 got 2 copies", "192.0.2.3 got 0 copies", "192.0.2.4 (not a remote VTEP) got 1", "n1-up out"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if len(ae.Evidence) != 3 {
		t.Errorf("evidence: %d packets, want 3", len(ae.Evidence))
	}
	// Other VNIs are not counted.
	if err := ok.BroadcastReplicatedOnce(200, remotes, nil); err == nil {
		t.Fatal("VNI 200 passed with no traffic")
	}
}

func TestNoARPRequestFor(t *testing.T) {
	r := result(replication(t, "n1-up", "192.0.2.2"))
	if err := r.NoARPRequestFor(ip("10.1.0.50")); err != nil {
		t.Fatalf("unrelated address: %v", err)
	}
	err := r.NoARPRequestFor(ip("10.1.0.99"))
	if err == nil || !strings.Contains(err.Error(), "who-has 10.1.0.99") || !strings.Contains(err.Error(), "VXLAN vni 100") {
		t.Fatalf("inner ARP not found: %v", err)
	}
	if err := r.NoARPRequestFor(ip("10.1.0.99"), Outer()); err != nil {
		t.Fatalf("Outer() should exclude the inner ARP: %v", err)
	}
	if err := r.NoARPRequestFor(ip("10.1.0.99"), InVXLAN(200)); err != nil {
		t.Fatalf("InVXLAN(200) should exclude VNI 100: %v", err)
	}
	if err := r.NoARPRequestFor(ip("10.1.0.99"), AtPoint("elsewhere")); err != nil {
		t.Fatalf("AtPoint: %v", err)
	}
	// A gratuitous ARP is an announcement, not a request for the address.
	g := NewDecoder(DecodeOptions{}).Decode("g", t0, DirOut, 0, arpFrame(t, macG1, "10.1.0.99", "10.1.0.99"))
	if err := result([]*Packet{g}).NoARPRequestFor(ip("10.1.0.99")); err != nil {
		t.Fatalf("gratuitous counted: %v", err)
	}
}

func TestEveryVXLANFromAndVNIs(t *testing.T) {
	d := NewDecoder(DecodeOptions{})
	inner := arpFrame(t, macG1, "10.1.0.10", "10.1.0.99")
	good := d.Decode("n1-up", t0, DirOut, 0, vxlanFrame(t, "192.0.2.1", "192.0.2.2", 1, 4789, 100, inner))
	wrongVNI := d.Decode("n1-up", t0.Add(time.Millisecond), DirOut, 0, vxlanFrame(t, "192.0.2.1", "192.0.2.2", 2, 4789, 101, inner))
	wrongSrc := d.Decode("n1-up", t0.Add(2*time.Millisecond), DirOut, 0, vxlanFrame(t, "192.0.2.9", "192.0.2.2", 3, 4789, 100, inner))
	in := d.Decode("n1-up", t0.Add(3*time.Millisecond), DirIn, 0, vxlanFrame(t, "192.0.2.2", "192.0.2.1", 4, 4789, 300, inner))
	r := result([]*Packet{good, wrongVNI, wrongSrc, in})
	if got := r.VNIsSeen(); len(got) != 3 || got[0] != 100 || got[2] != 300 {
		t.Fatalf("VNIsSeen: %v", got)
	}
	if got := r.VNIsSeen(Outgoing()); len(got) != 2 {
		t.Fatalf("VNIsSeen(Outgoing): %v", got)
	}
	err := r.EveryVXLANFrom(ip("192.0.2.1"), 100, AtPoint("n1-up"), Outgoing())
	var ae *AssertionError
	if !errors.As(err, &ae) || len(ae.Evidence) != 2 || ae.Evidence[0] != wrongVNI || ae.Evidence[1] != wrongSrc {
		t.Fatalf("EveryVXLANFrom: %v", err)
	}
	if err := result([]*Packet{good}).EveryVXLANFrom(ip("192.0.2.1"), 100, Outgoing()); err != nil {
		t.Fatalf("good: %v", err)
	}
	if err := result([]*Packet{good}).EveryVXLANFrom(ip("192.0.2.1"), 100, Incoming()); err == nil {
		t.Fatal("no matching frame must fail")
	}
	if n := r.CountMatching(InVXLAN(), Broadcast()); n != 4 {
		t.Fatalf("CountMatching inner broadcasts: %d", n)
	}
	if err := r.Some("ARP", FromMAC("BC:24:11:00:00:01")); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := r.WriteText(&text, HasVXLAN(101)); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(text.String()); strings.Count(got, "\n") != 0 || !strings.Contains(got, "#1 ") || !strings.Contains(got, "vni 101") {
		t.Fatalf("WriteText: %q", got)
	}
}

func TestFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a := replication(t, "n1/up", "192.0.2.2", "192.0.2.3")
	b := replication(t, "n2-up", "192.0.2.2")
	for _, p := range b {
		p.Time = p.Time.Add(500 * time.Nanosecond) // interleave with a
	}
	r := result(a, b)
	r.Points = []PointStats{{Label: "n1/up", Point: Point{Netns: "ns1", Ifname: "up"}}, {Label: "n2-up"}}
	if err := r.writeFiles(dir, 65535); err != nil {
		t.Fatal(err)
	}
	if r.Files["n1/up"] != filepath.Join(dir, "n1_up.pcap") || r.Merged != filepath.Join(dir, MergedFile) {
		t.Fatalf("files: %v %s", r.Files, r.Merged)
	}
	// Per-point pcap readable by pcapgo.NewReader.
	f, err := os.Open(r.Files["n1/up"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, _, err := pr.ReadPacketData(); err != nil {
			break
		}
		n++
	}
	if n != 2 {
		t.Fatalf("n1_up.pcap: %d packets, want 2", n)
	}
	back, err := ReadFile(r.Merged, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Packets) != 3 || len(back.Points) != 2 || back.Points[0].Label != "n1/up" || back.Points[0].Kept != 2 {
		t.Fatalf("merged read back: %d packets, points %+v", len(back.Packets), back.Points)
	}
	want := []string{"n1/up", "n2-up", "n1/up"}
	for i, p := range back.Packets {
		if p.Point != want[i] || !p.Time.Equal(r.Packets[i].Time) {
			t.Errorf("packet %d: %s at %s, want %s at %s", i, p.Point, p.Time, want[i], r.Packets[i].Time)
		}
		if p.Dir != DirOut {
			t.Errorf("packet %d: direction %s not read back", i, p.Dir)
		}
		if p.Summary() != r.Packets[i].Summary() {
			t.Errorf("packet %d summary %q != %q", i, p.Summary(), r.Packets[i].Summary())
		}
	}
	if err := back.BroadcastReplicatedOnce(100, []netip.Addr{ip("192.0.2.2"), ip("192.0.2.3")}, nil, AtPoint("n1/up")); err != nil {
		t.Fatalf("assertion on file read back: %v", err)
	}
}

// An absence assertion on a capture that lost frames is not shown: the
// lost frames may have been the ones it looks for.
func TestNoneOnIncompleteCapture(t *testing.T) {
	r := &Result{Points: []PointStats{{Label: "n1-up", Seen: 10, Kept: 8, OverLimit: 2}}}
	err := r.NoOuterFragments()
	var ie *IncompleteError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "n1-up: 2 over the capture limit") {
		t.Fatalf("over-limit capture: %v", err)
	}
	r.Points[0] = PointStats{Label: "n1-up", Seen: 10, Kept: 10, KernelDrops: 3}
	if err := r.None("anything"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "3 dropped by the kernel") {
		t.Fatalf("kernel drops: %v", err)
	}
	r.Points[0].KernelDrops = 0
	if err := r.None("anything"); err != nil || r.Lost() != "" {
		t.Fatalf("complete capture: %v %q", err, r.Lost())
	}
}

// vxlan6Frame wraps inner in VXLAN/UDP/IPv6/Ethernet from VTEP src to dst
// (an IPv6 header has no ID: two copies of one frame are byte-equal).
func vxlan6Frame(t *testing.T, src, dst string, vni uint32, inner []byte) []byte {
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: ip(src).AsSlice(), DstIP: ip(dst).AsSlice()}
	udp := &layers.UDP{SrcPort: 49152, DstPort: layers.UDPPort(DefaultVXLANPort)}
	if err := udp.SetNetworkLayerForChecksum(ip6); err != nil {
		t.Fatal(err)
	}
	return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6},
		ip6, udp, &layers.VXLAN{ValidIDFlag: true, VNI: vni}, gopacket.Payload(inner))
}

// Over an IPv6 underlay a VTEP listed twice gets two byte-equal copies at
// the sender's uplink: both count; the same copy seen at a second point
// still counts once.
func TestBroadcastReplicatedOnceIPv6Underlay(t *testing.T) {
	inner := serialize(t, &layers.Ethernet{SrcMAC: macG1, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, EthernetType: layers.EthernetTypeIPv6},
		&layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolNoNextHeader, SrcIP: ip("fd00:1::10").AsSlice(), DstIP: ip("ff02::1").AsSlice()})
	d := NewDecoder(DecodeOptions{})
	seq := 0
	at := func(point string, dsts ...string) []*Packet {
		var out []*Packet
		for _, dst := range dsts {
			seq++
			out = append(out, d.Decode(point, t0.Add(time.Duration(seq)*time.Microsecond), DirOut, 0, vxlan6Frame(t, "fd00:255::1", dst, 100, inner)))
		}
		return out
	}
	remotes := []netip.Addr{ip("fd00:255::2"), ip("fd00:255::3")}
	ok := result(at("n1-up", "fd00:255::2", "fd00:255::3"), at("n1-br", "fd00:255::2", "fd00:255::3"))
	if err := ok.BroadcastReplicatedOnce(100, remotes, nil); err != nil {
		t.Fatalf("good replication (seen at two points) failed: %v", err)
	}
	bad := result(at("n1-up", "fd00:255::2", "fd00:255::2", "fd00:255::3"), at("n1-br", "fd00:255::2", "fd00:255::2", "fd00:255::3"))
	err := bad.BroadcastReplicatedOnce(100, remotes, nil)
	if err == nil || !strings.Contains(err.Error(), "fd00:255::2 got 2 copies") {
		t.Fatalf("a VTEP listed twice over IPv6: %v", err)
	}
}
