package evpn

import (
	"net/netip"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// Routes survive the trip through GoBGP's wire structures.
func TestRouteRoundTrip(t *testing.T) {
	vtep := netip.MustParseAddr("192.0.2.1")
	cases := []Route{
		{Type: TypeIMET, RD: "192.0.2.1:3", IP: vtep, VNI: 100, RTs: []string{"65000:100"}, NextHop: vtep},
		{Type: TypeMACIP, RD: "192.0.2.1:3", MAC: "02:00:00:00:00:01", VNI: 100, RTs: []string{"65000:100"}, NextHop: vtep,
			Seq: 3, HasSeq: true},
		{Type: TypeMACIP, RD: "192.0.2.1:3", MAC: "02:00:00:00:00:01", IP: netip.MustParseAddr("10.0.0.5"), VNI: 100,
			L3VNI: 5000, RTs: []string{"65000:100", "65000:5000"}, NextHop: vtep, RouterMAC: "02:aa:00:00:00:01",
			Seq: 1, HasSeq: true, Sticky: true},
		{Type: TypeMACIP, RD: "192.0.2.1:3", MAC: "02:00:00:00:00:02", IP: netip.MustParseAddr("2001:db8::5"), VNI: 100,
			RTs: []string{"4200000000:100"}, NextHop: vtep},
		{Type: TypePrefix, RD: "192.0.2.1:1", Prefix: netip.MustParsePrefix("0.0.0.0/0"), VNI: 5000,
			RTs: []string{"65000:5000"}, NextHop: vtep, RouterMAC: "02:aa:00:00:00:01", MED: 200},
		{Type: TypePrefix, RD: "192.0.2.1:1", Prefix: netip.MustParsePrefix("2001:db8:1::/64"), VNI: 5000,
			RTs: []string{"192.0.2.1:7"}, NextHop: vtep, RouterMAC: "02:aa:00:00:00:01"},
		{Type: TypeUnicast, Prefix: netip.MustParsePrefix("10.0.1.0/24"), NextHop: netip.MustParseAddr("0.0.0.0")},
		{Type: TypeUnicast, Prefix: netip.MustParsePrefix("2001:db8:2::/64"), NextHop: netip.MustParseAddr("::")},
	}
	for _, want := range cases {
		p, err := want.toPath(false)
		if err != nil {
			t.Fatalf("%+v: %v", want, err)
		}
		got, ok, err := routeFromPath(p)
		if err != nil || !ok {
			t.Fatalf("decode %+v: ok=%v err=%v", want, ok, err)
		}
		want.Key = got.Key
		if !sameRoute(&got, &want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
		w, err := want.toPath(true)
		if err != nil {
			t.Fatal(err)
		}
		gw, ok, err := routeFromPath(w)
		if err != nil || !ok || gw.Key != got.Key || !w.IsWithdraw {
			t.Errorf("withdrawal of %s decodes as %+v (ok=%v err=%v)", got.Key, gw, ok, err)
		}
	}
}

func TestRTMatch(t *testing.T) {
	for _, c := range []struct {
		have, want []string
		ok         bool
	}{
		{[]string{"65000:100"}, []string{"65000:100"}, true},
		{[]string{"65000:100"}, []string{"65001:100"}, false},
		{[]string{"65001:100", "65000:5000"}, []string{"65000:5000"}, true},
		{[]string{"65001:100"}, []string{"*:100"}, true},
		{[]string{"65001:1000"}, []string{"*:100"}, false},
		{nil, []string{"65000:100"}, false},
	} {
		if got := rtMatch(c.have, c.want); got != c.ok {
			t.Errorf("rtMatch(%v, %v) = %v", c.have, c.want, got)
		}
	}
	for _, bad := range []string{"", "65000", "x:1", "65000:", "70000:70000", "2001:db8::1:5"} {
		if _, err := parseRT(bad); err == nil {
			t.Errorf("parseRT(%q) accepted", bad)
		}
	}
}

// The winner among remote routes for one MAC: highest sequence number,
// then lowest VTEP (RFC 7432 15.1); a route without the community is 0.
func TestMobilityWinner(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	m := &macRoutes{routes: []*Route{{NextHop: b, Seq: 2, HasSeq: true}, {NextHop: a, Seq: 1, HasSeq: true}}}
	if seq, v, _ := m.winner(); seq != 2 || v != b {
		t.Errorf("winner = %d %s, want 2 %s", seq, v, b)
	}
	m = &macRoutes{routes: []*Route{{NextHop: b, Seq: 1, HasSeq: true}, {NextHop: a, Seq: 1, HasSeq: true, Sticky: true}}}
	if seq, v, sticky := m.winner(); seq != 1 || v != a || !sticky {
		t.Errorf("tie: winner = %d %s sticky=%v, want 1 %s sticky", seq, v, sticky, a)
	}
}

// localLearned: the first move of a MAC carries sequence 1 even when the
// remote route had no MAC mobility community.
func TestFirstMoveIsOne(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000,
		L2VNIs: []L2VNI{{VNI: 100, Bridge: "br", VxlanDev: "vx"}}}
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &Route{Type: TypeMACIP, RD: "10.0.0.2:1", MAC: "02:00:00:00:00:01", VNI: 100, RTs: []string{"65000:100"},
		NextHop: netip.MustParseAddr("10.0.0.2"), Peer: "10.0.0.2"}
	a.rib["x"] = r
	v := a.l2[0]
	a.localLearned(v, r.MAC)
	if got := v.mob[r.MAC].seq; got != 1 {
		t.Fatalf("first move seq = %d, want 1", got)
	}
	r.Seq, r.HasSeq = 4, true
	a.localLearned(v, r.MAC)
	if got := v.mob[r.MAC].seq; got != 5 {
		t.Fatalf("move after seq 4 = %d, want 5", got)
	}
	// A MAC never seen elsewhere starts at 0 (no community).
	a.localLearned(v, "02:00:00:00:00:09")
	if got := v.mob["02:00:00:00:00:09"].seq; got != 0 {
		t.Fatalf("new MAC seq = %d, want 0", got)
	}
}

// A MAC that moves here brings the IPs its remote MAC/IP routes bound: they
// are advertised with it at once (the kernel is asked to confirm them), and
// the test fault leaves the sequence where it was.
func TestMoveAdoptsIPs(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000,
		L2VNIs: []L2VNI{{VNI: 100, Bridge: "br", VxlanDev: "vx"}}}
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	mac, ip := "02:00:00:00:00:01", netip.MustParseAddr("10.1.0.5")
	remote := netip.MustParseAddr("10.0.0.2")
	a.rib["m"] = &Route{Type: TypeMACIP, RD: "10.0.0.2:1", MAC: mac, VNI: 100, RTs: []string{"65000:100"}, NextHop: remote, Seq: 3, HasSeq: true}
	a.rib["mi"] = &Route{Type: TypeMACIP, RD: "10.0.0.2:1", MAC: mac, IP: ip, VNI: 100, RTs: []string{"65000:100"}, NextHop: remote, Seq: 3, HasSeq: true}
	v := a.l2[0]
	v.bridgeIdx = 1
	v.macs[mac] = &localMAC{port: 7}
	a.localLearned(v, mac)
	if v.ips[ip] != mac {
		t.Fatalf("IP %s not adopted for %s: %v", ip, mac, v.ips)
	}
	if len(a.probe) != 1 {
		t.Fatalf("probes = %v, want one for %s", a.probe, ip)
	}
	d := &desiredState{kernel: map[string]kobj{}, adverts: map[string]*Route{}}
	a.planL2(v, d, map[netip.Addr]bool{}, map[string]bool{})
	var withIP *Route
	for _, r := range d.adverts {
		if r.Type == TypeMACIP && r.IP == ip {
			withIP = r
		}
	}
	if withIP == nil || withIP.Seq != 4 || withIP.NextHop != a.cfg.LocalVTEP {
		t.Fatalf("MAC/IP route after the move = %+v, want seq 4 from the local VTEP", withIP)
	}

	cfg.TestFault = FaultStuckSequence
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.rib = a.rib
	b.localLearned(b.l2[0], mac)
	if got := b.l2[0].mob[mac].seq; got != 0 {
		t.Fatalf("with %s the sequence moved to %d", FaultStuckSequence, got)
	}
	cfg.TestFault = "no-such-fault"
	if _, err := New(cfg, nil); err == nil {
		t.Fatal("an unknown test fault was accepted")
	}
	cfg.TestFault = FaultStuckSequence + "," + FaultNoBFD
	if _, err := New(cfg, nil); err != nil {
		t.Fatalf("a list of known test faults refused: %v", err)
	}
}

