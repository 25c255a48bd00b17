package scenarios

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/sdn/evpn"
)

// These feed the checks of vm-live-migration and exit-node-failover with
// made-up captures: each check must fail on the broken evidence and pass
// on the good one.

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vtep1   = netip.MustParseAddr("192.168.0.1")
	vtep2   = netip.MustParseAddr("192.168.0.2")
	vtep3   = netip.MustParseAddr("192.168.0.3")
	guestMC = net.HardwareAddr{0xbc, 0x24, 0x11, 0, 0, 1}
)

func parsed(t *testing.T, m *bgp.BGPMessage) *capture.BGPMessage {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	p, err := bgp.ParseBGPMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	return &capture.BGPMessage{Type: p.Header.Type, Len: len(b), Msg: p}
}

func macIP(t *testing.T, from netip.Addr, seq uint32, withdraw bool) *capture.Packet {
	return macIPAddr(t, from, seq, withdraw, "")
}

// macIPAddr is macIP for a MAC+IP route of the guest's address ip.
func macIPAddr(t *testing.T, from netip.Addr, seq uint32, withdraw bool, ip string) *capture.Packet {
	rd, _ := bgp.ParseRouteDistinguisher(from.String() + ":2")
	nlri := bgp.NewEVPNMacIPAdvertisementRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, guestMC.String(), ip, []uint32{11000})
	var attrs []bgp.PathAttributeInterface
	if withdraw {
		attrs = []bgp.PathAttributeInterface{bgp.NewPathAttributeMpUnreachNLRI([]bgp.AddrPrefixInterface{nlri})}
	} else {
		attrs = []bgp.PathAttributeInterface{
			bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeAsPath(nil),
			bgp.NewPathAttributeMpReachNLRI(from.String(), []bgp.AddrPrefixInterface{nlri}),
			bgp.NewPathAttributeExtendedCommunities([]bgp.ExtendedCommunityInterface{bgp.NewMacMobilityExtended(seq, false)}),
		}
	}
	return &capture.Packet{Time: t0, SrcIP: from, DstIP: vtep2, BGP: []*capture.BGPMessage{parsed(t, bgp.NewBGPUpdateMessage(nil, attrs, nil))}}
}

func testMigration() migration {
	return migration{g: Guest{Name: "vm11", MAC: guestMC}, home: Node{Name: "node1", VTEP: vtep1}, target: Node{Name: "node3", VTEP: vtep3}}
}

func checkOK(t *testing.T, r *Result, name string) bool {
	t.Helper()
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, name) {
			return c.OK
		}
	}
	t.Fatalf("no check %q among %v", name, r.Checks)
	return false
}

func TestMigrationMACMobilityCheck(t *testing.T) {
	m := testMigration()
	for _, tc := range []struct {
		name   string
		seq    uint32
		before uint32
		known  bool
		want   bool
	}{
		{"first move", 1, 0, true, true},
		{"moved before, bumped", 4, 3, true, true},
		{"moved before, not bumped", 3, 3, true, false}, // any value >= 1 used to pass
		{"lower", 1, 3, true, false},
		{"before unknown", 1, 0, false, false},
	} {
		r := NewResult("x")
		res := &capture.Result{Packets: []*capture.Packet{macIP(t, vtep3, tc.seq, false), macIP(t, vtep1, 0, true)}}
		vmLiveMigration{}.checkBGP(r, NewSteps(&Env{Lab: fakeLab{}}, r), res, m, tc.before, tc.known, nil)
		if got := checkOK(t, r, "new node advertises"); got != tc.want {
			t.Errorf("%s: check ok %v, want %v: %+v", tc.name, got, tc.want, r.Checks)
		}
		if !checkOK(t, r, "old node withdraws") {
			t.Errorf("%s: withdrawal not seen", tc.name)
		}
	}
	// No withdrawal from the old node.
	r := NewResult("x")
	vmLiveMigration{}.checkBGP(r, NewSteps(&Env{Lab: fakeLab{}}, r), &capture.Result{Packets: []*capture.Packet{macIP(t, vtep3, 1, false)}}, m, 0, true, nil)
	if checkOK(t, r, "old node withdraws") {
		t.Error("withdrawal check passed without a withdrawal")
	}
}

