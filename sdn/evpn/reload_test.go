package evpn

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// What only a restart changes is told apart from VNI edits.
func TestSessionChanges(t *testing.T) {
	base := twoNodeConfig("n1", "10.99.0.1", "10.99.0.2")
	vnis := base
	vnis.L2VNIs = append([]L2VNI{}, base.L2VNIs...)
	vnis.L2VNIs = append(vnis.L2VNIs, L2VNI{VNI: 200, Bridge: "br200", VxlanDev: "vx200"})
	vnis.L3VNIs = []L3VNI{{VNI: 5000, Bridge: "vrfbr", VxlanDev: "vrfvx"}}
	if what := sessionChanges(base, vnis); what != "" {
		t.Errorf("VNIs added: %q changed, want nothing the sessions depend on", what)
	}
	peers := base
	peers.Neighbors = append([]Neighbor{}, base.Neighbors...)
	peers.Neighbors = append(peers.Neighbors, Neighbor{Addr: netip.MustParseAddr("10.99.0.3")})
	asn := base
	asn.ASN = 65001
	for want, c := range map[string]Config{"Neighbors": peers, "ASN": asn} {
		if what := sessionChanges(base, c); what != want {
			t.Errorf("%s edited: %q changed", want, what)
		}
	}
}

// TestReloadKeepsSessions: a VNI added to both running agents is used at
// once (flood lists, the guests' MACs) while the session stays up; a VNI
// removed is withdrawn; a new peer is refused as needing a restart.
func TestReloadKeepsSessions(t *testing.T) {
	l := newLab(t, "rl")
	n1 := l.buildL2Node("n1", "10.99.0.1", 100)
	n2 := l.buildL2Node("n2", "10.99.0.2", 100)
	l.linkUnderlay(n1, "u1", n2, "u2")
	a1 := l.startAgent("n1", twoNodeConfig("n1", "10.99.0.1", "10.99.0.2"))
	a2 := l.startAgent("n2", twoNodeConfig("n2", "10.99.0.2", "10.99.0.1"))
	l.eventually("flood entry of VNI 100 on n1", 20*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "00:00:00:00:00:00", "dst 10.99.0.2")
	})
	since := func() time.Time {
		s := l.query("n1")
		if s == nil || len(s.Peers) != 1 || s.Peers[0].State != "Established" {
			t.Fatalf("n1's session: %+v", s)
		}
		return s.Peers[0].Since
	}
	before := since()

	// VNet 200 appears on both nodes, with a guest on each, before the
	// agents hear of it (as `up` plugs guests, then reloads).
	for _, n := range []struct{ ns, vtep string }{{n1, "10.99.0.1"}, {n2, "10.99.0.2"}} {
		l.sh(n.ns, fmt.Sprintf(`
			ip link add br200 type bridge
			ip link set br200 up
			ip link add vx200 type vxlan id 200 local %s dstport 4789 nolearning
			ip link set vx200 mtu 1450 master br200
			bridge link set dev vx200 learning off
			ip link set vx200 up`, n.vtep))
	}
	g1 := l.addGuest("g1", "n1", "tap1", "02:00:00:00:02:11", "10.200.0.11/24", "br200")
	l.addGuest("g2", "n2", "tap2", "02:00:00:00:02:12", "10.200.0.12/24", "br200")
	l.sh(g1, "ping -c1 -W1 10.200.0.12 || true") // learned on n1 now
	with200 := func(c Config) Config {
		c.L2VNIs = append(append([]L2VNI{}, c.L2VNIs...), L2VNI{VNI: 200, Bridge: "br200", VxlanDev: "vx200"})
		return c
	}
	reload := func(a *testAgent, c Config) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := Call(ctx, a.ctl, Request{Reload: &c})
		return err
	}
	for _, x := range []struct {
		a *testAgent
		c Config
	}{{a1, with200(a1.cfg)}, {a2, with200(a2.cfg)}} {
		if err := reload(x.a, x.c); err != nil {
			t.Fatalf("reload adding VNI 200: %v", err)
		}
	}
	l.eventually("flood entry of VNI 200 on n1", 10*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx200", "00:00:00:00:00:00", "dst 10.99.0.2")
	})
	l.eventually("g1's MAC (plugged before the reload) on n2", 10*time.Second, func() (bool, string) {
		return l.fdbHas(n2, "vx200", "02:00:00:00:02:11", "dst 10.99.0.1", "extern_learn")
	})
	l.sh(g1, "ping -c2 -i0.2 -W2 10.200.0.12")
	if after := since(); !after.Equal(before) {
		t.Errorf("the session went down during the reload: up since %v, was %v", after, before)
	}

	// VNI 200 goes again: n2 withdraws it, n1 drops its flood entry.
	if err := reload(a2, a2.cfg); err != nil {
		t.Fatalf("reload removing VNI 200: %v", err)
	}
	l.eventually("VNI 200 withdrawn by n2", 10*time.Second, func() (bool, string) {
		s := l.query("n1")
		for _, r := range s.Routes {
			if r.VNI == 200 && r.Peer != "" {
				return false, fmt.Sprintf("n1 still has %+v", r)
			}
		}
		return true, ""
	})

	// A new peer is a restart's job.
	c := a1.cfg
	c.Neighbors = append(append([]Neighbor{}, c.Neighbors...), Neighbor{Addr: netip.MustParseAddr("10.99.0.3")})
	if err := reload(a1, c); err == nil || !strings.Contains(err.Error(), ErrNeedsRestart.Error()) {
		t.Errorf("reload with a new peer: %v, want %v", err, ErrNeedsRestart)
	}
}