func TestDuplicateDetection(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000,
		L2VNIs: []L2VNI{{VNI: 100, Bridge: "br", VxlanDev: "vx"}}}
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := a.l2[0]
	m := v.mobFor("02:00:00:00:00:01")
	for i := 0; i < 4; i++ {
		a.move(v, "02:00:00:00:00:01", m)
	}
	if m.dup {
		t.Fatal("duplicate after 4 moves; FRR's default is 5")
	}
	a.move(v, "02:00:00:00:00:01", m)
	if !m.dup {
		t.Fatal("not duplicate after 5 moves in the window")
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr("10.0.0.2")}},
		L2VNIs:    []L2VNI{{VNI: 100, Bridge: "br", VxlanDev: "vx"}},
		L3VNIs:    []L3VNI{{VNI: 5000, Bridge: "vrfbr", VxlanDev: "vrfvx", ImportRTs: []string{"65001:5000"}}}}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.KeepaliveSec != 3 || c.HoldSec != 9 || c.BFDIntervalMs != 300 || c.BFDDetectMult != 3 || c.DupMaxMoves != 5 {
		t.Errorf("timers: %+v", c)
	}
	if c.L3VNIs[0].RD != "10.0.0.1:1" || c.L2VNIs[0].RD != "10.0.0.1:2" {
		t.Errorf("RDs: %s %s", c.L3VNIs[0].RD, c.L2VNIs[0].RD)
	}
	if got := c.L2VNIs[0].ImportRTs; len(got) != 1 || got[0] != "65000:100" {
		t.Errorf("L2 import RTs %v", got)
	}
	if got := c.L3VNIs[0].ImportRTs; len(got) != 2 || got[0] != "65000:5000" || got[1] != "65001:5000" {
		t.Errorf("L3 import RTs (auto + rt-import) %v", got)
	}
	bad := Config{ASN: 0, L2VNIs: []L2VNI{{VNI: 0}}}
	if err := bad.Validate(); err == nil {
		t.Error("invalid config accepted")
	}
}