// The guest's IPv6 address moves with its MAC: the new node's MAC+IP
// route carries the MAC's sequence, the old node withdraws its own.
func TestMigrationMACIPv6MobilityCheck(t *testing.T) {
	m := testMigration()
	m.g.IPv6, m.g.GW6 = netip.MustParsePrefix("fd00:101::11/64"), netip.MustParseAddr("fd00:101::1")
	m.fams = []ipFam{{v6: true}}
	const ip = "fd00:101::11"
	had := map[ipFam]string{{v6: true}: "bc:24:11:00:00:01"}
	for _, tc := range []struct {
		name       string
		pkts       []*capture.Packet
		advertised bool
		withdrawn  bool
	}{
		{"moved with the MAC", []*capture.Packet{macIP(t, vtep3, 2, false), macIPAddr(t, vtep3, 2, false, ip), macIP(t, vtep1, 0, true), macIPAddr(t, vtep1, 0, true, ip)}, true, true},
		{"MAC+IP without the bumped sequence", []*capture.Packet{macIP(t, vtep3, 2, false), macIPAddr(t, vtep3, 1, false, ip), macIP(t, vtep1, 0, true), macIPAddr(t, vtep1, 0, true, ip)}, false, true},
		{"MAC+IP never advertised", []*capture.Packet{macIP(t, vtep3, 2, false), macIP(t, vtep1, 0, true), macIPAddr(t, vtep1, 0, true, ip)}, false, true},
		{"old MAC+IP kept", []*capture.Packet{macIP(t, vtep3, 2, false), macIPAddr(t, vtep3, 2, false, ip), macIP(t, vtep1, 0, true)}, true, false},
	} {
		r := NewResult("x")
		vmLiveMigration{}.checkBGP(r, NewSteps(&Env{Lab: fakeLab{}}, r), &capture.Result{Packets: tc.pkts}, m, 1, true, had)
		if got := checkOK(t, r, "new node advertises MAC+IP "+ip); got != tc.advertised {
			t.Errorf("%s: advertised check %v, want %v: %+v", tc.name, got, tc.advertised, r.Checks)
		}
		if got := checkOK(t, r, "old node withdraws MAC+IP "+ip); got != tc.withdrawn {
			t.Errorf("%s: withdrawal check %v, want %v: %+v", tc.name, got, tc.withdrawn, r.Checks)
		}
	}
}

func rarp(from, to netip.Addr) *capture.Packet {
	outer := &capture.Packet{Time: t0, Dir: capture.DirOut, SrcIP: from, DstIP: to}
	inner := &capture.Packet{Time: t0, Dir: capture.DirOut, Depth: 1, Parent: outer, SrcMAC: guestMC, EtherType: 0x8035,
		ARP: &capture.ARP{Op: capture.RARPRequest, SenderMAC: guestMC, TargetMAC: guestMC}}
	outer.VXLAN = &capture.VXLAN{VNI: 11000, Inner: inner}
	return outer
}

func TestMigrationRARPCheck(t *testing.T) {
	m := testMigration()
	five := Move{Announces: []time.Time{t0, t0, t0, t0, t0}}
	var all []*capture.Packet
	for range 5 {
		all = append(all, rarp(vtep3, vtep1), rarp(vtep3, vtep2))
	}
	for _, tc := range []struct {
		name string
		mv   Move
		pkts []*capture.Packet
		want bool
	}{
		{"five rounds flooded", five, all, true},
		{"one round only (the old announce)", Move{Announces: []time.Time{t0}}, all[:2], false},
		{"sent but not flooded", five, nil, false},
		{"flooded by the wrong node", five, []*capture.Packet{rarp(vtep1, vtep2), rarp(vtep1, vtep2), rarp(vtep1, vtep2), rarp(vtep1, vtep2), rarp(vtep1, vtep2)}, false},
	} {
		r := NewResult("x")
		vmLiveMigration{}.checkRARP(r, &capture.Result{Packets: tc.pkts}, m, tc.mv)
		if got := checkOK(t, r, "guest announces itself"); got != tc.want {
			t.Errorf("%s: ok %v, want %v: %+v", tc.name, got, tc.want, r.Checks)
		}
	}
}

