package controllers

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

func TestRouterID(t *testing.T) {
	cases := []struct {
		ip, mac, want, err string
	}{
		{ip: "192.0.2.7", want: "192.0.2.7"},
		{ip: "192.0.2.7", mac: "02:00:00:00:00:01", want: "192.0.2.7"}, // IPv4 wins over the MAC
		{ip: "2001:db8::5", mac: "bc:24:11:1d:69:60", want: "17.29.105.96"},
		{ip: "2001:db8::5", mac: "02:A0:C9:12:34:56", want: "201.18.52.86"},
		{ip: "", mac: "02:a0:c9:12:34:56", want: "201.18.52.86"}, // no local address at all
		{ip: "2001:db8::5", err: "underlay MAC is unknown"},
		{ip: "2001:db8::5", mac: "00:00:00:00:00:00", err: "00:00:00:00:00:00"},
		{ip: "2001:db8::5", mac: "not-a-mac", err: "not a 6-byte MAC"},
	}
	for _, c := range cases {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		got, err := routerID(ip, c.mac)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("routerID(%s, %q) error = %v, want containing %q", c.ip, c.mac, err, c.err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("routerID(%s, %q) = %v, %v; want %s", c.ip, c.mac, got, err, c.want)
		}
	}
}

// fakeHost answers LocalIP from a fixed table.
type fakeHost struct {
	ip  netip.Addr
	err error
}