// FromPlan reads the BGP speaker's settings from the plan the compiler
// makes for the examples/evpn lab.
func TestFromPlanExample(t *testing.T) {
	cfg, err := config.Load("../../examples/evpn", registry.Config())
	if err != nil {
		t.Fatalf("examples/evpn: %v", err)
	}
	hi, err := config.ParseInterfaces("../../examples/evpn/interfaces.node1")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sdn.Compile(cfg, plan.NodeFacts{Node: "node1", Interfaces: hi})
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromPlan(plan, func(zone string) string { return "vrfns-" + zone })
	if err != nil {
		t.Fatal(err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ASN != 65000 || c.RouterID != netip.MustParseAddr("192.168.0.1") {
		t.Errorf("asn %d router-id %s", c.ASN, c.RouterID)
	}
	if len(c.Neighbors) != 2 {
		t.Fatalf("neighbors %+v, want node2 and node3", c.Neighbors)
	}
	for _, n := range c.Neighbors {
		if !n.BFD || n.RemoteAS != 65000 || len(n.Families) != 1 || n.Families[0] != FamilyEVPN {
			t.Errorf("neighbor %+v", n)
		}
	}
	if len(c.L2VNIs) != 2 || c.L2VNIs[0].VNI != 11000 || c.L2VNIs[0].Bridge != "myvnet1" ||
		c.L2VNIs[0].VxlanDev != "vxlan_myvnet1" || c.L2VNIs[0].Netns != "vrfns-myevpn" || c.L2VNIs[0].L3VNI != 10000 {
		t.Errorf("l2vnis %+v", c.L2VNIs)
	}
	if len(c.L3VNIs) != 1 {
		t.Fatalf("l3vnis %+v", c.L3VNIs)
	}
	z := c.L3VNIs[0]
	if z.VNI != 10000 || z.Bridge != "vrfbr_myevpn" || z.VxlanDev != "vrfvx_myevpn" || !z.ExitNode || !z.RejectDefault ||
		z.DefaultMED != 0 || z.Netns != "vrfns-myevpn" || !z.LeakSubnets {
		t.Errorf("l3vni %+v", z)
	}
}

// planL3 picks the lowest MED among default routes (exitnodes-primary
// sends 200 from the secondary), keeps ECMP between equals, and an exit
// node that is primary refuses the others' defaults.
func TestPlanL3Defaults(t *testing.T) {
	mk := func(exit, reject bool) (*Agent, *l3vni) {
		cfg := Config{RouterID: netip.MustParseAddr("10.0.0.3"), ASN: 65000,
			L3VNIs: []L3VNI{{VNI: 5000, Bridge: "vrfbr", VxlanDev: "vrfvx", ExitNode: exit, RejectDefault: reject}}}
		a, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		z := a.l3[0]
		z.bridgeIdx, z.vxlanIdx, z.rmac = 10, 11, "02:aa:00:00:00:03"
		def := netip.MustParsePrefix("0.0.0.0/0")
		for i, r := range []struct {
			vtep string
			med  uint32
		}{{"10.0.0.1", 0}, {"10.0.0.2", 200}, {"10.0.0.4", 0}} {
			a.rib[r.vtep] = &Route{Type: TypePrefix, RD: r.vtep + ":1", Prefix: def, VNI: 5000, RTs: []string{"65000:5000"},
				NextHop: netip.MustParseAddr(r.vtep), RouterMAC: "02:aa:00:00:00:0" + string(rune('1'+i)), MED: r.med, Peer: r.vtep}
		}
		return a, z
	}
	a, z := mk(false, false)
	d := &desiredState{kernel: map[string]kobj{}, adverts: map[string]*Route{}}
	a.planL3(z, d, map[netip.Addr]bool{}, map[string]bool{})
	r, ok := d.kernel["route||0.0.0.0/0"].(*routeObj)
	if !ok {
		t.Fatalf("no default route planned: %v", d.kernel)
	}
	if len(r.vteps) != 2 || r.vteps[0].String() != "10.0.0.1" || r.vteps[1].String() != "10.0.0.4" {
		t.Errorf("default via %v, want ECMP over the two MED 0 exit nodes", r.vteps)
	}
	for _, v := range []string{"10.0.0.1", "10.0.0.4"} {
		if _, ok := d.kernel["neigh||vrfbr|"+v]; !ok {
			t.Errorf("no router MAC neighbour for %s", v)
		}
	}
	a, z = mk(true, true)
	d = &desiredState{kernel: map[string]kobj{}, adverts: map[string]*Route{}}
	a.planL3(z, d, map[netip.Addr]bool{}, map[string]bool{})
	if _, ok := d.kernel["route||0.0.0.0/0"]; ok {
		t.Error("a primary exit node took another node's default route")
	}
	var defaults int
	for _, r := range d.adverts {
		if r.Type == TypePrefix && r.Prefix.Bits() == 0 {
			defaults++
		}
	}
	if defaults != 2 {
		t.Errorf("exit node originates %d default routes, want 0.0.0.0/0 and ::/0", defaults)
	}
}

// The per-peer received count follows the RIB: it drops with withdrawals
// that arrive after the session went down, and never goes negative.
func TestReceivedCountFollowsRIB(t *testing.T) {
	a, err := New(Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr("10.0.0.2")}},
		L2VNIs:    []L2VNI{{VNI: 100, Bridge: "br", VxlanDev: "vx"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := func(mac string, withdraw bool) *api.Path {
		r := Route{Type: TypeMACIP, RD: "10.0.0.2:2", MAC: mac, VNI: 100, RTs: []string{"65000:100"},
			NextHop: netip.MustParseAddr("10.0.0.2")}
		p, err := r.toPath(withdraw)
		if err != nil {
			t.Fatal(err)
		}
		p.NeighborIp = "10.0.0.2"
		return p
	}
	received := func() int {
		s := a.snapshot()
		if len(s.Peers) != 1 {
			t.Fatalf("peers %+v", s.Peers)
		}
		return s.Peers[0].Received
	}
	a.onPeer(evPeer{addr: "10.0.0.2", state: api.PeerState_ESTABLISHED})
	a.onPath(path("02:00:00:00:00:01", false))
	a.onPath(path("02:00:00:00:00:02", false))
	a.onPath(path("02:00:00:00:00:02", false)) // an update of the same route
	if n := received(); n != 2 {
		t.Fatalf("received %d, want 2", n)
	}
	a.onPeer(evPeer{addr: "10.0.0.2", state: api.PeerState_IDLE})
	a.onPath(path("02:00:00:00:00:01", true))
	a.onPath(path("02:00:00:00:00:02", true))
	if n := received(); n != 0 {
		t.Fatalf("received %d after the session went and its routes were withdrawn, want 0", n)
	}
}

// A 4-byte ASN: FRR derives (AS & 0xFFFF):VNI in the 2-octet-AS form with
// the full VNI (bgpd/bgp_evpn.c form_auto_rt). 4200001000 & 0xffff is
// 60904. The 4-octet form 4200001000:(VNI & 0xffff) never matches FRR's.
func TestAutoRTFourByteASN(t *testing.T) {
	c := Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 4200001000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr("10.0.0.2")}},
		L2VNIs:    []L2VNI{{VNI: 100000, Bridge: "br", VxlanDev: "vx"}},
		L3VNIs:    []L3VNI{{VNI: 10000, Bridge: "vrfbr", VxlanDev: "vrfvx"}}}
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.L2VNIs[0].ExportRTs; len(got) != 1 || got[0] != "60904:100000" {
		t.Errorf("L2 export RT %v, want [60904:100000] as FRR derives it", got)
	}
	if got := c.L3VNIs[0].ImportRTs; len(got) != 1 || got[0] != "60904:10000" {
		t.Errorf("L3 import RT %v, want [60904:10000]", got)
	}
	// On the wire: a 2-octet-AS specific route target, as FRR sends it.
	ec, err := parseRT(c.L2VNIs[0].ExportRTs[0])
	if err != nil {
		t.Fatal(err)
	}
	two, ok := ec.(*bgp.TwoOctetAsSpecificExtended)
	if !ok || two.AS != 60904 || two.LocalAdmin != 100000 {
		t.Errorf("wire form %T %+v, want 2-octet AS 60904 local 100000", ec, ec)
	}
}

