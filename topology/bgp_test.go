package topology

import (
	"context"
	"net/netip"
	"syscall"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBGPResolve checks the BGP configuration a lab file resolves to:
// sessions on the shared segment, announced segments, and no static route
// where BGP brings one.
func TestBGPResolve(t *testing.T) {
	lab, err := Load("testdata/bgprack/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := lab.Router("r1"), lab.Router("r2")
	if r1.BGP == nil || r2.BGP == nil || r1.ASN != 65001 || r2.ASN != 65002 {
		t.Fatalf("asn r1 %d r2 %d", r1.ASN, r2.ASN)
	}
	var nb []string
	for _, n := range r1.BGP.Neighbors {
		nb = append(nb, n.Addr.String()+"/"+n.Local.String())
	}
	if got := strings.Join(nb, " "); got != "192.168.20.254/192.168.20.253 fd10:2::fe/fd10:2::fd" {
		t.Errorf("r1 neighbors %s", got)
	}
	if got := prefixesText(r1.BGPRoutes); got != "192.168.30.0/24 fd10:3::/64" {
		t.Errorf("r1 expects to learn %s", got)
	}
	if got := prefixesText(r2.BGPRoutes); got != "192.168.10.0/24 fd10:1::/64" {
		t.Errorf("r2 expects to learn %s", got)
	}
	for _, rt := range []*Router{r1, r2} {
		for _, ro := range rt.Routes {
			if ro.Dst.Bits() > 0 {
				t.Errorf("%s keeps a static route %s", rt.Name, ro.Dst)
			}
		}
	}
	if n := lab.Node("node1"); n.Link.RPFilter != 1 || n.RPFilter != "strict" {
		t.Errorf("node1 rp_filter %d %q", n.Link.RPFilter, n.RPFilter)
	}

	// Same ASN: iBGP, whose routes are not passed on to another iBGP
	// peer; on two routers that share a segment it still works.
	dir := copyDir(t, "testdata/bgprack")
	f := filepath.Join(dir, "lab.yaml")
	b, _ := os.ReadFile(f)
	os.WriteFile(f, []byte(strings.Replace(string(b), "routing: bgp\n", "routing: bgp\n      asn: 65000\n", 2)), 0o644)
	lab, err = Load(f, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if r1 := lab.Router("r1"); r1.ASN != 65000 || prefixesText(r1.BGPRoutes) != "192.168.30.0/24 fd10:3::/64" {
		t.Errorf("ibgp: r1 asn %d learns %s", r1.ASN, prefixesText(r1.BGPRoutes))
	}
}

// copyDir copies a test lab directory (flat) into a temporary one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func prefixesText(l []netip.Prefix) string {
	var s []string
	for _, p := range l {
		s = append(s, p.String())
	}
	return strings.Join(s, " ")
}

// TestBGPUnderlay brings up three racks joined by two BGP routers: the
// routers learn each other's segments over eBGP (IPv4 and IPv6), nodes in
// different racks reach each other's VTEPs only through those routes,
// guests on a VXLAN VNet talk across the racks over IPv4 and IPv6, and a
// crashed speaker takes its routes with it until up restarts it.
func TestBGPUnderlay(t *testing.T) {
	needRoot(t)
	opts := Options{StateDir: t.TempDir()}
	lab := upLab(t, "testdata/bgprack/lab.yaml", "bg", opts)
	dir := lab.StateDir
	r1, r2 := lab.Router("r1"), lab.Router("r2")
	for _, c := range []struct {
		rt   *Router
		want map[string]string
	}{
		{r1, map[string]string{"192.168.30.0/24": "192.168.20.254", "fd10:3::/64": "fd10:2::fe"}},
		{r2, map[string]string{"192.168.10.0/24": "192.168.20.253", "fd10:1::/64": "fd10:2::fd"}},
	} {
		got, err := LearnedRoutes(c.rt.NS)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range got {
			m[r.Dst.String()] = r.Via.String()
		}
		for dst, via := range c.want {
			if m[dst] != via {
				t.Errorf("%s: BGP route %s via %q, want via %s (have %v)", c.rt.Name, dst, m[dst], via, m)
			}
		}
		if RouterPID(lab, dir, c.rt.Name) == 0 {
			t.Errorf("%s: no BGP speaker running", c.rt.Name)
		}
	}
	mustPing(t, lab, "node1", "192.168.30.3")
	mustPing(t, lab, "node3", "192.168.10.1")
	mustPing(t, lab, "node1", lab.Node("node3").Link.Addrs[1].Addr().String())
	mustPing(t, lab, "vm1", "10.5.0.13")
	mustPing(t, lab, "vm1", "fd00:5::13")
	mustPing(t, lab, "vm3", "fd00:5::11")
	// rp_filter on the nodes' underlay interfaces.
	for _, c := range []struct{ node, dev, want string }{{"node1", "eth0", "1"}, {"node1", "vmbr0", "1"}, {"node3", "vmbr0", "2"}, {"node1", "all", "0"}} {
		v, err := nsutil.ReadSysctl(lab.Node(c.node).NS, "net/ipv4/conf/"+c.dev+"/rp_filter")
		if err != nil || v != c.want {
			t.Errorf("%s: %s rp_filter %q (%v), want %s", c.node, c.dev, v, err, c.want)
		}
	}

	// r2's speaker dies: r1 loses the session and withdraws rack3.
	pid := RouterPID(lab, dir, "r2")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone := false
	for i := 0; i < 400 && !gone; i++ {
		got, _ := LearnedRoutes(r1.NS)
		gone = !hasPrefix(got, netip.MustParsePrefix("192.168.30.0/24"))
		time.Sleep(50 * time.Millisecond)
	}
	if !gone {
		t.Fatal("r1 kept the route to rack3 after r2's speaker died")
	}
	if r, _ := lab.Ping(context.Background(), "node1", netip.MustParseAddr("192.168.30.3"), ping.Opts{Count: 1, Timeout: 300 * time.Millisecond}); r.Received != 0 {
		t.Error("node1 still reaches node3 without r1's BGP route")
	}
	// Up again restarts the missing speaker and waits for the routes.
	if _, err := Up(context.Background(), lab, opts); err != nil {
		t.Fatal(err)
	}
	mustPing(t, lab, "node1", "192.168.30.3")

	// Down kills the speakers.
	pids := []int{RouterPID(lab, dir, "r1"), RouterPID(lab, dir, "r2")}
	if err := Down(context.Background(), lab.Name, opts); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if p == 0 || proc.ProcessAlive(p) {
			t.Errorf("speaker %d: not running before down or alive after it", p)
		}
	}
}

// TestEVPNOverBGPUnderlay runs examples/evpn-racks/bgp.yaml with the real
// node agents: the EVPN sessions between the racks cross two BGP routers,
// and a guest in rack1 reaches a guest in rack2 on the same VNet (stretched
// L2 across the L3 boundary) and one on another VNet (routed, L3VNI).
func TestEVPNOverBGPUnderlay(t *testing.T) {
	needRoot(t)
	bin := sdnlabBinary(t)
	lab := upLab(t, "../examples/evpn-racks/bgp.yaml", "eb", Options{StartAgents: true, AgentPath: bin})
	if r, _ := LearnedRoutes(lab.Router("r1").NS); !hasPrefix(r, netip.MustParsePrefix("192.168.1.0/24")) {
		t.Fatalf("r1 has no BGP route to rack2: %v", r)
	}
	ctx := context.Background()
	var ok bool
	for i := 0; i < 30 && !ok; i++ {
		r, _ := lab.Ping(ctx, "vm11", netip.MustParseAddr("10.0.1.13"), ping.Opts{Count: 1, Timeout: 500 * time.Millisecond})
		ok = r.Received == 1
	}
	if !ok {
		t.Fatal("vm11 (rack1) never reached vm13 (rack2)")
	}
	mustPing(t, lab, "vm13", "10.0.1.11")
	var routed bool
	for i := 0; i < 20 && !routed; i++ {
		r, _ := lab.Ping(ctx, "vm11", netip.MustParseAddr("10.0.2.23"), ping.Opts{Count: 1, Timeout: 500 * time.Millisecond})
		routed = r.Received == 1
	}
	if !routed {
		t.Error("vm11 never reached vm23 on the other VNet (routed over the L3VNI)")
	}
}

// TestIBGPUnderlay: the same racks with both routers in one AS (iBGP on
// the shared segment): the learned routes' next hop is the peer's address
// there, and the racks reach each other.
func TestIBGPUnderlay(t *testing.T) {
	needRoot(t)
	dir := copyDir(t, "testdata/bgprack")
	f := filepath.Join(dir, "lab.yaml")
	b, _ := os.ReadFile(f)
	if err := os.WriteFile(f, []byte(strings.Replace(string(b), "routing: bgp\n", "routing: bgp\n      asn: 65000\n", 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	lab := upLab(t, f, "ib", Options{})
	got, err := LearnedRoutes(lab.Router("r1").NS)
	if err != nil {
		t.Fatal(err)
	}
	var via string
	for _, r := range got {
		if r.Dst.String() == "192.168.30.0/24" {
			via = r.Via.String()
		}
	}
	if via != "192.168.20.254" {
		t.Errorf("r1: iBGP route to rack3 via %q, want 192.168.20.254 (%v)", via, got)
	}
	mustPing(t, lab, "node1", "192.168.30.3")
	mustPing(t, lab, "vm1", "fd00:5::13")
}
