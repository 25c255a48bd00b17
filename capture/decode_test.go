package capture

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"golang.org/x/sys/unix"
)

var (
	macA  = mustMAC("02:00:00:00:00:0a")
	macB  = mustMAC("02:00:00:00:00:0b")
	macG1 = mustMAC("bc:24:11:00:00:01")
	bcast = mustMAC("ff:ff:ff:ff:ff:ff")
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return buf.Bytes()
}

// arpFrame builds a guest ARP request (who-has target tell sender).
func arpFrame(t testing.TB, src net.HardwareAddr, sender, target string) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: src, DstMAC: bcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: src, SourceProtAddress: ip(sender).AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: ip(target).AsSlice()})
}

// vxlanFrame wraps inner in VXLAN/UDP/IPv4/Ethernet from VTEP src to dst.
func vxlanFrame(t testing.TB, src, dst string, id uint16, port uint16, vni uint32, inner []byte) []byte {
	ip4 := &layers.IPv4{Version: 4, TTL: 64, Id: id, Protocol: layers.IPProtocolUDP, SrcIP: ip(src).AsSlice(), DstIP: ip(dst).AsSlice()}
	udp := &layers.UDP{SrcPort: 49152, DstPort: layers.UDPPort(port)}
	if err := udp.SetNetworkLayerForChecksum(ip4); err != nil {
		t.Fatal(err)
	}
	return serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		ip4, udp, &layers.VXLAN{ValidIDFlag: true, VNI: vni}, gopacket.Payload(inner))
}

func TestDecodeVXLANWithInnerARP(t *testing.T) {
	inner := arpFrame(t, macG1, "10.1.0.10", "10.1.0.20")
	frame := vxlanFrame(t, "192.0.2.1", "192.0.2.2", 7, DefaultVXLANPort, 100, inner)
	p := NewDecoder(DecodeOptions{}).Decode("n1-up", t0, DirOut, 0, frame)
	if p.DecodeErr != "" {
		t.Fatalf("decode error: %s", p.DecodeErr)
	}
	if p.SrcIP != ip("192.0.2.1") || p.DstIP != ip("192.0.2.2") || p.IPProto != layers.IPProtocolUDP || p.DstPort != 4789 || p.IPID != 7 {
		t.Fatalf("outer: %+v", p)
	}
	if p.SrcMAC.String() != macA.String() || p.EtherType != layers.EthernetTypeIPv4 {
		t.Fatalf("outer L2: %s %s", p.SrcMAC, p.EtherType)
	}
	if p.VXLAN == nil || p.VXLAN.VNI != 100 || p.VXLAN.Inner == nil {
		t.Fatalf("vxlan: %+v", p.VXLAN)
	}
	in := p.VXLAN.Inner
	if in.Depth != 1 || in.Parent != p || in.SrcMAC.String() != macG1.String() || !in.IsBroadcast() {
		t.Fatalf("inner frame: depth %d src %s dst %s", in.Depth, in.SrcMAC, in.DstMAC)
	}
	if in.ARP == nil || in.ARP.Op != ARPRequest || in.ARP.TargetIP != ip("10.1.0.20") || in.ARP.SenderIP != ip("10.1.0.10") {
		t.Fatalf("inner ARP: %+v", in.ARP)
	}
	s := p.Summary()
	for _, want := range []string{"192.0.2.1 > 192.0.2.2", "UDP 49152 > 4789", "VXLAN vni 100", "ARP who-has 10.1.0.20 tell 10.1.0.10"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary %q lacks %q", s, want)
		}
	}
	if got := len(p.Frames()); got != 2 {
		t.Errorf("Frames: %d, want 2", got)
	}
}