func TestMigrationPauseAndGapChecks(t *testing.T) {
	m := testMigration()
	m.pause, m.maxGap, m.budget = 50*time.Millisecond, 200*time.Millisecond, "200ms = pause 50ms + 150ms convergence"
	r := NewResult("x")
	vmLiveMigration{}.checkPause(r, m, Move{PauseStart: t0, PauseEnd: t0.Add(m.pause)}, nil, nil, 0)
	if checkOK(t, r, "guest frozen") {
		t.Error("a move that froze no process passed the freeze check")
	}
	mv := Move{PauseStart: t0, PauseEnd: t0.Add(m.pause), Announces: []time.Time{t0.Add(m.pause + 2*time.Millisecond)}}
	for _, tc := range []struct {
		gap  time.Duration
		want bool
	}{{60 * time.Millisecond, true}, {time.Second, false}} {
		r := NewResult("x")
		stats := map[string]probe.StreamStats{"vm12": {Sent: 1000, Received: 900, LongestGap: tc.gap, LongestLossGap: tc.gap, TailSent: 100, TailReceived: 100}}
		vmLiveMigration{}.checkProbes(r, NewSteps(&Env{Lab: fakeLab{}}, r), m, mv, []string{"vm12"}, stats, map[string][]probe.Record{})
		if got := checkOK(t, r, "longest gap from vm12"); got != tc.want {
			t.Errorf("gap %v: ok %v, want %v", tc.gap, got, tc.want)
		}
		if c := r.Checks[len(r.Checks)-1]; !strings.Contains(c.Expected, "pause 50ms + 150ms") {
			t.Errorf("the budget is not printed with the verdict: %q", c.Expected)
		}
	}
	// A long arrival gap that lost nothing (the sender paused) is not the
	// move's cost.
	r = NewResult("x")
	stats := map[string]probe.StreamStats{"vm12": {Sent: 1000, Received: 950, LongestGap: time.Second, LongestLossGap: 60 * time.Millisecond, TailSent: 100, TailReceived: 100}}
	vmLiveMigration{}.checkProbes(r, NewSteps(&Env{Lab: fakeLab{}}, r), m, mv, []string{"vm12"}, stats, map[string][]probe.Record{})
	if !checkOK(t, r, "longest gap from vm12") {
		t.Error("a sender's pause without loss failed the gap check")
	}
}

func TestParseIPNeigh(t *testing.T) {
	out := "10.0.1.1 dev eth0 lladdr bc:24:11:5d:00:01 ref 1 used 0/0/0 probes 4 REACHABLE\n" +
		"10.0.1.12 dev eth0  used 0/0/0 probes 6 FAILED\n" +
		"fe80::1 dev eth0 lladdr bc:24:11:5d:00:01 router STALE\n"
	es := parseIPNeigh(out)
	if len(es) != 3 || es[0].MAC != "bc:24:11:5d:00:01" || es[0].State != "REACHABLE" || es[0].Dev != "eth0" ||
		es[1].MAC != "" || es[1].State != "FAILED" || es[2].IP != netip.MustParseAddr("fe80::1") {
		t.Errorf("parseIPNeigh: %+v", es)
	}
}

func TestFailoverDetection(t *testing.T) {
	victim := Node{Name: "node2", VTEP: vtep2, Addrs: []netip.Addr{vtep2}}
	after := t0
	bfd := func(at time.Duration, from netip.Addr, st capture.BFDState) *capture.Packet {
		return &capture.Packet{Time: t0.Add(at), SrcIP: from, DstIP: vtep2, DstPort: capture.BFDPort, BFD: &capture.BFD{State: st}}
	}
	fin := &capture.Packet{Time: t0.Add(3 * time.Millisecond), SrcIP: vtep2, DstIP: vtep1, SrcPort: 179, TCP: &capture.TCP{FIN: true, ACK: true}}
	hold := &capture.Packet{Time: t0.Add(9 * time.Second), SrcIP: vtep1, DstIP: vtep2,
		BGP: []*capture.BGPMessage{parsed(t, bgp.NewBGPNotificationMessage(bgp.BGP_ERROR_HOLD_TIMER_EXPIRED, 0, nil))}}
	for _, tc := range []struct {
		name string
		pkts []*capture.Packet
		by   string
	}{
		{"nothing seen", []*capture.Packet{bfd(-time.Second, vtep1, capture.BFDDown), bfd(time.Second, vtep1, capture.BFDUp)}, ""},
		{"BFD", []*capture.Packet{bfd(time.Second, vtep1, capture.BFDUp), bfd(900*time.Millisecond, vtep1, capture.BFDDown)}, "BFD down"},
		{"TCP close", []*capture.Packet{fin, bfd(900*time.Millisecond, vtep1, capture.BFDDown)}, "TCP close"},
		{"hold timer", []*capture.Packet{hold}, "hold timer"},
		{"cease after BFD", []*capture.Packet{{Time: t0.Add(840 * time.Millisecond), SrcIP: vtep1, DstIP: vtep2,
			BGP: []*capture.BGPMessage{parsed(t, bgp.NewBGPNotificationMessage(bgp.BGP_ERROR_CEASE, 3, nil))}}, bfd(843*time.Millisecond, vtep1, capture.BFDDown)}, "BFD down"},
	} {
		d := detection(&capture.Result{Packets: tc.pkts}, victim, after)
		if d.by != tc.by {
			t.Errorf("%s: detected by %q, want %q (%s)", tc.name, d.by, tc.by, d.summary())
		}
	}
}

