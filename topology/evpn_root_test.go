package topology

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/ping"
)

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  string
)

// sdnlabBinary builds the sdnlab command once per test run, for tests that
// need the real node agent; the test fails when it cannot be built.
func sdnlabBinary(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sdnlab-topotest-")
		if err != nil {
			agentErr = err.Error()
			return
		}
		bin := filepath.Join(dir, "sdnlab")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/sdnlab/sdnlab/cmd/sdnlab").CombinedOutput()
		if err != nil {
			agentErr = "go build ./cmd/sdnlab: " + err.Error() + ": " + string(out)
			return
		}
		agentBin = bin
	})
	if agentBin == "" {
		// A broken build is a failure, not a reason to check nothing.
		t.Fatalf("no sdnlab binary for the node agent: %s", agentErr)
	}
	return agentBin
}

// TestExitNodeLocalRouting checks the exitnodes-local-routing veth pair:
// xvrf_<zone> in the exit node with 10.255.255.1/30, xvrfp_<zone> in the
// zone's VRF with 10.255.255.2/30, the node's route to the zone's subnets
// over it (FRR's `ip route ... 10.255.255.2 xvrf_<zone>`), and the exit
// node itself reaching a guest through it. A non-exit node has none of it.
func TestExitNodeLocalRouting(t *testing.T) {
	needRoot(t)
	lab := upLab(t, "testdata/evlocal/lab.yaml", "xl", Options{})
	vrf := VRFNS(lab.Name, "node1", "lzone")
	nh, err := nsutil.Handle(lab.Node("node1").NS)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	vh, err := nsutil.Handle(vrf)
	if err != nil {
		t.Fatal(err)
	}
	defer vh.Close()
	for _, c := range []struct {
		h          *netlink.Handle
		dev, addr  string
		notElsewhr *netlink.Handle
	}{{nh, "xvrf_lzone", "10.255.255.1", vh}, {vh, "xvrfp_lzone", "10.255.255.2", nh}} {
		l, err := c.h.LinkByName(c.dev)
		if err != nil {
			t.Fatalf("%s: %v", c.dev, err)
		}
		if _, ok := l.(*netlink.Veth); !ok {
			t.Errorf("%s is a %s, want a veth", c.dev, l.Type())
		}
		addrs, _ := c.h.AddrList(l, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IP.String() != c.addr {
			t.Errorf("%s: addresses %v, want %s/30", c.dev, addrs, c.addr)
		}
		if _, err := c.notElsewhr.LinkByName(c.dev); err == nil {
			t.Errorf("%s is on both sides", c.dev)
		}
	}
	rs, err := nh.RouteGet(netipIP("10.7.0.11"))
	if err != nil || len(rs) == 0 {
		t.Fatalf("route get: %v", err)
	}
	if l, _ := nh.LinkByIndex(rs[0].LinkIndex); l == nil || l.Attrs().Name != "xvrf_lzone" || rs[0].Gw.String() != "10.255.255.2" {
		t.Errorf("node1 routes the zone's subnet via %v dev %v, want 10.255.255.2 dev xvrf_lzone", rs[0].Gw, rs[0].LinkIndex)
	}
	n2, _ := nsutil.Handle(lab.Node("node2").NS)
	defer n2.Close()
	if _, err := n2.LinkByName("xvrf_lzone"); err == nil {
		t.Error("node2 (not an exit node) has xvrf_lzone")
	}
	// The exit node pings its own guest; the echo goes through the xvrf pair.
	stop := capture(t, vrf, "xvrfp_lzone")
	mustPing(t, lab, "node1", "10.7.0.11")
	var seen int
	for _, p := range stop() {
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && p.Layer(layers.LayerTypeICMPv4) != nil && ip.DstIP.String() == "10.7.0.11" {
			seen++
		}
	}
	if seen < 3 {
		t.Errorf("saw %d echo requests to vm1 on xvrfp_lzone, want 3", seen)
	}
}

// TestEVPNIPv6Guests runs the real node agents on the evlocal lab: a guest
// with an IPv6 address on an EVPN VNet with an IPv6 subnet pings a guest
// on the other node (and IPv4 too).
func TestEVPNIPv6Guests(t *testing.T) {
	needRoot(t)
	bin := sdnlabBinary(t)
	lab := upLab(t, "testdata/evlocal/lab.yaml", "e6", Options{StartAgents: true, AgentPath: bin})
	for _, n := range lab.Nodes {
		if AgentPID(lab, lab.StateDir, n.Name) == 0 {
			t.Fatalf("node %s: no agent running", n.Name)
		}
	}
	ctx := context.Background()
	// EVPN sessions take a second or two: wait for the first echo.
	var ok bool
	for i := 0; i < 30 && !ok; i++ {
		r, _ := lab.Ping(ctx, "vm1", netip.MustParseAddr("fd00:7::12"), ping.Opts{Count: 1, Timeout: 500 * 1e6})
		ok = r.Received == 1
	}
	if !ok {
		t.Fatal("vm1 never reached vm2 over IPv6")
	}
	mustPing(t, lab, "vm1", "fd00:7::12")
	mustPing(t, lab, "vm2", "fd00:7::11")
	mustPing(t, lab, "vm1", "10.7.0.12")
	mustPing(t, lab, "vm2", "fd00:7::1") // the anycast gateway on node2
}

func netipIP(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

// TestIPv6SNAT: a guest on a subnet with snat 1 reaches a dual-stack
// external host over IPv4 and IPv6, and the host sees the node's underlay
// addresses as the sources (nftables SNAT in tables ip and ip6).
func TestIPv6SNAT(t *testing.T) {
	needRoot(t)
	lab := upLab(t, "testdata/snat6/lab.yaml", "s6", Options{})
	inet := lab.Host("inet")
	stop := capture(t, inet.NS, inet.Link.Ifname)
	mustPing(t, lab, "vm1", "203.0.113.10")
	mustPing(t, lab, "vm1", "2001:db8:113::10")
	node := lab.Node("node1")
	want := map[string]bool{famAddr(node.Link.Addrs, true).String(): true, famAddr(node.Link.Addrs, false).String(): true}
	srcs := map[string]bool{}
	for _, p := range stop() {
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && p.Layer(layers.LayerTypeICMPv4) != nil && ip.DstIP.String() == "203.0.113.10" {
			srcs[ip.SrcIP.String()] = true
		}
		if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok && ip.DstIP.String() == "2001:db8:113::10" {
			if icmp, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok && icmp.TypeCode.Type() == layers.ICMPv6TypeEchoRequest {
				srcs[ip.SrcIP.String()] = true
			}
		}
	}
	if len(srcs) != 2 || !srcs[famAddr(node.Link.Addrs, true).String()] || !srcs[famAddr(node.Link.Addrs, false).String()] {
		t.Errorf("echo requests reached the external host from %v, want only the node's addresses %v (SNAT)", srcs, want)
	}
}