func TestDecodeVXLANConfigurablePort(t *testing.T) {
	inner := arpFrame(t, macG1, "10.1.0.10", "10.1.0.20")
	frame := vxlanFrame(t, "192.0.2.1", "192.0.2.2", 1, 8472, 4242, inner)
	if p := NewDecoder(DecodeOptions{}).Decode("x", t0, DirIn, 0, frame); p.VXLAN != nil {
		t.Fatalf("port 8472 decoded as VXLAN without being configured: %s", p.Summary())
	}
	p := NewDecoder(DecodeOptions{VXLANPorts: []uint16{8472}}).Decode("x", t0, DirIn, 0, frame)
	if p.VXLAN == nil || p.VXLAN.VNI != 4242 || p.VXLAN.Inner == nil || p.VXLAN.Inner.ARP == nil {
		t.Fatalf("port 8472 not decoded: %s", p.Summary())
	}
	// And 4789 traffic is not VXLAN when only 8472 is configured: gopacket's own
	// port table must not leak inner fields into the outer frame.
	frame4789 := vxlanFrame(t, "192.0.2.1", "192.0.2.2", 1, 4789, 5, inner)
	q := NewDecoder(DecodeOptions{VXLANPorts: []uint16{8472}}).Decode("x", t0, DirIn, 0, frame4789)
	if q.VXLAN != nil || q.ARP != nil || q.SrcMAC.String() != macA.String() {
		t.Fatalf("4789 with only 8472 configured: %s", q.Summary())
	}
}

func TestDecodeIPv4Fragments(t *testing.T) {
	mk := func(flags layers.IPv4Flag, off uint16, payload []byte) []byte {
		return serialize(t,
			&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
			&layers.IPv4{Version: 4, TTL: 64, Id: 0x1234, Flags: flags, FragOffset: off, Protocol: layers.IPProtocolUDP,
				SrcIP: ip("192.0.2.1").AsSlice(), DstIP: ip("192.0.2.2").AsSlice()},
			gopacket.Payload(payload))
	}
	// First fragment: an (incomplete) VXLAN datagram; its headers are readable.
	inner := arpFrame(t, macG1, "10.1.0.10", "10.1.0.20")
	full := vxlanFrame(t, "192.0.2.1", "192.0.2.2", 0x1234, DefaultVXLANPort, 77, inner)
	udpAndMore := full[14+20:]
	first := mk(layers.IPv4MoreFragments, 0, udpAndMore[:48])
	second := mk(0, 6, udpAndMore[48:])
	d := NewDecoder(DecodeOptions{})
	p1 := d.Decode("up", t0, DirOut, 0, first)
	p2 := d.Decode("up", t0, DirOut, 0, second)
	if p1.Frag == nil || !p1.Frag.More || p1.Frag.Offset != 0 || p1.Frag.ID != 0x1234 || p1.Frag.IPv6 {
		t.Fatalf("first fragment: %+v", p1.Frag)
	}
	if p1.DstPort != 4789 || p1.VXLAN == nil || p1.VXLAN.VNI != 77 {
		t.Fatalf("first fragment headers: port %d vxlan %+v (%s)", p1.DstPort, p1.VXLAN, p1.Summary())
	}
	if p2.Frag == nil || p2.Frag.More || p2.Frag.Offset != 48 || p2.DstPort != 0 || p2.VXLAN != nil {
		t.Fatalf("second fragment: %+v port %d", p2.Frag, p2.DstPort)
	}
	if s := p2.Summary(); !strings.Contains(s, "frag id 4660 off 48") {
		t.Errorf("summary %q", s)
	}
	r := &Result{Packets: []*Packet{p1, p2}}
	err := r.NoOuterFragments()
	ae, ok := err.(*AssertionError)
	if !ok || len(ae.Evidence) != 2 {
		t.Fatalf("NoOuterFragments: %v", err)
	}
	if !strings.Contains(err.Error(), "+MF") {
		t.Errorf("evidence should show the MF fragment: %v", err)
	}
}

func TestDecodeIPv6FragmentHeader(t *testing.T) {
	// IPv6 header with next header 44, then a fragment header (offset 1448
	// bytes, M=1, id 0xabcdef01) carrying UDP.
	fh := []byte{byte(layers.IPProtocolUDP), 0, 0, 0, 0xab, 0xcd, 0xef, 0x01}
	off := uint16(1448/8)<<3 | 1
	fh[2], fh[3] = byte(off>>8), byte(off)
	frame := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6},
		&layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment, SrcIP: ip("2001:db8::1").AsSlice(), DstIP: ip("2001:db8::2").AsSlice()},
		gopacket.Payload(append(fh, make([]byte, 32)...)))
	p := NewDecoder(DecodeOptions{}).Decode("up", t0, DirIn, 0, frame)
	if p.Frag == nil || !p.Frag.IPv6 || p.Frag.Offset != 1448 || !p.Frag.More || p.Frag.ID != 0xabcdef01 || p.IPProto != layers.IPProtocolUDP {
		t.Fatalf("IPv6 fragment: %+v proto %s (%s)", p.Frag, p.IPProto, p.Summary())
	}
	if p.SrcIP != ip("2001:db8::1") || p.TTL != 64 {
		t.Fatalf("IPv6 header: %s ttl %d", p.SrcIP, p.TTL)
	}
}

