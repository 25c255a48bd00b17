package topology

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/evpn"
)

// An FRR reflector's frr.conf: iBGP in the controller's AS, the shared
// cluster ID, every node a route-reflector client of l2vpn evpn, BFD
// where the nodes ask for it, and no VNI.
func TestReflectorFRRConf(t *testing.T) {
	a := netip.MustParseAddr
	rt := &Router{Name: "rr2", Reflector: &evpn.Config{ASN: 4200001000, RouterID: a("192.168.0.202"), ClusterID: a("192.168.0.201"),
		Neighbors: []evpn.Neighbor{{Addr: a("192.168.0.1"), BFD: true, RRClient: true}, {Addr: a("fd00::2"), BFD: true, RRClient: true}}}}
	conf := reflectorFRRConf(rt, "8.4.4")
	for _, want := range []string{
		"frr version 8.4.4\n", "hostname rr2\n", "router bgp 4200001000\n", " bgp router-id 192.168.0.202\n",
		" bgp cluster-id 192.168.0.201\n", " neighbor VTEP remote-as 4200001000\n", " neighbor VTEP bfd\n",
		" neighbor 192.168.0.1 peer-group VTEP\n", " neighbor fd00::2 peer-group VTEP\n",
		" address-family l2vpn evpn\n  neighbor VTEP activate\n  neighbor VTEP route-reflector-client\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("frr.conf lacks %q:\n%s", want, conf)
		}
	}
	for _, not := range []string{"advertise-all-vni", "vni ", "vrf"} {
		if strings.Contains(conf, not) {
			t.Errorf("a reflector's frr.conf has %q:\n%s", not, conf)
		}
	}
	rt.Reflector.Neighbors[0].BFD, rt.Reflector.Neighbors[1].BFD = false, false
	if strings.Contains(reflectorFRRConf(rt, "8.4.4"), "bfd") {
		t.Error("BFD configured though no node asks for it")
	}
}