// An exit node refuses its peers' default routes in every zone, as FRR's
// inbound route-map (MAP_VTEP_IN, applied to all of the node's l2vpn evpn
// routes) does: node1 of examples/demo is an exit node of myevpn only, and
// refuses defaults in tenantb too; node3, no exit node, takes them.
func TestFromPlanRefusesDefaultsNodeWide(t *testing.T) {
	cfg, err := config.Load("../../examples/demo", registry.Config())
	if err != nil {
		t.Fatalf("examples/demo: %v", err)
	}
	for node, want := range map[string]bool{"node1": true, "node3": false} {
		hi, err := config.ParseInterfaces("../../examples/evpn/interfaces." + node)
		if err != nil {
			t.Fatal(err)
		}
		p, err := sdn.Compile(cfg, plan.NodeFacts{Node: node, Interfaces: hi})
		if err != nil {
			t.Fatal(err)
		}
		c, err := FromPlan(p, func(zone string) string { return "vrfns-" + zone })
		if err != nil {
			t.Fatal(err)
		}
		if len(c.L3VNIs) != 2 {
			t.Fatalf("%s: l3vnis %+v, want myevpn and tenantb", node, c.L3VNIs)
		}
		for _, z := range c.L3VNIs {
			if z.RejectDefault != want {
				t.Errorf("%s zone %s (vni %d): refuses defaults %v, want %v", node, z.Zone, z.VNI, z.RejectDefault, want)
			}
		}
	}
}