func ndFrame(t *testing.T, src string, dst string, dstMAC net.HardwareAddr, tc layers.ICMPv6TypeCode, body gopacket.SerializableLayer) []byte {
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: ip(src).AsSlice(), DstIP: ip(dst).AsSlice()}
	ic := &layers.ICMPv6{TypeCode: tc}
	if err := ic.SetNetworkLayerForChecksum(ip6); err != nil {
		t.Fatal(err)
	}
	return serialize(t, &layers.Ethernet{SrcMAC: macG1, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv6}, ip6, ic, body)
}

func TestDecodeND(t *testing.T) {
	d := NewDecoder(DecodeOptions{})
	ns := ndFrame(t, "fd00:1::10", "ff02::1:ff00:20", mustMAC("33:33:ff:00:00:20"),
		layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0),
		&layers.ICMPv6NeighborSolicitation{TargetAddress: ip("fd00:1::20").AsSlice(),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: macG1}}})
	p := d.Decode("g", t0, DirOut, 0, ns)
	if p.ND == nil || p.ND.Kind != NDNeighborSolicit || p.ND.Target != ip("fd00:1::20") || p.ND.SourceLL.String() != macG1.String() {
		t.Fatalf("NS: %+v (%s)", p.ND, p.Summary())
	}
	if p.ICMP == nil || !p.ICMP.V6 || p.ICMP.Type != 135 {
		t.Fatalf("NS ICMP: %+v", p.ICMP)
	}
	na := ndFrame(t, "fd00:1::20", "fd00:1::10", macB,
		layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0),
		&layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: ip("fd00:1::20").AsSlice(),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: macB}}})
	p = d.Decode("g", t0, DirIn, 0, na)
	if p.ND == nil || p.ND.Kind != NDNeighborAdvert || !p.ND.Solicited || !p.ND.Override || p.ND.Router || p.ND.TargetLL.String() != macB.String() {
		t.Fatalf("NA: %+v", p.ND)
	}
	ra := ndFrame(t, "fe80::1", "ff02::1", mustMAC("33:33:00:00:00:01"),
		layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterAdvertisement, 0),
		&layers.ICMPv6RouterAdvertisement{HopLimit: 64, RouterLifetime: 1800,
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: macA}}})
	p = d.Decode("g", t0, DirIn, 0, ra)
	if p.ND == nil || p.ND.Kind != NDRouterAdvert || p.ND.SourceLL.String() != macA.String() {
		t.Fatalf("RA: %+v", p.ND)
	}
	// RS has no serializer in gopacket 1.1.19: 4 reserved bytes + SLLA option.
	rs := ndFrame(t, "fe80::10", "ff02::2", mustMAC("33:33:00:00:00:02"),
		layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0),
		gopacket.Payload(append([]byte{0, 0, 0, 0, 1, 1}, macG1...)))
	p = d.Decode("g", t0, DirOut, 0, rs)
	if p.ND == nil || p.ND.Kind != NDRouterSolicit || p.ND.SourceLL.String() != macG1.String() {
		t.Fatalf("RS: %+v (%s)", p.ND, p.Summary())
	}
	if s := p.Summary(); !strings.Contains(s, "ICMP6 RS src-ll bc:24:11:00:00:01") {
		t.Errorf("RS summary %q", s)
	}
}

func TestDecodeICMPv4(t *testing.T) {
	frame := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, Flags: layers.IPv4DontFragment, SrcIP: ip("10.1.0.10").AsSlice(), DstIP: ip("10.1.0.20").AsSlice()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 99, Seq: 3},
		gopacket.Payload(make([]byte, 56)))
	p := NewDecoder(DecodeOptions{}).Decode("g", t0, DirOut, 0, frame)
	if p.ICMP == nil || p.ICMP.TypeName != "echo request" || p.ICMP.ID != 99 || p.ICMP.Seq != 3 || !p.DontFrag {
		t.Fatalf("ICMP: %+v df %v", p.ICMP, p.DontFrag)
	}
	fn := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ip("10.1.0.1").AsSlice(), DstIP: ip("10.1.0.10").AsSlice()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeFragmentationNeeded), Seq: 1450},
		gopacket.Payload(make([]byte, 28)))
	p = NewDecoder(DecodeOptions{}).Decode("g", t0, DirIn, 0, fn)
	if p.ICMP == nil || p.ICMP.TypeName != "frag needed" || p.ICMP.MTU != 1450 {
		t.Fatalf("frag needed: %+v", p.ICMP)
	}
}

