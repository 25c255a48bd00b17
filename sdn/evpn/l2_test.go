package evpn

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildL2Node makes a node namespace with a VNet bridge, its vxlan port
// and an underlay address.
func (l *lab) buildL2Node(node, underlay string, vni int) string {
	ns := l.addNS(node)
	l.sh(ns, fmt.Sprintf(`
		ip link add br%[1]d type bridge
		ip link set br%[1]d address 02:00:00:aa:00:01
		ip addr add 10.100.0.1/24 dev br%[1]d
		ip link set br%[1]d up
		ip link add vx%[1]d type vxlan id %[1]d local %[2]s dstport 4789 nolearning
		ip link set vx%[1]d mtu 1450 master br%[1]d
		bridge link set dev vx%[1]d learning off neigh_suppress on
		ip link set vx%[1]d up`, vni, underlay))
	return ns
}

// addGuest makes a guest namespace attached to node's bridge through tap.
func (l *lab) addGuest(guest, node, tap, mac, cidr, bridge string) string {
	g := l.addNS(guest)
	ns := l.name(node)
	l.sh(ns, fmt.Sprintf(`
		ip link add %[1]s type veth peer name eth0 netns %[2]s
		ip link set %[1]s master %[3]s up`, tap, g, bridge))
	l.sh(g, fmt.Sprintf(`
		ip link set eth0 address %s mtu 1450
		ip addr add %s dev eth0
		ip link set eth0 up`, mac, cidr))
	return g
}

// addL2Guests attaches guest g1 (02:00:00:00:00:11, 10.100.0.11) to n1's
// br100 and g2 (02:00:00:00:00:12, 10.100.0.12) to n2's.
func (l *lab) addL2Guests() (g1, g2 string) {
	l.t.Helper()
	g1 = l.addGuest("g1", "n1", "tap1", "02:00:00:00:00:11", "10.100.0.11/24", "br100")
	g2 = l.addGuest("g2", "n2", "tap2", "02:00:00:00:00:12", "10.100.0.12/24", "br100")
	return g1, g2
}

func twoNodeConfig(node, self, peer string) Config {
	return Config{
		Node: node, RouterID: netip.MustParseAddr(self), ASN: 65000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr(peer), BFD: true}},
		L2VNIs:    []L2VNI{{VNI: 100, Bridge: "br100", VxlanDev: "vx100", ARPSuppress: true}},
	}
}

