package scenarios

import (
	"github.com/sdnlab/sdnlab/reports"

	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/scenarios/probe"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// fakeLab is a Lab without namespaces, for the parts of the framework that
// only look things up.
type fakeLab struct{ plans map[string]*plan.NodePlan }

func (fakeLab) Name() string { return "fake" }
func (fakeLab) Nodes() []Node {
	return []Node{
		{Name: "node1", NS: "ns-node1", VTEP: netip.MustParseAddr("192.168.0.1"), Segment: "a"},
		{Name: "node2", NS: "ns-node2", VTEP: netip.MustParseAddr("192.168.0.2"), Segment: "b"},
	}
}
func (fakeLab) Guests() []Guest {
	mac, _ := net.ParseMAC("bc:24:11:00:00:01")
	return []Guest{
		{Name: "vm1", NS: "ns-vm1", Node: "node1", VNet: "v1", MAC: mac, IPv4: netip.MustParsePrefix("10.0.1.11/24"),
			IPv6: netip.MustParsePrefix("fd00::11/64"), GW4: netip.MustParseAddr("10.0.1.1")},
		{Name: "vm2", NS: "ns-vm2", Node: "node2", VNet: "v1", MAC: mac, IPv4: netip.MustParsePrefix("10.0.1.12/24")},
	}
}
func (fakeLab) External() (Host, bool) {
	return Host{Name: "inet", NS: "ns-inet", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.10")}}, true
}
func (fakeLab) Routers() []Host { return []Host{{Name: "r1", NS: "ns-r1"}} }
func (f fakeLab) Plan(node string) (*plan.NodePlan, error) {
	if p := f.plans[node]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("no plan for %s", node)
}
func (fakeLab) Do(string, func() error) error { return nil }
func (fakeLab) WireGuardHandshakes(context.Context, string, string) (map[string]time.Time, error) {
	return nil, errors.New("fake lab: no WireGuard")
}
func (fakeLab) Exec(context.Context, string, ...string) (string, error) {
	return "", nil
}
func (fakeLab) ExecGuest(context.Context, string, ...string) (string, error) {
	return "", errors.New("fake lab: no guests to run commands in")
}
func (fakeLab) MACSeq(context.Context, string, net.HardwareAddr) (uint32, bool, error) {
	return 0, false, nil
}
func (fakeLab) Migrate(context.Context, string, string, time.Duration) (Move, error) {
	return Move{}, nil
}
func (fakeLab) KillNode(context.Context, string) error              { return nil }
func (fakeLab) KillAgent(context.Context, string) error             { return nil }
func (fakeLab) SetLink(context.Context, string, string, bool) error { return nil }
func (fakeLab) VNetNS(node, vnet string) (string, error)            { return "ns-" + node, nil }
func (fakeLab) RestartGuest(context.Context, string) error          { return nil }
func (fakeLab) Show(context.Context, string) (*evpn.Snapshot, error) {
	return nil, errors.New("fake lab: no engine")
}

func newFake() fakeLab {
	mk := func(n string) *plan.NodePlan {
		return &plan.NodePlan{Node: n, Zones: []plan.ZonePlan{{ID: "z1", Type: "evpn", ExitNode: n == "node1",
			VNets: []plan.VNetPlan{{ID: "v1", Tag: 100, Subnets: []plan.SubnetPlan{{Prefix: netip.MustParsePrefix("10.0.1.0/24"), SNAT: true}}}}}}}
	}
	return fakeLab{plans: map[string]*plan.NodePlan{"node1": mk("node1"), "node2": mk("node2")}}
}

func TestResolve(t *testing.T) {
	v := labView{newFake()}
	cases := []struct {
		from, to string
		fam      int
		want     string
	}{
		{"vm1", "vm2", 0, "10.0.1.12"},
		{"vm1", "gateway", 4, "10.0.1.1"},
		{"vm2", "vm1", 6, "fd00::11"},
		{"vm1", "external", 0, "203.0.113.10"},
		{"vm1", "node2", 0, "192.168.0.2"},
		{"vm1", "10.9.9.9", 0, "10.9.9.9"},
	}
	for _, c := range cases {
		a, err := resolveAddr(v, c.from, c.to, c.fam)
		if err != nil || a.String() != c.want {
			t.Errorf("resolveAddr(%s, %s, %d) = %v, %v; want %s", c.from, c.to, c.fam, a, err, c.want)
		}
	}
	if _, err := resolveAddr(v, "vm2", "vm2", 6); err == nil {
		t.Error("vm2 has no IPv6: want an error")
	}
	if _, err := resolveAddr(v, "vm2", "gateway", 6); err == nil {
		t.Error("vm2 has no IPv6 gateway: want an error")
	}
	for name, want := range map[string]string{"node1": "ns-node1", "vm2": "ns-vm2", "r1": "ns-r1", "external": "ns-inet"} {
		if ns, err := resolveNS(v, name); err != nil || ns != want {
			t.Errorf("resolveNS(%s) = %q, %v", name, ns, err)
		}
	}
	if _, err := resolveNS(v, "nope"); err == nil {
		t.Error("unknown name: want an error")
	}
}

func TestLabLookups(t *testing.T) {
	v := labView{newFake()}
	a, b, vn, err := v.pairOnTwoNodes("")
	if err != nil || a.Node == b.Node || vn.VNet.Tag != 100 || len(vn.Nodes) != 2 {
		t.Fatalf("pair: %v %v %+v %v", a.Name, b.Name, vn, err)
	}
	if _, _, err := v.pairAcrossSegments(""); err != nil {
		t.Fatalf("segments: %v", err)
	}
	exits, _, err := v.exitNodes("z1")
	if err != nil || len(exits) != 1 || exits[0].Name != "node1" {
		t.Fatalf("exit nodes: %v %v", exits, err)
	}
	if pf, ok := v.snatSubnet(v.Guests()[0]); !ok || pf.String() != "10.0.1.0/24" {
		t.Fatalf("snat subnet: %v %v", pf, ok)
	}
}

func TestFDBMatches(t *testing.T) {
	vtep2 := netip.MustParseAddr("192.168.0.2")
	local := probe.FDBEntry{MAC: "m", Dev: "tap100i0"}
	remote := probe.FDBEntry{MAC: "m", Dev: "vx", Dst: vtep2}
	stale := probe.FDBEntry{MAC: "m", Dev: "vx", Dst: netip.MustParseAddr("192.168.0.3")}
	switch {
	case !fdbMatches([]probe.FDBEntry{local}, "local", netip.Addr{}, "tap100i0"):
		t.Error("local entry on the tap")
	case fdbMatches([]probe.FDBEntry{local}, "local", netip.Addr{}, "tap999"):
		t.Error("local entry on another port")
	case !fdbMatches([]probe.FDBEntry{remote}, "remote", vtep2, ""):
		t.Error("remote entry")
	case fdbMatches([]probe.FDBEntry{remote, stale}, "remote", vtep2, ""):
		t.Error("a stale dst must not match")
	case !fdbMatches(nil, "absent", netip.Addr{}, ""):
		t.Error("absent")
	}
}

func TestSelectAndParams(t *testing.T) {
	sel, err := Select([]string{"mtu:guest=vm1", "testdata/migrate-and-check.yaml:pause=80ms"})
	if err != nil || len(sel) != 2 || sel[0].Params["guest"] != "vm1" || sel[1].Params["pause"] != "80ms" {
		t.Fatalf("select: %+v %v", sel, err)
	}
	if _, err := Select([]string{"mtu:colour=red"}); err == nil || !strings.Contains(err.Error(), "unknown parameter colour") {
		t.Fatalf("unknown parameter: %v", err)
	}
	if _, err := Select([]string{"no-such"}); err == nil {
		t.Fatal("unknown scenario: want an error")
	}
	all, err := Select(nil)
	if err != nil || len(all) != len(All()) {
		t.Fatalf("all: %d %v", len(all), err)
	}
	seen := map[string]bool{}
	for _, s := range All() {
		if seen[s.Name()] || s.Description() == "" {
			t.Errorf("scenario %q: duplicate or undescribed", s.Name())
		}
		seen[s.Name()] = true
	}
}

func TestFileScenarioRequirement(t *testing.T) {
	f, err := ParseFile("x.yaml", []byte("name: x\nlab: {zone-type: vxlan, min-nodes: 2}\nsteps:\n  - sleep: 1ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Run(context.Background(), &Env{Lab: newFake(), Params: map[string]string{}})
	if r.Verdict != reports.Skip || !strings.Contains(r.Reason, "no zone of type vxlan") {
		t.Fatalf("requirement: %s %s", r.Verdict, r.Reason)
	}
	// A file with only a sleep observes nothing: error, never pass.
	f, _ = ParseFile("x.yaml", []byte("name: x\nsteps:\n  - sleep: 1ms\n"))
	if r := f.Run(context.Background(), &Env{Lab: newFake(), Params: map[string]string{}}); r.Verdict != reports.Error {
		t.Fatalf("no checks: %s", r.Verdict)
	}
}

// twoFamilyLab has two overlay zones whose guests share no family: z1's
// are IPv4 only, z2's IPv6 only.
type twoFamilyLab struct{ fakeLab }

func (twoFamilyLab) Guests() []Guest {
	g := func(name, node, vnet, ip string) Guest {
		pf := netip.MustParsePrefix(ip)
		x := Guest{Name: name, NS: "ns-" + name, Node: node, VNet: vnet}
		if pf.Addr().Is4() {
			x.IPv4 = pf
		} else {
			x.IPv6 = pf
		}
		return x
	}
	return []Guest{g("vm11", "node1", "v1", "10.0.1.11/24"), g("vm12", "node2", "v1", "10.0.1.12/24"),
		g("vm21", "node1", "v2", "fd00:2::21/64"), g("vm22", "node2", "v2", "fd00:2::22/64")}
}

// Zones whose guests share no family give tenant-isolation no pair to
// judge isolation on: an error before any probe, never a pass on the
// same-zone controls alone.
func TestTenantIsolationNeedsACrossZonePair(t *testing.T) {
	mk := func(n string) *plan.NodePlan {
		return &plan.NodePlan{Node: n, Zones: []plan.ZonePlan{
			{ID: "z1", Type: "evpn", VNets: []plan.VNetPlan{{ID: "v1", Tag: 100}}},
			{ID: "z2", Type: "evpn", VNets: []plan.VNetPlan{{ID: "v2", Tag: 200}}},
		}}
	}
	lab := twoFamilyLab{fakeLab{plans: map[string]*plan.NodePlan{"node1": mk("node1"), "node2": mk("node2")}}}
	r := tenantIsolation{}.Run(context.Background(), &Env{Lab: lab, Params: map[string]string{}})
	if r.Verdict != reports.Error || !strings.Contains(r.Reason, "share an address family") {
		t.Fatalf("no cross-zone pair: %s %s", r.Verdict, r.Reason)
	}
}

// The gateway ping after a move that could not run is no answer, and the
// target's gateway MAC unread is no match: both checks are unproven, never
// left out.
func TestGatewayCacheProbeMustRun(t *testing.T) {
	lab := newFake()
	v := labView{lab}
	g := lab.Guests()[0]
	g.NS = "sdnlab-fake-no-such-netns"
	m := migration{g: g, fams: []ipFam{ipFams[0]}, target: lab.Nodes()[1], vn: &overlayVNet{VNet: plan.VNetPlan{ID: "v1", Bridge: "v1"}}}
	r := NewResult("x")
	vmLiveMigration{}.checkGatewayCache(context.Background(), r, v, m, map[ipFam]string{ipFams[0]: "bc:24:11:5d:00:01"})
	unproven := 0
	for _, c := range r.Checks {
		if (strings.HasPrefix(c.Name, "gateway 10.0.1.1 answers") || strings.HasPrefix(c.Name, "gateway MAC in the guest's ARP cache still valid")) && c.Unproven != "" {
			unproven++
		}
	}
	if unproven != 2 {
		t.Fatalf("want the gateway ping and the target's gateway MAC unproven: %+v", r.Checks)
	}
}

// engineLab has two EVPN nodes with engines (showing nothing) and one
// guest: no pair of guests across nodes.
type engineLab struct{ fakeLab }

func (l engineLab) Nodes() []Node {
	ns := l.fakeLab.Nodes()
	for i := range ns {
		ns[i].Agent, ns[i].Engine = true, "agent"
	}
	return ns
}
func (l engineLab) Guests() []Guest { return l.fakeLab.Guests()[:1] }
func (engineLab) Show(context.Context, string) (*evpn.Snapshot, error) {
	return &evpn.Snapshot{}, nil
}

// evpn-control-plane promises guests reaching each other across nodes: a
// lab without such a pair leaves that unproven, never silently out.
func TestEVPNControlPlaneNeedsAGuestPair(t *testing.T) {
	r := evpnControlPlane{}.Run(context.Background(), &Env{Lab: engineLab{newFake()}, Params: map[string]string{"within": "1ms"}})
	for _, c := range r.Checks {
		if c.Name == "guests reach each other across nodes" && c.Unproven != "" {
			return
		}
	}
	t.Fatalf("no unproven guest check: %s %s %+v", r.Verdict, r.Reason, r.Checks)
}

// linkLab: node1 and node2 joined by a point-to-point link, a VM guest
// (no namespace) first by name on node1.
type linkLab struct{ fakeLab }

func (l linkLab) Nodes() []Node {
	ns := l.fakeLab.Nodes()
	ns[0].Links = map[string]string{"node2": "l12"}
	ns[1].Links = map[string]string{"node1": "l21"}
	return ns
}
func (l linkLab) Guests() []Guest {
	gs := l.fakeLab.Guests()
	vm := gs[0]
	vm.Name, vm.NS, vm.VM = "vm0", "", true
	return append([]Guest{vm}, gs...)
}

// fabric-link-failure streams from guests' namespaces: it never picks a
// VM guest, whose empty namespace would be the host's.
func TestFabricLinkFailureSkipsVMGuests(t *testing.T) {
	p, skip, err := fabricLinkFailure{}.plan(&Env{Lab: linkLab{newFake()}, Params: map[string]string{}})
	if err != nil || skip != "" || p.ga.Name != "vm1" || p.gb.Name != "vm2" {
		t.Fatalf("plan: %s -> %s, %q, %v", p.ga.Name, p.gb.Name, skip, err)
	}
}

func TestMovedFirstPrefersVMs(t *testing.T) {
	byVNet := map[string][]Guest{
		"b": {{Name: "vm21", VNet: "b"}, {Name: "vm22", VNet: "b", VM: true}},
		"a": {{Name: "vm11", VNet: "a"}, {Name: "vm12", VNet: "a", VM: true}},
	}
	var got []string
	for _, g := range movedFirst(byVNet, "") {
		got = append(got, g.Name)
	}
	if want := "vm12 vm22 vm11 vm21"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
	if named := movedFirst(byVNet, "vm21"); len(named) != 1 || named[0].Name != "vm21" {
		t.Errorf("named: %v", named)
	}
}
