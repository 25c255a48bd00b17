package frr

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func baseConfig() *Config {
	c := &Config{}
	c.BGP.Routers = map[string]*BGPRouter{
		DefaultVRF: {ASN: 65000, RouterID: netip.MustParseAddr("192.0.2.1"), L2VPNEVPN: &EVPNAF{AdvertiseAllVNI: true}},
		"vrf_z":    {ASN: 65000, RouterID: netip.MustParseAddr("192.0.2.1")},
	}
	c.BGP.VRFs = map[string]*VRF{"vrf_z": {VNI: 100}}
	c.ISIS.Routers = map[string]*ISISRouter{"dom": {NET: "49.0001.0000.0000.0001.00"}}
	c.ISIS.Interfaces = map[string]*ISISInterface{"eth1": {Domain: "dom", IPv4: true}}
	c.AddRouteMap("MAP_VTEP_IN", RouteMapEntry{Seq: 1, Action: "permit"})
	c.PrependRouteMap("MAP_VTEP_IN", RouteMapEntry{Seq: 1, Action: "deny"})
	c.AddRouteMap("MAP_VTEP_OUT", RouteMapEntry{Seq: 1, Action: "permit"})
	return c
}

func seqs(es []RouteMapEntry) []int {
	var out []int
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestMergeNumbersGeneratedRouteMaps(t *testing.T) {
	c := baseConfig()
	if d := c.MergeLocal(""); d != nil {
		t.Errorf("dropped = %q, want none", d)
	}
	if got := seqs(c.RouteMaps["MAP_VTEP_IN"]); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Errorf("MAP_VTEP_IN seqs = %v, want [1 2]", got)
	}
	if len(c.Custom) != 0 {
		t.Errorf("custom = %q, want none", c.Custom)
	}
}

func TestMergeLocalRules(t *testing.T) {
	c := baseConfig()
	local := strings.Join([]string{
		"! comment",
		"ip nht resolve-via-default", // outside any block: dropped
		"router bgp 65000   ",        // existing default router (trailing blanks)
		" neighbor X remote-as 1",    // -> router custom
		" address-family l2vpn evpn", // existing family
		"  advertise-svi-ip",         // -> l2vpn custom
		" exit-address-family",       // back to the router
		" bgp bestpath compare-routerid",
		" address-family ipv4 unicast", // new family: written into the router block
		"  network 10.0.0.0/8",
		" exit-address-family", // new family ends: back to the top level!
		"exit",
		"router bgp 65001", // other ASN: a new block
		" bgp router-id 1.2.3.4",
		"exit",
		"vrf vrf_z",
		" ip route 10.9.0.0/16 null0 ! discard", // contains '!': skipped
		" ip route 10.8.0.0/16 null0",
		"exit-vrf",
		"router isis dom",
		" is-type level-2-only",
		"exit",
		"interface eth1",
		" isis circuit-type level-2-only",
		"exit",
		"interface eth9",
		" ip ospf area 0",
		"exit",
		"route-map MAP_VTEP_IN permit 10",
		" set local-preference 300",
		"exit",
		"route-map AAA deny 7",
		"ip prefix-list PL seq 5 permit 10.0.0.0/8",
		"bgp community-list standard C permit 1:1",
	}, "\n")
	dropped := c.MergeLocal(local)
	if want := []string{"line 2: ip nht resolve-via-default"}; !reflect.DeepEqual(dropped, want) {
		t.Errorf("dropped = %q, want %q", dropped, want)
	}
	def := c.BGP.Routers[DefaultVRF]
	if want := []string{" neighbor X remote-as 1", " bgp bestpath compare-routerid", " address-family ipv4 unicast", "  network 10.0.0.0/8", " exit-address-family"}; !reflect.DeepEqual(def.Custom, want) {
		t.Errorf("default router custom = %q, want %q", def.Custom, want)
	}
	if want := []string{"  advertise-svi-ip"}; !reflect.DeepEqual(def.L2VPNEVPN.Custom, want) {
		t.Errorf("l2vpn custom = %q, want %q", def.L2VPNEVPN.Custom, want)
	}
	if want := []string{" ip route 10.8.0.0/16 null0"}; !reflect.DeepEqual(c.BGP.VRFs["vrf_z"].Custom, want) {
		t.Errorf("vrf custom = %q, want %q", c.BGP.VRFs["vrf_z"].Custom, want)
	}
	if want := []string{" is-type level-2-only"}; !reflect.DeepEqual(c.ISIS.Routers["dom"].Custom, want) {
		t.Errorf("isis router custom = %q, want %q", c.ISIS.Routers["dom"].Custom, want)
	}
	if want := []string{" isis circuit-type level-2-only"}; !reflect.DeepEqual(c.ISIS.Interfaces["eth1"].Custom, want) {
		t.Errorf("isis interface custom = %q, want %q", c.ISIS.Interfaces["eth1"].Custom, want)
	}
	wantTop := []string{
		"router bgp 65001", " bgp router-id 1.2.3.4", "exit", "!",
		"interface eth9", " ip ospf area 0", "exit", "!",
		"ip prefix-list PL seq 5 permit 10.0.0.0/8",
		"bgp community-list standard C permit 1:1",
		// route-maps last, by name, renumbered after the generated entries
		"route-map AAA deny 1",
		"route-map MAP_VTEP_IN permit 3", " set local-preference 300", "exit", "!",
	}
	if !reflect.DeepEqual(c.Custom, wantTop) {
		t.Errorf("top-level custom =\n%s\nwant\n%s", strings.Join(c.Custom, "\n"), strings.Join(wantTop, "\n"))
	}
	if got := seqs(c.RouteMaps["MAP_VTEP_IN"]); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Errorf("generated MAP_VTEP_IN seqs = %v, want [1 2]", got)
	}
}

// A block that is not closed with exit leaves the merge collecting lines
// into it until the next header, as in Proxmox; its "new block" state
// even carries over to the next exit.
func TestMergeUnterminatedRouteMap(t *testing.T) {
	c := baseConfig()
	c.MergeLocal("route-map RM permit 20\n set metric 5\nroute-map RM permit 30\n!\nrouter bgp 65000 vrf vrf_z\n bgp router-id 192.0.2.1\nexit\n")
	if want := []string{" bgp router-id 192.0.2.1", "exit", "!"}; !reflect.DeepEqual(c.BGP.Routers["vrf_z"].Custom, want) {
		t.Errorf("vrf router custom = %q, want %q", c.BGP.Routers["vrf_z"].Custom, want)
	}
	if want := []string{"route-map RM permit 1", " set metric 5", "route-map RM permit 2"}; !reflect.DeepEqual(c.Custom, want) {
		t.Errorf("custom = %q, want %q", c.Custom, want)
	}
}