// TestTwoNodeL2 runs two agents in two node namespaces: flood lists from
// type 3, remote MACs and MAC+IP from type 2, MAC mobility with sequence
// numbers, and recovery after an agent crash.
func TestTwoNodeL2(t *testing.T) {
	l := newLab(t, "l2")
	n1 := l.buildL2Node("n1", "10.99.0.1", 100)
	n2 := l.buildL2Node("n2", "10.99.0.2", 100)
	l.linkUnderlay(n1, "u1", n2, "u2")
	g1, g2 := l.addL2Guests()

	start := time.Now()
	l.startAgent("n1", twoNodeConfig("n1", "10.99.0.1", "10.99.0.2"))
	l.startAgent("n2", twoNodeConfig("n2", "10.99.0.2", "10.99.0.1"))

	// Type 3 -> flood lists.
	l.eventually("flood entry on n1", 20*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "00:00:00:00:00:00", "dst 10.99.0.2")
	})
	l.eventually("flood entry on n2", 5*time.Second, func() (bool, string) {
		return l.fdbHas(n2, "vx100", "00:00:00:00:00:00", "dst 10.99.0.1")
	})
	t.Logf("session up and flood lists programmed after %v", time.Since(start).Round(time.Millisecond))

	// Type 2: the guests talk to their gateway, nodes learn MAC and MAC+IP.
	l.sh(g1, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.sh(g2, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.eventually("g2's MAC on n1", 5*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "02:00:00:00:00:12", "dst 10.99.0.2", "extern_learn")
	})
	l.eventually("g2's MAC in n1's bridge", 5*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "02:00:00:00:00:12", "master br100", "extern_learn")
	})
	l.eventually("g2's IP on n1 (ARP suppression)", 5*time.Second, func() (bool, string) {
		return l.neighHas(n1, "br100", "10.100.0.12", "02:00:00:00:00:12", "extern_learn")
	})
	l.eventually("g1's MAC on n2", 5*time.Second, func() (bool, string) {
		return l.fdbHas(n2, "vx100", "02:00:00:00:00:11", "dst 10.99.0.1", "extern_learn")
	})
	l.sh(g1, "ping -c2 -i0.2 -W2 10.100.0.12")

	// ARP suppression: with g2's binding installed on n1, g1's ARP for g2
	// is answered by n1's bridge and never crosses the underlay.
	stop := l.tunnelFrames(t, n1, "u1")
	l.sh(g1, "ip neigh flush all && ping -c1 -i0.2 -w10 10.100.0.12")
	if vx, n := stop(); vx == 0 {
		t.Errorf("the capture saw no VXLAN frame on the underlay, not even the ping; cannot tell ARP suppression")
	} else if n != 0 {
		t.Errorf("%d ARP frames crossed the underlay; want 0 (ARP suppression)", n)
	}
	if ok, out := l.neighHas(g1, "eth0", "10.100.0.12", "02:00:00:00:00:12"); !ok {
		t.Errorf("g1 did not resolve g2:\n%s", out)
	}

	// Migrate g2 to n1: its port moves, it announces itself.
	l.sh(n2, "ip link set tap2 netns "+n1)
	l.sh(n1, "ip link set tap2 master br100 up")
	l.sh(g2, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.eventually("n2 points g2's MAC at n1", 5*time.Second, func() (bool, string) {
		return l.fdbHas(n2, "vx100", "02:00:00:00:00:12", "dst 10.99.0.1", "extern_learn")
	})
	l.eventually("n1 advertises g2 with sequence 1", 5*time.Second, func() (bool, string) {
		return routeSeq(l.query("n2"), "02:00:00:00:00:12", "10.99.0.1", 1)
	})
	if ok, out := l.fdbHas(n1, "vx100", "02:00:00:00:00:12", "dst"); ok {
		t.Fatalf("n1 still tunnels g2's MAC after it moved to n1:\n%s", out)
	}
	l.sh(g1, "ping -c2 -i0.2 -W2 10.100.0.12")

	// And back: sequence 2.
	l.sh(n1, "ip link set tap2 netns "+n2)
	l.sh(n2, "ip link set tap2 master br100 up")
	l.sh(g2, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.eventually("n1 points g2's MAC at n2 again", 5*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "02:00:00:00:00:12", "dst 10.99.0.2", "extern_learn")
	})
	l.eventually("n2 advertises g2 with sequence 2", 5*time.Second, func() (bool, string) {
		return routeSeq(l.query("n1"), "02:00:00:00:00:12", "10.99.0.2", 2)
	})
	l.sh(g1, "ping -c2 -i0.2 -W2 10.100.0.12")

	// Crash n1's agent: n2 drops everything n1 advertised.
	l.kill("n1")
	l.eventually("n2 forgets g1's MAC", 5*time.Second, func() (bool, string) {
		ok, out := l.fdbHas(n2, "vx100", "02:00:00:00:00:11")
		return !ok, out
	})
	l.eventually("n2 forgets n1's flood entry", 5*time.Second, func() (bool, string) {
		ok, out := l.fdbHas(n2, "vx100", "00:00:00:00:00:00", "dst 10.99.0.1")
		return !ok, out
	})
	// Restart: the node recovers, and n1's leftover entries are confirmed.
	restart := time.Now()
	l.startAgent("n1", twoNodeConfig("n1", "10.99.0.1", "10.99.0.2"))
	l.eventually("n2 relearns g1's MAC", 30*time.Second, func() (bool, string) {
		return l.fdbHas(n2, "vx100", "02:00:00:00:00:11", "dst 10.99.0.1", "extern_learn")
	})
	t.Logf("restarted agent's routes back on its peer after %v", time.Since(restart).Round(time.Millisecond))
	l.eventually("n1 keeps g2's MAC", 10*time.Second, func() (bool, string) {
		s := l.query("n1")
		if s == nil || !s.Synced {
			return false, "not synced"
		}
		return l.fdbHas(n1, "vx100", "02:00:00:00:00:12", "dst 10.99.0.2")
	})
	l.sh(g1, "ping -c2 -i0.2 -W2 10.100.0.12")
	s := l.query("n2")
	if s == nil || len(s.Peers) != 1 || s.Peers[0].State != "Established" {
		t.Fatalf("n2 peers: %+v", s)
	}

	// Freeze n1's agent: TCP stays open, only BFD can tell. The hold timer
	// (9 s) would take longer than this wait.
	l.eventually("BFD up on n2", 10*time.Second, func() (bool, string) {
		s := l.query("n2")
		return s != nil && len(s.Peers) == 1 && s.Peers[0].BFD == "Up", fmt.Sprintf("%+v", s)
	})
	_ = l.agents["n1"].cmd.Process.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	l.eventually("n2 drops the frozen node's MACs", 5*time.Second, func() (bool, string) {
		ok, out := l.fdbHas(n2, "vx100", "02:00:00:00:00:11")
		return !ok, out
	})
	t.Logf("frozen node's routes gone from its peer after %v (BFD 300 ms x 3)", time.Since(frozen).Round(time.Millisecond))
	_ = l.agents["n1"].cmd.Process.Signal(syscall.SIGCONT)
}

// routeSeq checks that a snapshot holds a type 2 route for mac from vtep
// with sequence seq.
func routeSeq(s *Snapshot, mac, vtep string, seq uint32) (bool, string) {
	if s == nil {
		return false, "no snapshot"
	}
	var seen []string
	for _, r := range s.Routes {
		if r.Type == TypeMACIP && r.MAC == mac {
			seen = append(seen, fmt.Sprintf("%s seq=%d nh=%s", r.RD, r.Seq, r.NextHop))
			if r.NextHop.String() == vtep && r.Seq == seq {
				return true, ""
			}
		}
	}
	return false, strings.Join(seen, "; ")
}