// evpnUpdate builds a BGP UPDATE advertising a type-2 route with MAC
// mobility sequence seq, a router MAC and a route target.
func evpnUpdate(t testing.TB, seq uint32) []byte {
	rd, err := bgp.ParseRouteDistinguisher("192.0.2.1:2")
	if err != nil {
		t.Fatal(err)
	}
	nlri := bgp.NewEVPNMacIPAdvertisementRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, "bc:24:11:00:00:01", "10.1.0.10", []uint32{100, 5000})
	attrs := []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(0),
		bgp.NewPathAttributeAsPath(nil),
		bgp.NewPathAttributeMpReachNLRI("192.0.2.1", []bgp.AddrPrefixInterface{nlri}),
		bgp.NewPathAttributeExtendedCommunities([]bgp.ExtendedCommunityInterface{
			bgp.NewTwoOctetAsSpecificExtended(bgp.EC_SUBTYPE_ROUTE_TARGET, 65000, 100, true),
			bgp.NewEncapExtended(bgp.TUNNEL_TYPE_VXLAN),
			bgp.NewMacMobilityExtended(seq, false),
			bgp.NewRoutersMacExtended("02:00:00:00:aa:01"),
		}),
	}
	b, err := bgp.NewBGPUpdateMessage(nil, attrs, nil).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func evpnWithdraw(t testing.TB) []byte {
	rd, _ := bgp.ParseRouteDistinguisher("192.0.2.1:2")
	nlri := bgp.NewEVPNMacIPAdvertisementRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, "bc:24:11:00:00:01", "", []uint32{100})
	b, err := bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{bgp.NewPathAttributeMpUnreachNLRI([]bgp.AddrPrefixInterface{nlri})}, nil).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tcpFrame(t testing.TB, seq uint32, syn bool, payload []byte) []byte {
	ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ip("192.0.2.1").AsSlice(), DstIP: ip("192.0.2.2").AsSlice()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 179, Seq: seq, SYN: syn, ACK: !syn, PSH: len(payload) > 0, Window: 65535}
	if err := tcp.SetNetworkLayerForChecksum(ip4); err != nil {
		t.Fatal(err)
	}
	return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip4, tcp, gopacket.Payload(payload))
}

