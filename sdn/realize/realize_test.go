package realize

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/realize/softvlan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

const hostIfaces = `auto lo
iface lo inet loopback

iface eth0 inet manual

auto vmbr0
iface vmbr0 inet static
	address 192.168.0.1/24
	gateway 192.168.0.254
	bridge-ports eth0
	bridge-stp off
	bridge-fd 0
`

// compile writes cfg files to a temp dir and compiles node1's plan.
func compile(t *testing.T, files map[string]string) *plan.NodePlan {
	t.Helper()
	dir := t.TempDir()
	for f, c := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(dir, registry.Config())
	if err != nil {
		t.Fatal(err)
	}
	hi, err := config.ParseInterfacesReader("interfaces", strings.NewReader(hostIfaces))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sdn.Compile(cfg, plan.NodeFacts{Node: "node1", Interfaces: hi})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// node makes a node namespace with the host's vmbr0 and returns its target.
func node(t *testing.T, suffix string) (Target, *nsutil.NS) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	name := fmt.Sprintf("sdnlab-t%d-%s", os.Getpid(), suffix)
	n, err := nsutil.OpenNS(name, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		vrfs, _ := nsutil.List(name + "-vrf-")
		for _, v := range append(vrfs, name) {
			nsutil.Delete(v)
		}
	})
	if _, err := n.EnsureBridge("vmbr0", 1500, ""); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAddrs("vmbr0", []netip.Prefix{netip.MustParsePrefix("192.168.0.1/24")}); err != nil {
		t.Fatal(err)
	}
	if err := n.Up("vmbr0"); err != nil {
		t.Fatal(err)
	}
	return Target{
		NS:    name,
		VRFNS: func(z string) string { return name + "-vrf-" + z },
		Keep:  func(d string) bool { return d == "vmbr0" || d == "eth0" },
	}, n
}

var refCaps = nsutil.Caps{Bridge: true, Veth: true, Vxlan: true}

func TestApplySimpleSNAT(t *testing.T) {
	plan := compile(t, map[string]string{
		"zones.cfg":   "simple: s1\n",
		"vnets.cfg":   "vnet: vnet1\n\tzone s1\n",
		"subnets.cfg": "subnet: s1-10.0.10.0-24\n\tvnet vnet1\n\tgateway 10.0.10.1\n\tsnat 1\n",
	})
	tg, n := node(t, "snat")
	rep, err := Apply(context.Background(), tg, plan, refCaps)
	if err != nil {
		t.Fatal(err)
	}
	l, err := n.H.LinkByName("vnet1")
	if err != nil {
		t.Fatalf("vnet1 not created: %v (%+v)", err, rep)
	}
	addrs, _ := n.H.AddrList(l, 2)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.0.10.1/24" {
		t.Errorf("vnet1 addresses %v", addrs)
	}
	if v, _ := nsutil.ReadSysctl(tg.NS, "net.ipv4.conf.vnet1.forwarding"); v != "1" {
		t.Errorf("ip-forward on vnet1: %q", v)
	}
	if v, _ := nsutil.ReadSysctl(tg.NS, "net.ipv4.ip_forward"); v != "1" {
		t.Errorf("ip_forward: %q", v)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(n.Fd)))
	if err != nil {
		t.Fatal(err)
	}
	rules := func() int {
		tables, err := c.ListTables()
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, tb := range tables {
			if tb.Name != NATTable {
				continue
			}
			chains, _ := c.ListChainsOfTableFamily(tb.Family)
			for _, ch := range chains {
				if ch.Table.Name != NATTable {
					continue
				}
				r, _ := c.GetRules(tb, ch)
				total += len(r)
			}
		}
		return total
	}
	if got := rules(); got != 2 {
		t.Errorf("%d nftables rules, want 2 (snat + ct zone)", got)
	}
	// Apply again: same result (the table is replaced, not duplicated).
	if _, err := Apply(context.Background(), tg, plan, refCaps); err != nil {
		t.Fatal(err)
	}
	if got := rules(); got != 2 {
		t.Errorf("after second apply: %d rules", got)
	}
	// SNAT switched off in the config: the rules go, the bridge stays.
	plan2 := compile(t, map[string]string{
		"zones.cfg":   "simple: s1\n",
		"vnets.cfg":   "vnet: vnet1\n\tzone s1\n",
		"subnets.cfg": "subnet: s1-10.0.10.0-24\n\tvnet vnet1\n\tgateway 10.0.10.1\n",
	})
	if _, err := Apply(context.Background(), tg, plan2, refCaps); err != nil {
		t.Fatal(err)
	}
	if got := rules(); got != 0 {
		t.Errorf("after snat off: %d rules", got)
	}
	if _, err := n.H.LinkByName("vnet1"); err != nil {
		t.Error("vnet1 removed")
	}
	if _, err := n.H.LinkByName("vmbr0"); err != nil {
		t.Error("host bridge vmbr0 removed")
	}
}

