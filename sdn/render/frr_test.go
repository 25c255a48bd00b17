package render_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/frr"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/render"
)

func TestFRRNone(t *testing.T) {
	if got := render.FRR(nil, ""); got != "" {
		t.Errorf("FRR(nil) = %q", got)
	}
	if got := render.FRR(&plan.NodePlan{Node: "n1"}, ""); got != "" {
		t.Errorf("FRR(no routing) = %q", got)
	}
}

// The statements the controllers never set still render the way Proxmox's
// templates write them.
func TestFRRStatements(t *testing.T) {
	p := netip.MustParsePrefix
	c := &frr.Config{
		PrefixLists: map[string][]frr.PrefixListRule{
			"pl6": {{Action: "deny", Network: p("2001:db8::/32"), GE: 48, LE: 64}},
		},
		AccessLists: map[string][]frr.AccessListRule{
			"acl": {{Seq: 5, Action: "permit", Network: p("10.0.0.0/8")}},
		},
		RouteMaps: map[string][]frr.RouteMapEntry{
			"rm": {{Seq: 7, Action: "permit", Matches: []frr.KV{{Key: "evpn route-type", Value: "5"}}, Sets: []frr.KV{{Key: "ip next-hop unchanged"}}}},
		},
		ProtocolRouteMaps: map[string]frr.ProtocolRouteMap{"ospf": {V6: "rm6"}},
	}
	c.BGP.Routers = map[string]*frr.BGPRouter{frr.DefaultVRF: {
		ASN:      4200000000,
		RouterID: netip.MustParseAddr("192.0.2.9"),
		NeighborGroups: []frr.NeighborGroup{{
			Name: "U", RemoteAS: frr.RemoteASInternal, Interfaces: []string{"eth0"},
		}},
		IPv6Unicast: &frr.UnicastAF{Redistribute: []frr.Redistribution{{Protocol: "static", Metric: 20, RouteMap: "rm"}}},
		L2VPNEVPN:   &frr.EVPNAF{AdvertiseDefaultGW: true, RouteTargets: &frr.RouteTargets{Both: []string{"1:1"}}},
	}}
	got := render.FRR(&plan.NodePlan{Node: "n9", FRR: c}, "")
	want := `frr version 10.4.1
frr defaults datacenter
hostname n9
log syslog informational
service integrated-vtysh-config
!
router bgp 4200000000
 bgp router-id 192.0.2.9
 neighbor U peer-group
 neighbor U remote-as internal
 neighbor eth0 interface peer-group U
 !
 address-family ipv6 unicast
  redistribute static metric 20 route-map rm
 exit-address-family
 !
 address-family l2vpn evpn
  advertise-default-gw
  route-target both 1:1
 exit-address-family
exit
!
ipv6 prefix-list pl6 deny 2001:db8::/32 le 64 ge 48
!
access-list acl seq 5 permit 10.0.0.0/8
!
route-map rm permit 7
 match evpn route-type 5
 set ip next-hop unchanged
exit
!
!
ipv6 protocol ospf route-map rm6
!
line vty
!
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(got, "frr version 10.4.1\n") {
		t.Errorf("first line of %q is not the default frr version 10.4.1", got)
	}
	other := render.FRR(&plan.NodePlan{Node: "n9", FRR: c}, "8.4.4")
	if !strings.HasPrefix(other, "frr version 8.4.4\n") || other[len("frr version 8.4.4\n"):] != got[len("frr version 10.4.1\n"):] {
		t.Errorf("an explicit version changes only the first line; got %q", other)
	}
}