func TestStepsTimeline(t *testing.T) {
	r := NewResult("x")
	st := NewSteps(&Env{Lab: fakeLab{}}, r)
	recs := []probe.Record{{Seq: 0, Sent: t0, Recv: t0.Add(time.Millisecond)}, {Seq: 1, Sent: t0.Add(time.Millisecond), Lost: true}}
	st.done = append(st.done, doneStream{"vm12 -> vm11", recs})
	st.Event(t0.Add(5*time.Millisecond), "announce", "RARP 1")
	st.Event(t0.Add(2*time.Millisecond), "pause", "vm11 paused")
	st.Timeline("move")
	if len(r.Timelines) != 1 {
		t.Fatalf("timelines %d", len(r.Timelines))
	}
	tl := r.Timelines[0]
	if len(tl.Series) != 1 || len(tl.Series[0].Probes) != 2 || !tl.Series[0].Probes[1].Lost || tl.Series[0].Probes[0].RecvAt != time.Millisecond {
		t.Errorf("series %+v", tl.Series)
	}
	if len(tl.Events) != 2 || tl.Events[0].Label != "vm11 paused" || tl.Events[1].At != 5*time.Millisecond {
		t.Errorf("events %+v", tl.Events)
	}
}

// An FRR node whose IP-VRF routes carry a route target of AS 1 (the hidden
// instance `import vrf` makes) is named as the FRR bug; a right route
// target, an agent node or a cluster really in AS 1 is not.
func TestHiddenInstanceRT(t *testing.T) {
	snap := func(asn uint32, rt string) *evpn.Snapshot {
		return &evpn.Snapshot{ASN: asn, Routes: []evpn.Route{
			{Type: evpn.TypePrefix, Prefix: netip.MustParsePrefix("0.0.0.0/0"), RTs: []string{rt}},
			{Type: evpn.TypePrefix, Prefix: netip.MustParsePrefix("0.0.0.0/0"), RTs: []string{"1:999"}, Peer: "192.0.2.9"}, // received: not its own
		}}
	}
	frrNode := Node{Name: "node2", Engine: "frr", FRRVersion: "10.3"}
	if why := hiddenInstanceRT(frrNode, snap(65000, "1:10000")); !strings.Contains(why, "1:10000") || !strings.Contains(why, "FRR bug") {
		t.Errorf("AS 1 route target on an FRR node: %q", why)
	}
	for name, tc := range map[string]struct {
		n  Node
		sn *evpn.Snapshot
	}{
		"right route target": {frrNode, snap(65000, "65000:10000")},
		"agent node":         {Node{Name: "node2", Engine: "agent"}, snap(65000, "1:10000")},
		"cluster in AS 1":    {frrNode, snap(1, "1:10000")},
	} {
		if why := hiddenInstanceRT(tc.n, tc.sn); why != "" {
			t.Errorf("%s: named %q", name, why)
		}
	}
}