func TestApplyVlanZoneNamedNotRealized(t *testing.T) {
	plan := compile(t, map[string]string{
		"zones.cfg": "vlan: vz\n\tbridge vmbr0\n\nvxlan: vx\n\tpeers 192.168.0.1,192.168.0.2\n",
		"vnets.cfg": "vnet: vlan100\n\tzone vz\n\ttag 100\n\nvnet: vx1\n\tzone vx\n\ttag 1000\n",
	})
	tg, n := node(t, "vlan")
	rep, err := Apply(context.Background(), tg, plan, refCaps)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range rep.Skipped {
		if strings.Contains(s, "zone vz (vlan)") && strings.Contains(s, "8021q") {
			found = true
		}
	}
	if !found {
		t.Errorf("vlan zone not named as not realized: %v", rep.Skipped)
	}
	if _, err := n.H.LinkByName("vlan100"); err == nil {
		t.Error("vlan zone bridge created without 8021q")
	}
	// The rest comes up.
	if _, err := n.H.LinkByName("vx1"); err != nil {
		t.Errorf("vxlan zone not realized: %v", err)
	}
	if _, err := n.H.LinkByName("vxlan_vx1"); err != nil {
		t.Errorf("vxlan device not realized: %v", err)
	}
}

func TestApplyEVPNVRFNamespace(t *testing.T) {
	plan := compile(t, map[string]string{
		"controllers.cfg": "evpn: ctl\n\tasn 65000\n\tpeers 192.168.0.1,192.168.0.2\n",
		"zones.cfg":       "evpn: ez\n\tcontroller ctl\n\tvrf-vxlan 5000\n\texitnodes node1\n\tmac 02:00:00:00:00:01\n",
		"vnets.cfg":       "vnet: ev1\n\tzone ez\n\ttag 500\n",
		"subnets.cfg":     "subnet: ez-10.0.5.0-24\n\tvnet ev1\n\tgateway 10.0.5.1\n",
	})
	tg, n := node(t, "evpn")
	if _, err := Apply(context.Background(), tg, plan, refCaps); err != nil {
		t.Fatal(err)
	}
	vrf, err := nsutil.OpenNS(tg.VRFNS("ez"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer vrf.Close()
	for _, d := range []string{"ev1", "vxlan_ev1", "vrfbr_ez", "vrfvx_ez", "vrfx_ez"} {
		if _, err := vrf.H.LinkByName(d); err != nil {
			t.Errorf("%s not in the VRF namespace", d)
		}
	}
	for _, d := range []string{"ev1", "vxlan_ev1", "vrfvx_ez"} {
		if _, err := n.H.LinkByName(d); err == nil {
			t.Errorf("%s in the node namespace", d)
		}
	}
	br, _ := vrf.H.LinkByName("ev1")
	if br != nil && br.Attrs().HardwareAddr.String() != "02:00:00:00:00:01" {
		t.Errorf("anycast MAC %s", br.Attrs().HardwareAddr)
	}
	// No longer an exit node: the exit path goes.
	plan2 := compile(t, map[string]string{
		"controllers.cfg": "evpn: ctl\n\tasn 65000\n\tpeers 192.168.0.1,192.168.0.2\n",
		"zones.cfg":       "evpn: ez\n\tcontroller ctl\n\tvrf-vxlan 5000\n\tmac 02:00:00:00:00:01\n",
		"vnets.cfg":       "vnet: ev1\n\tzone ez\n\ttag 500\n",
		"subnets.cfg":     "subnet: ez-10.0.5.0-24\n\tvnet ev1\n\tgateway 10.0.5.1\n",
	})
	if _, err := Apply(context.Background(), tg, plan2, refCaps); err != nil {
		t.Fatal(err)
	}
	if _, err := n.H.LinkByName("vrfx_ez"); err == nil {
		t.Error("exit path left on a node that is no longer an exit node")
	}
	// Zone removed: its VRF namespace goes.
	plan3 := compile(t, map[string]string{"zones.cfg": "simple: s1\n", "vnets.cfg": "vnet: xnet1\n\tzone s1\n"})
	if _, err := Apply(context.Background(), tg, plan3, refCaps); err != nil {
		t.Fatal(err)
	}
	if nsutil.Exists(tg.VRFNS("ez")) {
		t.Error("VRF namespace of a removed zone left")
	}
}

// TestVRFVxlanSocketOnUnderlay checks the point of the VRF-as-namespace
// model: a vxlan device in the VRF namespace has its UDP socket in the node
// namespace (the underlay), and none in the VRF namespace.
func TestVRFVxlanSocketOnUnderlay(t *testing.T) {
	plan := compile(t, map[string]string{
		"controllers.cfg": "evpn: ctl\n\tasn 65000\n\tpeers 192.168.0.1,192.168.0.2\n",
		"zones.cfg":       "evpn: ez\n\tcontroller ctl\n\tvrf-vxlan 5000\n",
		"vnets.cfg":       "vnet: ev1\n\tzone ez\n\ttag 500\n",
	})
	tg, _ := node(t, "sock")
	if _, err := Apply(context.Background(), tg, plan, refCaps); err != nil {
		t.Fatal(err)
	}
	udp4789 := func(ns string) bool {
		found := false
		err := nsutil.Do(ns, func() error {
			b, err := os.ReadFile("/proc/thread-self/net/udp")
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n")[1:] {
				f := strings.Fields(line)
				if len(f) > 1 && strings.HasSuffix(f[1], ":12B5") { // port 4789
					found = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	if !udp4789(tg.NS) {
		t.Error("no VXLAN socket (udp/4789) in the node namespace")
	}
	if udp4789(tg.VRFNS("ez")) {
		t.Error("VXLAN socket in the VRF namespace")
	}
}

// Without 8021q but with tc eBPF, vlan and qinq zones come up from the same
// plan with software VLAN devices; a second Apply keeps them (and their
// hidden ends), and the report names the model of each zone.
func TestApplyVlanQinQSoftware(t *testing.T) {
	plan := compile(t, map[string]string{
		"zones.cfg": "vlan: vz\n\tbridge vmbr0\n\nqinq: qz\n\tbridge vmbr0\n\ttag 20\n\tvlan-protocol 802.1ad\n",
		"vnets.cfg": "vnet: vlan100\n\tzone vz\n\ttag 100\n\nvnet: q1\n\tzone qz\n\ttag 100\n",
	})
	tg, n := node(t, "softvlan")
	la := netlink.NewLinkAttrs()
	la.Name = "eth0"
	if err := n.H.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0p"}); err != nil {
		t.Fatal(err)
	}
	if err := n.SetMaster("eth0", "vmbr0"); err != nil {
		t.Fatal(err)
	}
	if err := n.Up("eth0", "eth0p"); err != nil {
		t.Fatal(err)
	}
	keep := tg.Keep
	tg.Keep = func(d string) bool { return keep(d) || d == "eth0p" }
	caps := refCaps
	caps.TCBPF = true
	for round := 1; round <= 2; round++ {
		rep, err := Apply(context.Background(), tg, plan, caps)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(rep.Models) != 2 || !strings.Contains(rep.Models[0], "software tagging") {
			t.Fatalf("round %d: models %v", round, rep.Models)
		}
		for _, dev := range []string{"vlan100", "vmbr0v100", "eth0.100", "sv_qz", "z_qz", "z_qz.100", "q1",
			softvlan.PeerName("eth0.100"), softvlan.PeerName("sv_qz"), softvlan.PeerName("z_qz.100")} {
			if _, err := n.H.LinkByName(dev); err != nil {
				t.Errorf("round %d: %s missing: %v", round, dev, err)
			}
		}
		for _, lower := range []string{"eth0", "z_qz"} {
			l, err := n.H.LinkByName(lower)
			if err != nil || !softvlan.Attached(n.H, l) {
				t.Errorf("round %d: no tagging program on %s", round, lower)
			}
		}
	}
}

// TestReapplyKeepsControlPlaneFlood: an EVPN VXLAN device's flood list is
// the control plane's (type 3 routes); applying the plan again (`up` on a
// running lab) must leave it, or BUM traffic (a migrated guest's RARP)
// stops crossing the overlay until the agent restarts.
func TestReapplyKeepsControlPlaneFlood(t *testing.T) {
	files := map[string]string{
		"controllers.cfg": "evpn: ctl\n\tasn 65000\n\tpeers 192.168.0.1,192.168.0.2\n",
		"zones.cfg":       "evpn: ez\n\tcontroller ctl\n\tvrf-vxlan 5000\n\tmac 02:00:00:00:00:01\n",
		"vnets.cfg":       "vnet: ev1\n\tzone ez\n\ttag 500\n",
	}
	p := compile(t, files)
	tg, _ := node(t, "evflood")
	if _, err := Apply(context.Background(), tg, p, refCaps); err != nil {
		t.Fatal(err)
	}
	vrf, err := nsutil.OpenNS(tg.VRFNS("ez"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer vrf.Close()
	vx, err := vrf.H.LinkByName("vxlan_ev1")
	if err != nil {
		t.Fatal(err)
	}
	flood := &netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT | netlink.NUD_NOARP,
		Flags: netlink.NTF_SELF, IP: net.ParseIP("192.168.0.2"), HardwareAddr: zeroMAC}
	if err := vrf.H.NeighAppend(flood); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), tg, compile(t, files), refCaps); err != nil {
		t.Fatal(err)
	}
	l, err := vrf.H.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range l {
		if e.HardwareAddr.String() == zeroMAC.String() && e.IP.Equal(net.ParseIP("192.168.0.2")) {
			found = true
		}
	}
	if !found {
		t.Errorf("re-applying the plan removed the control plane's flood entry 00:00:00:00:00:00 dst 192.168.0.2 (left: %v)", l)
	}
}

// TestVxlanIPv6Underlay: a vxlan zone whose peers are IPv6 and whose stanza
// has no local tunnel IP gets the node's IPv6 source towards them (without
// one the kernel makes an IPv4 device and refuses the IPv6 flood entries);
// every VNet of the zone gets it, from one route lookup.
func TestVxlanIPv6Underlay(t *testing.T) {
	files := map[string]string{
		"zones.cfg": "vxlan: vx6\n\tpeers fd00:0:0:1::1,fd00:0:0:1::2,fd00:0:0:1::3\n",
		"vnets.cfg": "vnet: v6a\n\tzone vx6\n\ttag 600\n\nvnet: v6b\n\tzone vx6\n\ttag 601\n",
	}
	p := compile(t, files)
	tg, n := node(t, "vx6")
	src := netip.MustParsePrefix("fd00:0:0:1::1/64")
	if err := n.SetAddrs("vmbr0", []netip.Prefix{netip.MustParsePrefix("192.168.0.1/24"), src}); err != nil {
		t.Fatal(err)
	}
	a := &applier{t: tg, plan: p, caps: refCaps, rep: &Report{}, open: map[string]*nsutil.NS{}}
	defer a.closeAll()
	if err := a.run(context.Background()); err != nil {
		t.Fatalf("apply over an IPv6 underlay: %v", err)
	}
	if len(a.src6) != 1 {
		t.Errorf("route lookups by remote %v, want one for the zone's first remote", a.src6)
	}
	for _, dev := range []string{"vxlan_v6a", "vxlan_v6b"} {
		l, err := n.H.LinkByName(dev)
		if err != nil {
			t.Fatalf("%s: %v", dev, err)
		}
		vx, ok := l.(*netlink.Vxlan)
		if !ok || !vx.SrcAddr.Equal(net.IP(src.Addr().AsSlice())) {
			t.Errorf("%s local %v, want %s", dev, l, src.Addr())
			continue
		}
		fdb, err := n.H.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
		if err != nil {
			t.Fatal(err)
		}
		var flood []string
		for _, e := range fdb {
			if e.HardwareAddr.String() == zeroMAC.String() && e.IP != nil {
				flood = append(flood, e.IP.String())
			}
		}
		slices.Sort(flood)
		// The node facts (hostIfaces) have no IPv6 address: the plan keeps
		// every peer, the local one too.
		if want := []string{"fd00:0:0:1::1", "fd00:0:0:1::2", "fd00:0:0:1::3"}; !slices.Equal(flood, want) {
			t.Errorf("%s flood list %v, want %v", dev, flood, want)
		}
	}
}