func (h fakeHost) LocalIP([]netip.Addr, string) (netip.Addr, string, error) {
	return h.ip, "vmbr0", h.err
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func testConfig() *config.Config {
	return &config.Config{
		Zones:       map[string]*config.Zone{},
		VNets:       map[string]*config.VNet{},
		Subnets:     map[string]*config.Subnet{},
		Controllers: map[string]*config.Controller{},
		Fabrics:     map[string]*config.Fabric{},
	}
}

// An evpn controller plus a bgp controller of another ASN on the node is
// eBGP: remote-as external, the bgp ASN, and auto route targets.
func TestEVPNAutoEBGP(t *testing.T) {
	cfg := testConfig()
	cfg.Controllers["evpn1"] = &config.Controller{ID: "evpn1", Type: "evpn", ASN: 65100, Peers: addrs("10.0.0.1", "10.0.0.2")}
	cfg.Controllers["bgp1"] = &config.Controller{ID: "bgp1", Type: "bgp", ASN: 65201, Node: "n1", EBGP: true, Loopback: "lo9", Peers: addrs("10.9.0.1")}
	cfg.Zones["z"] = &config.Zone{ID: "z", Type: "evpn", Controller: "evpn1", VrfVxlan: 777}
	f, _, err := NewRegistry(EVPN{}, BGP{}, ISIS{}).Generate(cfg, Input{Node: "n1", Host: fakeHost{ip: netip.MustParseAddr("10.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	r := f.DefaultRouter()
	if r == nil || r.ASN != 65201 {
		t.Fatalf("default router = %+v, want ASN 65201 (the bgp controller's)", r)
	}
	g := f.NeighborGroup("VTEP")
	if g == nil || !g.EBGP(r.ASN) || g.EBGPMultihop != 10 || g.UpdateSource != "lo9" {
		t.Fatalf("VTEP group = %+v, want eBGP, multihop 10, update-source lo9", g)
	}
	if len(g.Peers) != 1 || g.Peers[0] != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("VTEP peers = %v, want only 10.0.0.2 (self excluded)", g.Peers)
	}
	if r.L2VPNEVPN.AutoRTAS != 65100 {
		t.Errorf("autort as = %d, want 65100", r.L2VPNEVPN.AutoRTAS)
	}
	vr := f.BGP.Routers["vrf_z"]
	if vr == nil || vr.L2VPNEVPN == nil || vr.L2VPNEVPN.RouteTargets == nil ||
		vr.L2VPNEVPN.RouteTargets.Import[0] != "65100:777" || vr.L2VPNEVPN.RouteTargets.Export[0] != "65100:777" {
		t.Errorf("vrf router = %+v, want route targets 65100:777", vr)
	}
	if f.BGP.VRFs["vrf_z"].VNI != 777 {
		t.Errorf("vrf vni = %d, want 777", f.BGP.VRFs["vrf_z"].VNI)
	}
}

// Without a local address the lab follows Proxmox's harness when the
// underlay MAC is known, and fails with the reason otherwise.
func TestEVPNNoLocalIP(t *testing.T) {
	cfg := testConfig()
	cfg.Controllers["e"] = &config.Controller{ID: "e", Type: "evpn", ASN: 65000, Peers: addrs("10.0.0.1", "10.0.0.2")}
	host := fakeHost{err: errors.New("no route")}
	if _, _, err := NewRegistry(EVPN{}, BGP{}, ISIS{}).Generate(cfg, Input{Node: "n1", Host: host}); err == nil {
		t.Fatal("want an error without local address and MAC")
	}
	f, notes, err := NewRegistry(EVPN{}, BGP{}, ISIS{}).Generate(cfg, Input{Node: "n1", Host: host, UnderlayMAC: "02:00:0a:0b:0c:0d"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.DefaultRouter().RouterID.String(); got != "10.11.12.13" {
		t.Errorf("router-id = %s, want 10.11.12.13", got)
	}
	if len(f.NeighborGroup("VTEP").Peers) != 2 || len(notes) == 0 {
		t.Errorf("want both peers kept and a note, got %v, notes %q", f.NeighborGroup("VTEP").Peers, notes)
	}
}

// The underlay of an evpn controller is derived once per node: the host is
// asked once and the note is written once, however many zones use it.
func TestEVPNUnderlayDerivedOnce(t *testing.T) {
	cfg := testConfig()
	cfg.Controllers["e"] = &config.Controller{ID: "e", Type: "evpn", ASN: 65000, Peers: addrs("10.0.0.1", "10.0.0.2")}
	cfg.Zones["z1"] = &config.Zone{ID: "z1", Type: "evpn", Controller: "e", VrfVxlan: 101}
	cfg.Zones["z2"] = &config.Zone{ID: "z2", Type: "evpn", Controller: "e", VrfVxlan: 102}
	host := &countingHost{err: errors.New("no route")}
	f, notes, err := NewRegistry(EVPN{}, BGP{}, ISIS{}).Generate(cfg, Input{Node: "n1", Host: host, UnderlayMAC: "02:00:0a:0b:0c:0d"})
	if err != nil {
		t.Fatal(err)
	}
	if host.calls != 1 || len(notes) != 1 {
		t.Errorf("host asked %d times, notes %q; want 1 and 1", host.calls, notes)
	}
	for _, vrf := range []string{"vrf_z1", "vrf_z2"} {
		if vr := f.BGP.Routers[vrf]; vr == nil || vr.RouterID.String() != "10.11.12.13" {
			t.Errorf("%s router = %+v, want router-id 10.11.12.13", vrf, vr)
		}
	}
}

type countingHost struct {
	calls int
	err   error
}

func (h *countingHost) LocalIP([]netip.Addr, string) (netip.Addr, string, error) {
	h.calls++
	return netip.Addr{}, "", h.err
}

// Null routes of an exit node: other zones' subnets only, one per
// address, ordered numerically with IPv4 first.
func TestOtherZoneNullRoutes(t *testing.T) {
	cfg := testConfig()
	add := func(id, zone, vnet, pfx string) {
		cfg.Subnets[id] = &config.Subnet{ID: id, Zone: zone, VNet: vnet, Prefix: netip.MustParsePrefix(pfx)}
	}
	add("a-10.0.0.0-24", "a", "va", "10.0.0.0/24")
	add("b-2001:db8::-64", "b", "vb", "2001:db8::/64")
	add("b-192.168.0.1-24", "b", "vb", "192.168.0.1/24")
	add("b-10.0.0.0-16", "b", "vb", "10.0.0.0/16")
	add("c-10.0.0.0-8", "c", "vc", "10.0.0.0/8")
	add("d-172.16.0.0-12", "d", "", "172.16.0.0/12") // no vnet: ignored
	var got []string
	for _, r := range otherZoneNullRoutes(cfg, "a") {
		got = append(got, r.Prefix.String()+" "+r.Via)
	}
	want := []string{"10.0.0.0/8 null0", "192.168.0.1/24 null0", "2001:db8::/64 null0"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("null routes = %q, want %q", got, want)
	}
}

func TestNeighborGroupEBGP(t *testing.T) {
	for _, c := range []struct {
		remote string
		asn    uint32
		want   bool
	}{{"external", 1, true}, {"internal", 1, false}, {"65000", 65000, false}, {"65001", 65000, true}} {
		if got := (frr.NeighborGroup{RemoteAS: c.remote}).EBGP(c.asn); got != c.want {
			t.Errorf("EBGP(remote-as %s, asn %d) = %v, want %v", c.remote, c.asn, got, c.want)
		}
	}
}