func TestDecodeBGPEVPNAcrossSegments(t *testing.T) {
	ka, _ := bgp.NewBGPKeepAliveMessage().Serialize()
	up1 := evpnUpdate(t, 3)
	up2 := evpnWithdraw(t)
	stream := append(append(append([]byte{}, ka...), up1...), up2...)
	d := NewDecoder(DecodeOptions{})
	seq := uint32(1000)
	var got []*BGPMessage
	feed := func(s uint32, payload []byte) *Packet {
		p := d.Decode("n1-up", t0, DirOut, 0, tcpFrame(t, s, false, payload))
		if p.DecodeErr != "" {
			t.Fatalf("decode: %s", p.DecodeErr)
		}
		got = append(got, p.BGP...)
		return p
	}
	d.Decode("n1-up", t0, DirOut, 0, tcpFrame(t, seq-1, true, nil)) // SYN
	// Segment 1: the keepalive and the first 30 bytes of the UPDATE.
	cut1 := len(ka) + 30
	if p := feed(seq, stream[:cut1]); len(p.BGP) != 1 || p.BGP[0].TypeName() != "KEEPALIVE" {
		t.Fatalf("segment 1: %d messages", len(p.BGP))
	}
	// A retransmission of segment 1 adds nothing.
	if p := feed(seq, stream[:cut1]); len(p.BGP) != 0 {
		t.Fatalf("retransmission produced %d messages", len(p.BGP))
	}
	// Segment 2 overlaps segment 1 by 10 bytes and completes both UPDATEs.
	p := feed(seq+uint32(cut1)-10, stream[cut1-10:])
	if len(p.BGP) != 2 {
		t.Fatalf("segment 2: %d messages: %s", len(p.BGP), p.Summary())
	}
	if len(got) != 3 {
		t.Fatalf("total messages %d, want 3", len(got))
	}
	for _, m := range got {
		if m.Err != "" {
			t.Fatalf("parse error: %s", m.Err)
		}
	}
	rs := got[1].EVPN()
	if len(rs) != 1 {
		t.Fatalf("EVPN routes: %d", len(rs))
	}
	r := rs[0]
	if r.Type != 2 || r.TypeName != "macip" || r.Withdraw || r.RD != "192.0.2.1:2" || r.MAC.String() != "bc:24:11:00:00:01" ||
		r.IP != ip("10.1.0.10") || r.VNI() != 100 || len(r.Labels) != 2 || r.Labels[1] != 5000 || r.NextHop != ip("192.0.2.1") {
		t.Fatalf("route: %+v", r)
	}
	if r.MACMobility == nil || r.MACMobility.Seq != 3 || r.MACMobility.Sticky {
		t.Fatalf("mac mobility: %+v", r.MACMobility)
	}
	if r.RouterMAC.String() != "02:00:00:00:aa:01" || r.Encap != "vxlan" || len(r.RouteTargets) != 1 || r.RouteTargets[0] != "65000:100" {
		t.Fatalf("communities: rmac %s encap %q rt %v", r.RouterMAC, r.Encap, r.RouteTargets)
	}
	w := got[2].EVPN()
	if len(w) != 1 || !w[0].Withdraw || w[0].MAC.String() != "bc:24:11:00:00:01" {
		t.Fatalf("withdraw: %+v", w)
	}
	if s := p.Summary(); !strings.Contains(s, "BGP UPDATE {type-2 macip rd 192.0.2.1:2 mac bc:24:11:00:00:01 ip 10.1.0.10 vni [100 5000] nh 192.0.2.1 mm seq 3") {
		t.Errorf("summary %q", s)
	}
}

func TestDecodeBGPGapResynchronises(t *testing.T) {
	ka, _ := bgp.NewBGPKeepAliveMessage().Serialize()
	up := evpnUpdate(t, 1)
	d := NewDecoder(DecodeOptions{})
	d.Decode("p", t0, DirIn, 0, tcpFrame(t, 1, false, up[:25]))
	// 100 bytes lost; the next segment starts with a fresh message.
	p := d.Decode("p", t0, DirIn, 0, tcpFrame(t, 1+25+100, false, append(append([]byte{}, ka...), up...)))
	if len(p.BGP) != 2 || p.BGP[1].EVPN()[0].MACMobility.Seq != 1 {
		t.Fatalf("after gap: %d messages (%s)", len(p.BGP), p.Summary())
	}
	if !strings.Contains(p.DecodeErr, "missing") {
		t.Errorf("gap not reported: %q", p.DecodeErr)
	}
}

func TestDecodeGarbageDoesNotPanic(t *testing.T) {
	d := NewDecoder(DecodeOptions{})
	full := vxlanFrame(t, "192.0.2.1", "192.0.2.2", 1, 4789, 9, arpFrame(t, macG1, "10.0.0.1", "10.0.0.2"))
	for n := 0; n <= len(full); n++ {
		_ = d.Decode("p", t0, DirIn, len(full), full[:n]).Summary()
	}
	tcp := tcpFrame(t, 5, false, evpnUpdate(t, 2))
	for n := 0; n <= len(tcp); n++ {
		_ = d.Decode("q", t0, DirIn, len(tcp), tcp[:n]).Summary()
	}
}

func TestDecodeIPv6HopByHop(t *testing.T) {
	// MLDv2 report behind a hop-by-hop header (router alert + PadN).
	hbh := []byte{byte(layers.IPProtocolICMPv6), 0, 5, 2, 0, 0, 1, 0}
	mld := []byte{143, 0, 0, 0, 0, 0, 0, 0}
	frame := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: mustMAC("33:33:00:00:00:16"), EthernetType: layers.EthernetTypeIPv6},
		&layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolIPv6HopByHop, SrcIP: ip("fe80::1").AsSlice(), DstIP: ip("ff02::16").AsSlice()},
		gopacket.Payload(append(hbh, mld...)))
	p := NewDecoder(DecodeOptions{}).Decode("g", t0, DirOut, 0, frame)
	if p.IPProto != layers.IPProtocolICMPv6 || p.ICMP == nil || p.ICMP.TypeName != "MLDv2 report" {
		t.Fatalf("hop-by-hop: proto %s icmp %+v (%s)", p.IPProto, p.ICMP, p.Summary())
	}
}

