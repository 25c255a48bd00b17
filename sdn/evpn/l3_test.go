package evpn

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// buildL3Node makes a node namespace plus its zone VRF namespace holding
// two VNets (vneta, VNI 100: 10.1.0.0/24; vnetb, VNI 200: 10.2.0.0/24) and
// the L3VNI 1000 of zone "zn", the way the realizer lays out an EVPN zone.
func (l *lab) buildL3Node(node, underlay string) (ns, vrf string) {
	ns = l.addNS(node)
	vrf = l.addNS(node + "-vrf-zn")
	l.sh(vrf, "sysctl -qw net.ipv4.ip_forward=1")
	for _, v := range []struct {
		vni     int
		br, gw  string
		vx      string
		bridged bool
	}{{100, "vneta", "10.1.0.1/24", "vxlan_vneta", true}, {200, "vnetb", "10.2.0.1/24", "vxlan_vnetb", true}, {1000, "vrfbr_zn", "", "vrfvx_zn", false}} {
		l.sh(ns, fmt.Sprintf(`
			ip link add %[1]s type vxlan id %[2]d local %[3]s dstport 4789 nolearning
			ip link set %[1]s mtu 1450 netns %[4]s`, v.vx, v.vni, underlay, vrf))
		l.sh(vrf, fmt.Sprintf(`
			ip link add %[1]s type bridge
			ip link set %[2]s master %[1]s
			bridge link set dev %[2]s learning off neigh_suppress on
			ip link set %[2]s up
			ip link set %[1]s up`, v.br, v.vx))
		if v.gw != "" {
			l.sh(vrf, fmt.Sprintf(`
				ip link set %[1]s address 02:00:00:aa:00:01
				ip addr add %[2]s dev %[1]s`, v.br, v.gw))
		}
	}
	return ns, vrf
}

// addL3Guests attaches guest gA (10.1.0.11) to vneta in n1's zone VRF and
// gB (10.2.0.12) to vnetb in n2's, each routing through its VNet gateway.
func (l *lab) addL3Guests() (gA, gB string) {
	l.t.Helper()
	gA = l.addGuest("gA", "n1-vrf-zn", "tapA", "02:00:00:00:01:11", "10.1.0.11/24", "vneta")
	gB = l.addGuest("gB", "n2-vrf-zn", "tapB", "02:00:00:00:02:12", "10.2.0.12/24", "vnetb")
	l.sh(gA, "ip route add default via 10.1.0.1")
	l.sh(gB, "ip route add default via 10.2.0.1")
	return gA, gB
}

func l3Config(node, self, peer string, exit bool) Config {
	return Config{
		Node: node, RouterID: netip.MustParseAddr(self), ASN: 65000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr(peer), BFD: true, Families: []string{FamilyEVPN, FamilyIPv4}}},
		L2VNIs: []L2VNI{
			{VNI: 100, Bridge: "vneta", VxlanDev: "vxlan_vneta", ARPSuppress: true, L3VNI: 1000},
			{VNI: 200, Bridge: "vnetb", VxlanDev: "vxlan_vnetb", ARPSuppress: true, L3VNI: 1000},
		},
		L3VNIs: []L3VNI{{VNI: 1000, Zone: "zn", Bridge: "vrfbr_zn", VxlanDev: "vrfvx_zn", ExitNode: exit, RejectDefault: exit, LeakSubnets: exit,
			AdvertiseSubnets: !exit, Subnets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("10.2.0.0/24")}}},
	}
}

// TestSymmetricIRB routes between VNets on different nodes through the
// L3VNI: host routes from type 2 (MAC+IP with router MAC and label 2),
// type 5 prefixes and an exit node's default route.
func TestSymmetricIRB(t *testing.T) {
	l := newLab(t, "l3")
	n1, vrf1 := l.buildL3Node("n1", "10.99.0.1")
	n2, vrf2 := l.buildL3Node("n2", "10.99.0.2")
	l.linkUnderlay(n1, "u1", n2, "u2")
	gA, gB := l.addL3Guests()

	c1 := l3Config("n1", "10.99.0.1", "10.99.0.2", true)
	c2 := l3Config("n2", "10.99.0.2", "10.99.0.1", false)
	for _, c := range []*Config{&c1, &c2} {
		vrf := l.name(c.Node + "-vrf-zn")
		for i := range c.L2VNIs {
			c.L2VNIs[i].Netns = vrf
		}
		c.L3VNIs[0].Netns = vrf
	}
	l.startAgent("n1", c1)
	l.startAgent("n2", c2)
	l.eventually("flood entries in n1's VRF namespace", 20*time.Second, func() (bool, string) {
		return l.fdbHas(vrf1, "vxlan_vneta", "00:00:00:00:00:00", "dst 10.99.0.2")
	})
	l.sh(gA, "ping -c1 -i0.2 -w10 10.1.0.1")
	l.sh(gB, "ping -c1 -i0.2 -w10 10.2.0.1")
	l.eventually("gB's host route in n1's VRF", 5*time.Second, func() (bool, string) {
		out, _ := l.try(vrf1, "ip route show 10.2.0.12")
		return strings.Contains(out, "via 10.99.0.2 dev vrfbr_zn") && strings.Contains(out, "onlink"), out
	})
	l.eventually("n2's router MAC on n1", 5*time.Second, func() (bool, string) {
		return l.neighHas(vrf1, "vrfbr_zn", "10.99.0.2", "extern_learn")
	})
	l.eventually("exit node's default route on n2", 5*time.Second, func() (bool, string) {
		out, _ := l.try(vrf2, "ip route show default")
		return strings.Contains(out, "via 10.99.0.1 dev vrfbr_zn"), out
	})
	l.eventually("exit node's IPv6 default route on n2 (IPv4-mapped VTEP)", 5*time.Second, func() (bool, string) {
		out, _ := l.try(vrf2, "ip -6 route show default")
		return strings.Contains(out, "via fe80::ffff:a63:1 dev vrfbr_zn"), out
	})
	if out, _ := l.try(vrf1, "ip route show default"); strings.Contains(out, "vrfbr_zn") {
		t.Fatalf("exit node n1 took a default route from EVPN: %s", out)
	}
	l.eventually("n2's subnets as type 5 on n1", 5*time.Second, func() (bool, string) {
		out, _ := l.try(vrf1, "ip route show proto bgp")
		return strings.Contains(out, "10.2.0.0/24 via 10.99.0.2"), out
	})
	l.eventually("the exit node's subnets over IPv4 unicast", 5*time.Second, func() (bool, string) {
		s := l.query("n2")
		if s == nil {
			return false, "no state"
		}
		var seen []string
		for _, r := range s.Routes {
			if r.Type == TypeUnicast {
				seen = append(seen, r.Prefix.String()+" via "+r.NextHop.String()+" from "+r.Peer)
				if r.Prefix.String() == "10.1.0.0/24" && r.NextHop.String() == "10.99.0.1" && r.Peer == "10.99.0.1" {
					return true, ""
				}
			}
		}
		return false, strings.Join(seen, "; ")
	})
	l.eventually("the exit node's subnet in n2's main table", 5*time.Second, func() (bool, string) {
		out, _ := l.try(n2, "ip route show 10.1.0.0/24 proto bgp")
		return strings.Contains(out, "via 10.99.0.1 dev u2"), out
	})
	// Across VNets and nodes, both ways.
	l.sh(gA, "ping -c2 -i0.2 -W2 10.2.0.12")
	l.sh(gB, "ping -c2 -i0.2 -W2 10.1.0.11")
}
