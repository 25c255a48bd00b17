package evpn

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// TestUnicastInstall runs three agents in eBGP (the bgp controller's
// ipv4 unicast underlay) and checks what lands in the main tables:
//
//	n1 (AS 65001) =={2 links}== n2 (AS 65002, multipath-relax) -- n3 (AS 65003)
//
// n1 and n3 announce their loopbacks and an anycast /24; n3 also a default.
func TestUnicastInstall(t *testing.T) {
	l := newLab(t, "uc")
	n1, n2, n3 := l.addNS("n1"), l.addNS("n2"), l.addNS("n3")
	l.sh(n1, fmt.Sprintf(`ip link add ea type veth peer name ea netns %[1]s
		ip link add eb type veth peer name eb netns %[1]s`, n2))
	l.sh(n2, "ip link add ec type veth peer name ec netns "+n3)
	l.sh(n1, `ip addr add 10.0.12.1/24 dev ea
		ip addr add 10.0.22.1/24 dev eb
		ip link set ea up
		ip link set eb up
		ip addr add 192.0.2.1/32 dev lo
		ip addr add 198.51.100.1/24 dev lo
		ip addr add fd00:12::1/64 dev ea nodad
		ip addr add fd00::1/128 dev lo nodad`)
	l.sh(n2, `sysctl -qw net.ipv4.ip_forward=1
		ip addr add 10.0.12.2/24 dev ea
		ip addr add 10.0.22.2/24 dev eb
		ip addr add 10.0.23.2/24 dev ec
		ip link set ea up
		ip link set eb up
		ip link set ec up
		ip addr add 192.0.2.2/32 dev lo
		ip addr add fd00:12::2/64 dev ea nodad
		ip route add 192.0.2.3/32 via 10.0.23.3 proto static metric 20
		ip route add default via 10.0.12.1 proto static`)
	l.sh(n3, `ip addr add 10.0.23.3/24 dev ec
		ip link set ec up
		ip addr add 192.0.2.3/32 dev lo
		ip addr add 198.51.100.1/24 dev lo
		ip route add default via 10.0.23.2`)

	v4 := []string{FamilyIPv4}
	ext := func(a string) Neighbor { return Neighbor{Addr: netip.MustParseAddr(a), External: true, Families: v4} }
	pfx := func(l ...string) (out []netip.Prefix) {
		for _, s := range l {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	l.startAgent("n1", Config{Node: "n1", RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65001,
		Neighbors: []Neighbor{ext("10.0.12.2"), ext("10.0.22.2"),
			{Addr: netip.MustParseAddr("fd00:12::2"), External: true, Families: []string{FamilyIPv6}}},
		Networks: pfx("192.0.2.1/32", "198.51.100.0/24", "10.0.12.0/24", "fd00::1/128")})
	n2cfg := Config{Node: "n2", RouterID: netip.MustParseAddr("192.0.2.2"), ASN: 65002, MultipathRelax: true,
		Neighbors: []Neighbor{ext("10.0.12.1"), ext("10.0.22.1"), ext("10.0.23.3"),
			{Addr: netip.MustParseAddr("fd00:12::1"), External: true, Families: []string{FamilyIPv6}}},
		Networks: pfx("192.0.2.2/32")}
	l.startAgent("n2", n2cfg)
	l.startAgent("n3", Config{Node: "n3", RouterID: netip.MustParseAddr("192.0.2.3"), ASN: 65003,
		Neighbors: []Neighbor{ext("10.0.23.2")},
		Networks:  pfx("192.0.2.3/32", "198.51.100.0/24", "0.0.0.0/0", "203.0.113.0/24")})

	route := func(ns, dst string) string {
		out, err := l.try(ns, "ip -4 route show "+dst)
		if err != nil {
			return err.Error()
		}
		return out
	}
	has := func(out string, words ...string) bool {
		for _, w := range words {
			if !strings.Contains(out, w) {
				return false
			}
		}
		return true
	}
	wait := func(what, ns, dst string, cond func(string) bool) {
		l.eventually(what, 30*time.Second, func() (bool, string) {
			out := route(ns, dst)
			return cond(out), out
		})
	}

	// Two sessions from n1 with identical AS paths: ECMP over both links.
	wait("n1's loopback over both links on n2", n2, "192.0.2.1/32", func(o string) bool {
		return has(o, "proto bgp", "metric 20", "nexthop via 10.0.12.1", "nexthop via 10.0.22.1")
	})
	// multipath-relax: the anycast prefix from AS 65001 and AS 65003.
	wait("anycast ECMP over three next hops on n2", n2, "198.51.100.0/24", func(o string) bool {
		return has(o, "proto bgp", "via 10.0.12.1", "via 10.0.22.1", "via 10.0.23.3")
	})
	// n1 learns n3's default through n2 (two sessions: ECMP) and n3 n1's loopback.
	wait("default route on n1", n1, "default", func(o string) bool {
		return has(o, "proto bgp", "metric 20", "via 10.0.12.2", "via 10.0.22.2")
	})
	wait("n1's loopback on n3", n3, "192.0.2.1/32", func(o string) bool {
		return has(o, "192.0.2.1 via 10.0.23.2", "proto bgp", "metric 20")
	})
	// IPv6 unicast over an IPv6 session.
	l.eventually("n1's IPv6 loopback on n2", 30*time.Second, func() (bool, string) {
		out, err := l.try(n2, "ip -6 route show fd00::1/128")
		if err != nil {
			return false, err.Error()
		}
		return has(out, "fd00::1 via fd00:12::1 dev ea proto bgp metric 20"), out
	})
	// The network import check: n3 holds no 203.0.113.0/24, so nobody learns it.
	if out := route(n2, "203.0.113.0/24"); strings.TrimSpace(out) != "" {
		t.Errorf("203.0.113.0/24 is not in n3's table, yet n2 has: %s", out)
	}
	// Routes of other protocols keep the prefix: connected, static, the static default.
	for dst, want := range map[string]string{"10.0.12.0/24": "proto kernel", "192.0.2.3/32": "proto static", "default": "proto static"} {
		out := route(n2, dst)
		if !strings.Contains(out, want) || strings.Contains(out, "proto bgp") {
			t.Errorf("n2 %s: want only the %s route, got:\n%s", dst, want, out)
		}
	}
	// The data plane agrees: n1's loopback reaches n3's through n2.
	if out, err := l.try(n1, "ping -c1 -W2 -I 192.0.2.1 192.0.2.3"); err != nil {
		t.Errorf("ping n1 -> n3 loopback: %v\n%s", err, out)
	}
	// show lists the installed route.
	if s := l.query("n2"); s == nil || !showsRoute(s, "192.0.2.1/32", "10.0.12.1", "10.0.22.1") {
		t.Errorf("agent n2 does not report the installed route for 192.0.2.1/32")
	}

	// A withdrawal shrinks the ECMP group.
	l.sh(n3, "ip addr del 198.51.100.1/24 dev lo")
	wait("anycast without n3", n2, "198.51.100.0/24", func(o string) bool {
		return has(o, "proto bgp", "via 10.0.12.1", "via 10.0.22.1") && !strings.Contains(o, "10.0.23.3")
	})
	// An agent restart adopts what its earlier run installed and, once
	// BGP has re-synced, removes what nobody announces any more.
	l.kill("n2")
	l.sh(n1, "ip addr del 198.51.100.1/24 dev lo")
	if out := route(n2, "198.51.100.0/24"); !strings.Contains(out, "proto bgp") {
		t.Fatalf("n2's routes went with its agent (zebra keeps them too): %s", out)
	}
	l.startAgent("n2", n2cfg)
	wait("stale anycast route removed after the restart", n2, "198.51.100.0/24", func(o string) bool {
		return strings.TrimSpace(o) == ""
	})
	wait("n1's loopback back on n2", n2, "192.0.2.1/32", func(o string) bool {
		return has(o, "proto bgp", "nexthop via 10.0.12.1", "nexthop via 10.0.22.1")
	})
	// A session going down takes its routes out of the kernel.
	l.kill("n1")
	wait("n1's routes gone from n2", n2, "proto bgp", func(o string) bool {
		return !strings.Contains(o, "192.0.2.1/") && !strings.Contains(o, "192.0.2.1 ") &&
			!strings.Contains(o, "198.51.100.0") && !strings.Contains(o, "default")
	})
	// n2 withdraws what it learnt from n1: n3's table loses n1's loopback.
	wait("n1's loopback gone from n3", n3, "192.0.2.1/32", func(o string) bool { return strings.TrimSpace(o) == "" })
}

func showsRoute(s *Snapshot, prefix string, hops ...string) bool {
	for _, e := range s.Kernel {
		if e.Kind == "route" && e.Prefix == prefix && strings.Join(e.NextHop, ",") == strings.Join(hops, ",") {
			return true
		}
	}
	return false
}

func TestMultipath(t *testing.T) {
	nh := netip.MustParseAddr
	best := ucPath{nexthop: nh("10.0.0.1"), ebgp: true, best: true, localPref: 100, asLen: 1, firstAS: 65001, asPath: "65001"}
	other := func(mod func(*ucPath)) ucPath {
		p := best
		p.best = false
		p.nexthop = nh("10.0.0.2")
		mod(&p)
		return p
	}
	relaxOnly := other(func(p *ucPath) { p.firstAS, p.asPath = 65003, "65003" })
	cases := []struct {
		name  string
		paths []ucPath
		relax bool
		want  int
	}{
		{"identical AS path", []ucPath{best, other(func(*ucPath) {})}, false, 2},
		{"other AS without relax", []ucPath{best, relaxOnly}, false, 1},
		{"other AS with relax", []ucPath{best, relaxOnly}, true, 2},
		{"longer AS path", []ucPath{best, other(func(p *ucPath) { p.asLen, p.asPath = 2, "65001 65009" })}, true, 1},
		{"lower local preference", []ucPath{best, other(func(p *ucPath) { p.localPref = 50 })}, true, 1},
		{"different MED same AS", []ucPath{best, other(func(p *ucPath) { p.med = 10 })}, false, 1},
		{"different MED other AS", []ucPath{best, other(func(p *ucPath) { p.med, p.firstAS, p.asPath = 10, 65003, "65003" })}, true, 2},
		{"iBGP and eBGP", []ucPath{best, other(func(p *ucPath) { p.ebgp = false })}, true, 1},
		{"same next hop", []ucPath{best, other(func(p *ucPath) { p.nexthop = best.nexthop })}, false, 1},
		{"no best", []ucPath{other(func(*ucPath) {})}, false, 0},
	}
	for _, c := range cases {
		if got := multipath(c.paths, c.relax); len(got) != c.want {
			t.Errorf("%s: %d next hops %v, want %d", c.name, len(got), got, c.want)
		}
	}
}

// FromPlan reads the bgp controller (eBGP, loopback, multipath-relax) the
// way bgpd reads the frr.conf Proxmox renders for it.
func TestFromPlanBGPController(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"zones.cfg":       "evpn: zb\n\tcontroller ectl\n\tvrf-vxlan 7000\n\tmtu 1450\n",
		"vnets.cfg":       "vnet: vb1\n\tzone zb\n\ttag 7100\n",
		"controllers.cfg": "evpn: ectl\n\tasn 65100\n\tpeers 10.20.0.1,10.20.0.2\n\nbgp: bgpn1\n\tasn 65101\n\tebgp 1\n\tloopback lo\n\tbgp-multipath-as-path-relax 1\n\tnode n1\n\tpeers 172.30.0.254,172.31.0.254\n",
		"interfaces":      "auto lo\niface lo inet loopback\n\taddress 10.20.0.1/32\n\nauto eth0\niface eth0 inet static\n\taddress 172.30.0.1/24\n\nauto eth1\niface eth1 inet static\n\taddress 172.31.0.1/24\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(dir, registry.Config())
	if err != nil {
		t.Fatal(err)
	}
	hi, err := config.ParseInterfaces(filepath.Join(dir, "interfaces"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sdn.Compile(cfg, plan.NodeFacts{Node: "n1", Interfaces: hi})
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromPlan(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.MultipathRelax {
		t.Error("bgp-multipath-as-path-relax not carried over")
	}
	if len(c.Networks) != 1 || c.Networks[0] != netip.MustParsePrefix("10.20.0.1/32") {
		t.Errorf("networks %v, want the loopback 10.20.0.1/32", c.Networks)
	}
	unicast := 0
	for _, n := range c.Neighbors {
		if slices.Contains(n.Families, FamilyIPv4) {
			unicast++
			if !n.External {
				t.Errorf("underlay peer %+v is not eBGP", n)
			}
		}
	}
	if unicast != 2 {
		t.Errorf("neighbors %+v: want the two ipv4 unicast underlay peers", c.Neighbors)
	}
}