// FuzzDecode: no input makes the decoder panic, and Summary always works.
func FuzzDecode(f *testing.F) {
	f.Add(vxlanFrame(f, "192.0.2.1", "192.0.2.2", 1, DefaultVXLANPort, 100, arpFrame(f, macG1, "10.1.0.10", "10.1.0.20")))
	f.Add(tcpFrame(f, 1, false, evpnUpdate(f, 3)))
	f.Add(arpFrame(f, macG1, "10.1.0.10", "10.1.0.20"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(DecodeOptions{VXLANPorts: []uint16{4789, 8472}})
		p := d.Decode("f", t0, DirIn, 0, data)
		_ = p.Summary()
		for _, m := range p.BGP {
			_ = m.Summary()
		}
		// Feed it twice: the second goes through the TCP stream state.
		_ = d.Decode("f", t0, DirIn, 0, data).Summary()
	})
}

func TestDecodeBFD(t *testing.T) {
	bfdFrame := func(port uint16, payload []byte) []byte {
		ip4 := &layers.IPv4{Version: 4, TTL: 255, Protocol: layers.IPProtocolUDP, SrcIP: ip("192.0.2.1").AsSlice(), DstIP: ip("192.0.2.2").AsSlice()}
		udp := &layers.UDP{SrcPort: 49152, DstPort: layers.UDPPort(port)}
		if err := udp.SetNetworkLayerForChecksum(ip4); err != nil {
			t.Fatal(err)
		}
		return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip4, udp, gopacket.Payload(payload))
	}
	// Version 1, diag 1 (detection time expired), state Down, mult 3, length 24.
	down := []byte{0x21, 0x40, 3, 24, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0x04, 0x93, 0xe0, 0, 0x04, 0x93, 0xe0, 0, 0, 0, 0}
	for _, port := range []uint16{BFDPort, BFDMultihopPort} {
		p := NewDecoder(DecodeOptions{}).Decode("x", t0, DirOut, 0, bfdFrame(port, down))
		if p.BFD == nil || p.BFD.State != BFDDown || p.BFD.Diag != 1 || p.BFD.MyDisc != 7 || p.BFD.YourDisc != 9 || p.BFD.DetectMult != 3 {
			t.Fatalf("port %d: BFD %+v (%s)", port, p.BFD, p.DecodeErr)
		}
	}
	up := append([]byte(nil), down...)
	up[0], up[1] = 0x20, 0xc0
	if p := NewDecoder(DecodeOptions{}).Decode("x", t0, DirOut, 0, bfdFrame(BFDPort, up)); p.BFD == nil || p.BFD.State != BFDUp || p.BFD.State.String() != "Up" {
		t.Fatalf("up: %+v", p.BFD)
	}
	// Not BFD: another port, or a short or wrong-version payload.
	if p := NewDecoder(DecodeOptions{}).Decode("x", t0, DirOut, 0, bfdFrame(3785, down)); p.BFD != nil {
		t.Fatal("port 3785 decoded as BFD")
	}
	if p := NewDecoder(DecodeOptions{}).Decode("x", t0, DirOut, 0, bfdFrame(BFDPort, down[:10])); p.BFD != nil || p.DecodeErr == "" {
		t.Fatalf("short BFD: %+v %q", p.BFD, p.DecodeErr)
	}
	bad := append([]byte(nil), down...)
	bad[0] = 0x41
	if p := NewDecoder(DecodeOptions{}).Decode("x", t0, DirOut, 0, bfdFrame(BFDPort, bad)); p.BFD != nil || p.DecodeErr == "" {
		t.Fatalf("version 2: %+v", p.BFD)
	}
}