// The gap after a reconcile grows with its duration but never past
// maxReconcileGap: a reconcile stretched by a loaded machine must not hold
// the next one (and the kernel's programming) back for a minute.
func TestReconcileGapBounded(t *testing.T) {
	cases := []struct{ took, want time.Duration }{
		{0, reconcileGap},
		{2 * time.Millisecond, 100 * time.Millisecond},
		{5 * time.Second, maxReconcileGap},
	}
	for _, c := range cases {
		if got := reconcileGapAfter(c.took); got != c.want {
			t.Errorf("after a reconcile of %v: gap %v, want %v", c.took, got, c.want)
		}
	}
}

// Kernel objects' keys and specs keep the strings they had before they were
// cached, and the two caches stay apart (the key asked for after the spec
// is still the key).
func TestKernelObjectNames(t *testing.T) {
	mac := parseMAC("02:00:00:00:00:01")
	vtep := netip.MustParseAddr("192.0.2.7")
	f := &fdbObj{netns: "ns", dev: "vxlan_v1", mac: mac, vtep: vtep, sticky: true}
	if f.key() != "fdb|ns|vxlan_v1|02:00:00:00:00:01" || f.spec() != "fdb|ns|vxlan_v1|02:00:00:00:00:01|192.0.2.7|true" || f.spec() != f.spec() {
		t.Errorf("fdb key %q spec %q", f.key(), f.spec())
	}
	if g := (&fdbObj{netns: "ns", dev: "vxlan_v1", mac: mac, vtep: vtep}); g.spec() == "" || g.key() != "fdb|ns|vxlan_v1|02:00:00:00:00:01" {
		t.Errorf("fdb key %q after its spec %q", g.key(), g.spec())
	}
	fl := &floodObj{netns: "ns", dev: "vxlan_v1", vtep: vtep}
	if fl.key() != "flood|ns|vxlan_v1|192.0.2.7" || fl.spec() != fl.key() {
		t.Errorf("flood key %q spec %q", fl.key(), fl.spec())
	}
	n := &neighObj{netns: "ns", dev: "v1", ip: netip.MustParseAddr("10.0.0.5"), mac: mac}
	if n.key() != "neigh|ns|v1|10.0.0.5" || n.spec() != "neigh|ns|v1|10.0.0.5|02:00:00:00:00:01" {
		t.Errorf("neigh key %q spec %q", n.key(), n.spec())
	}
}