// wireguard-fabric's checks on the LAN capture: a probe in the clear fails
// "never in the clear"; replies without as many WireGuard data messages
// each way between the two ends' LAN addresses, counted where they leave,
// fail "crossed as WireGuard data": keepalives, messages to another
// endpoint or port, or only one direction do not count.
func TestWireGuardWireChecks(t *testing.T) {
	src, dst := netip.MustParseAddr("10.255.0.1"), netip.MustParseAddr("10.255.0.2")
	n1 := Node{Name: "node1", Addrs: []netip.Addr{vtep1}, Uplinks: []string{"ens18"}}
	n2 := Node{Name: "node2", Addrs: []netip.Addr{vtep2}, Uplinks: []string{"ens18"}}
	ep := netip.AddrPortFrom(vtep2, 51820)
	tg := wgTarget{wgLink: wgLink{from: n1, ifname: "wg0", listen: 51820, peer: n2, endpoint: ep}, src: src, dst: dst}
	wg := func(at string, from, to netip.Addr, port uint16, size int) *capture.Packet {
		return &capture.Packet{Point: at + "_ens18", Dir: capture.DirOut, SrcIP: from, SrcPort: 51820, DstIP: to, DstPort: port,
			PayloadLen: size, WireGuard: &capture.WireGuardMsg{Type: capture.WireGuardData}}
	}
	three := func(at string, from, to netip.Addr, port uint16, size int) []*capture.Packet {
		return []*capture.Packet{wg(at, from, to, port, size), wg(at, from, to, port, size), wg(at, from, to, port, size)}
	}
	good := append(three("node1", vtep1, vtep2, 51820, 128), three("node2", vtep2, vtep1, 51820, 128)...)
	echo := &capture.Packet{SrcIP: src, DstIP: dst, ICMP: &capture.ICMP{TypeName: "echo request"}}
	for _, tc := range []struct {
		name           string
		pkts           []*capture.Packet
		clear, carried bool
	}{
		{"encrypted both ways", good, true, true},
		{"one echo in the clear", append(slices.Clone(good), echo), false, true},
		{"no answer as data", three("node1", vtep1, vtep2, 51820, 128), true, false},
		{"only keepalives back", append(three("node1", vtep1, vtep2, 51820, 128), three("node2", vtep2, vtep1, 51820, wgKeepaliveLen)...), true, false},
		{"to another endpoint", append(three("node1", vtep1, vtep3, 51820, 128), three("node2", vtep2, vtep1, 51820, 128)...), true, false},
		{"to another port", append(three("node1", vtep1, vtep2, 51821, 128), three("node2", vtep2, vtep1, 51820, 128)...), true, false},
		{"seen arriving, not leaving", append(three("node2", vtep1, vtep2, 51820, 128), three("node2", vtep2, vtep1, 51820, 128)...), true, false},
	} {
		r := NewResult("x")
		wireGuardFabric{}.judgeWire(r, &capture.Result{Packets: tc.pkts}, []wgTarget{tg}, []ping.Result{{Transmitted: 3, Received: 3}})
		if got := checkOK(t, r, "the probes never crossed the LAN in the clear"); got != tc.clear {
			t.Errorf("%s: clear check ok %v, want %v", tc.name, got, tc.clear)
		}
		if got := checkOK(t, r, "node1 <-> node2 over wg0: the echoes crossed as WireGuard data"); got != tc.carried {
			t.Errorf("%s: carried check ok %v, want %v: %+v", tc.name, got, tc.carried, r.Checks)
		}
	}
	// Both ends probing each other over one tunnel: six answered echoes
	// need six messages out of each end; three each way is half of them.
	back := wgTarget{wgLink: wgLink{from: n2, ifname: "wg0", listen: 51820, peer: n1, endpoint: netip.AddrPortFrom(vtep1, 51820)}, src: dst, dst: src}
	for _, tc := range []struct {
		pkts []*capture.Packet
		want bool
	}{{good, false}, {append(slices.Clone(good), good...), true}} {
		r := NewResult("x")
		wireGuardFabric{}.judgeWire(r, &capture.Result{Packets: tc.pkts}, []wgTarget{tg, back}, []ping.Result{{Received: 3}, {Received: 3}})
		if got := checkOK(t, r, "node1 <-> node2 over wg0: the echoes crossed as WireGuard data"); got != tc.want {
			t.Errorf("%d messages each way for 6 answered echoes: ok %v, want %v", len(tc.pkts)/2, got, tc.want)
		}
	}
}