func TestDecodeRARP(t *testing.T) {
	// A QEMU announcement: RARP request, sender and target the guest's MAC,
	// inside VXLAN as head-end replication floods it.
	rarp := serialize(t,
		&layers.Ethernet{SrcMAC: macG1, DstMAC: bcast, EthernetType: 0x8035},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: RARPRequest, SourceHwAddress: macG1, SourceProtAddress: make([]byte, 4),
			DstHwAddress: macG1, DstProtAddress: make([]byte, 4)})
	p := NewDecoder(DecodeOptions{}).Decode("x", t0, DirOut, 0, vxlanFrame(t, "192.0.2.3", "192.0.2.1", 1, 4789, 11000, rarp))
	in := p.VXLAN.Inner
	if in == nil || in.ARP == nil || in.ARP.Op != RARPRequest || in.ARP.SenderMAC.String() != macG1.String() || in.EtherType != 0x8035 {
		t.Fatalf("RARP not decoded: %s (%s)", in.Summary(), in.DecodeErr)
	}
	if s := in.Summary(); !strings.Contains(s, "RARP who-is") {
		t.Errorf("summary %q", s)
	}
}

// A QinQ frame whose outer tag came in auxdata: put back inline, it decodes
// as S-tag (802.1ad) then C-tag (802.1Q) then IPv4/ICMP.
func TestDecodeQinQFromAuxdata(t *testing.T) {
	inner := serialize(t,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ip("10.0.3.100").AsSlice(), DstIP: ip("10.0.3.101").AsSlice()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})
	aux := unix.TpacketAuxdata{Status: unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, Vlan_tci: 20 | 5<<13, Vlan_tpid: 0x88a8}
	data, n := withVlanTag(inner, len(inner), aux)
	if n != len(inner)+4 || len(data) != n {
		t.Fatalf("length %d, want %d", n, len(inner)+4)
	}
	p := NewDecoder(DecodeOptions{}).Decode("sw", t0, DirIn, n, data)
	want := []VLANTag{{TPID: 0x88a8, VID: 20, PCP: 5}, {TPID: 0x8100, VID: 100}}
	if len(p.VLANs) != 2 || p.VLANs[0] != want[0] || p.VLANs[1] != want[1] {
		t.Fatalf("tags %v, want %v", p.VLANs, want)
	}
	if p.EtherType != layers.EthernetTypeIPv4 || p.ICMP == nil || p.DstIP != ip("10.0.3.101") {
		t.Fatalf("payload: type %v icmp %+v dst %v", p.EtherType, p.ICMP, p.DstIP)
	}
	// No VLAN in auxdata: the frame is left as it is.
	if d2, n2 := withVlanTag(inner, len(inner), unix.TpacketAuxdata{}); n2 != len(inner) || len(d2) != len(inner) {
		t.Fatal("untagged frame changed")
	}
}

// A DHCP ACK from a server: offered address, router, DNS, MTU, lease.
func TestDecodeDHCPAck(t *testing.T) {
	ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip("10.0.20.1").AsSlice(), DstIP: ip("10.0.20.100").AsSlice()}
	udp := &layers.UDP{SrcPort: 67, DstPort: 68}
	if err := udp.SetNetworkLayerForChecksum(ip4); err != nil {
		t.Fatal(err)
	}
	dhcp := &layers.DHCPv4{Operation: layers.DHCPOpReply, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6,
		ClientHWAddr: macG1, YourClientIP: ip("10.0.20.100").AsSlice(),
		Options: layers.DHCPOptions{
			layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(layers.DHCPMsgTypeAck)}),
			layers.NewDHCPOption(layers.DHCPOptServerID, ip("10.0.20.1").AsSlice()),
			layers.NewDHCPOption(layers.DHCPOptSubnetMask, []byte{255, 255, 255, 0}),
			layers.NewDHCPOption(layers.DHCPOptRouter, ip("10.0.20.1").AsSlice()),
			layers.NewDHCPOption(layers.DHCPOptDNS, append(ip("10.0.20.53").AsSlice(), ip("10.0.20.54").AsSlice()...)),
			layers.NewDHCPOption(layers.DHCPOptInterfaceMTU, []byte{0x05, 0x78}),
			layers.NewDHCPOption(layers.DHCPOptLeaseTime, []byte{0xff, 0xff, 0xff, 0xff}),
		}}
	frame := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macG1, EthernetType: layers.EthernetTypeIPv4}, ip4, udp, dhcp)
	p := NewDecoder(DecodeOptions{}).Decode("g", t0, DirIn, 0, frame)
	d := p.DHCP
	if d == nil {
		t.Fatalf("no DHCP decoded (err %q)", p.DecodeErr)
	}
	if d.MsgType != "Ack" || d.YourIP != ip("10.0.20.100") || d.PrefixLen != 24 || d.MTU != 1400 || d.LeaseSecs != 0xffffffff ||
		len(d.Routers) != 1 || d.Routers[0] != ip("10.0.20.1") || len(d.DNS) != 2 || d.DNS[1] != ip("10.0.20.54") ||
		d.ServerID != ip("10.0.20.1") || d.ClientMAC.String() != macG1.String() {
		t.Fatalf("DHCP: %+v", d)
	}
}

func TestControlPlane(t *testing.T) {
	eth4 := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	eth6 := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}
	tcp4 := func(src, dst uint16) []byte {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ip("192.168.0.1").AsSlice(), DstIP: ip("192.168.0.2").AsSlice()}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(src), DstPort: layers.TCPPort(dst), ACK: true, Window: 100}
		if err := tcp.SetNetworkLayerForChecksum(ip4); err != nil {
			t.Fatal(err)
		}
		return serialize(t, eth4, ip4, tcp, gopacket.Payload([]byte{1, 2, 3}))
	}
	udp6 := func(dst uint16) []byte {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolUDP, SrcIP: ip("fd00::1").AsSlice(), DstIP: ip("fd00::2").AsSlice()}
		udp := &layers.UDP{SrcPort: 49152, DstPort: layers.UDPPort(dst)}
		if err := udp.SetNetworkLayerForChecksum(ip6); err != nil {
			t.Fatal(err)
		}
		return serialize(t, eth6, ip6, udp, gopacket.Payload(make([]byte, 24)))
	}
	cases := []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"BGP to 179", tcp4(40000, 179), true},
		{"BGP from 179", tcp4(179, 40000), true},
		{"other TCP", tcp4(40000, 22), false},
		{"BFD over IPv6", udp6(BFDPort), true},
		{"multihop BFD", udp6(BFDMultihopPort), true},
		{"VXLAN", vxlanFrame(t, "192.168.0.1", "192.168.0.2", 1, 4789, 100, arpFrame(t, macG1, "10.0.0.1", "10.0.0.2")), false},
		{"ARP", arpFrame(t, macG1, "10.0.0.1", "10.0.0.2"), false},
		{"runt", []byte{1, 2, 3}, false},
	}
	for _, c := range cases {
		if got := ControlPlane(c.frame); got != c.want {
			t.Errorf("%s: ControlPlane = %v, want %v", c.name, got, c.want)
		}
	}
}

// WireGuard messages are known by their type, three zero bytes and their
// length; other UDP payloads are not taken for them.
func TestDecodeWireGuard(t *testing.T) {
	data := make([]byte, 32+48)
	data[0] = WireGuardData
	binary.LittleEndian.PutUint32(data[4:], 0xabcd)
	binary.LittleEndian.PutUint64(data[8:], 7)
	init := make([]byte, 148)
	init[0] = WireGuardInitiation
	for _, tc := range []struct {
		name    string
		payload []byte
		want    uint8 // 0: not WireGuard
	}{
		{"data", data, WireGuardData},
		{"initiation", init, WireGuardInitiation},
		{"initiation of the wrong length", init[:140], 0},
		{"data not padded to 16", data[:70], 0},
		{"reserved bytes set", append([]byte{4, 1, 0, 0}, data[4:]...), 0},
		{"short", data[:20], 0},
	} {
		m := decodeWireGuard(tc.payload)
		switch {
		case tc.want == 0 && m != nil:
			t.Errorf("%s: decoded as %+v", tc.name, m)
		case tc.want != 0 && (m == nil || m.Type != tc.want):
			t.Errorf("%s: %+v, want type %d", tc.name, m, tc.want)
		}
	}
	if m := decodeWireGuard(data); m.Receiver != 0xabcd || m.Counter != 7 {
		t.Errorf("data header %+v", m)
	}
}

// A TUN device's IP packet gets a zero Ethernet header and decodes as any
// frame does.
func TestWithEthernet(t *testing.T) {
	ip := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	f := withEthernet(ip, 0x0800)
	if len(f) != 34 || f[12] != 0x08 || f[13] != 0 || f[14] != 0x45 {
		t.Fatalf("frame % x", f)
	}
	p := NewDecoder(DecodeOptions{}).Decode("wg0", time.Time{}, DirIn, len(f), f)
	if p.SrcIP != netip.MustParseAddr("10.0.0.1") || p.DstIP != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("decoded %+v", p)
	}
}
