package evpn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
	"github.com/sdnlab/sdnlab/sdn/render"
)

// frrNode is an FRR instance (Debian's frr 8.4) running in a node
// namespace under its own pathspace (/etc/frr/<name>, /var/run/frr/<name>).
type frrNode struct {
	name, ns, node string
}

func needFRR(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/frr/frrinit.sh"); err != nil {
		t.Skip("FRR is not installed (apt-get install frr); .ci/run installs it")
	}
}

// startFRR writes conf as the node's integrated frr.conf and starts zebra,
// bgpd and bfdd inside the node's namespace with the datacenter profile.
func (l *lab) startFRR(node, conf string) *frrNode {
	l.t.Helper()
	return l.startFRRWith(node, conf, "", nil)
}

// startFRRWith also passes zebraOpts and, for namespace VRFs (zebra -n),
// gives the daemons a private /run/netns holding only vrfs (FRR's VRF name
// -> the namespace's real name), so zebra adopts no other namespace.
func (l *lab) startFRRWith(node, conf, zebraOpts string, vrfs map[string]string) *frrNode {
	l.t.Helper()
	f := &frrNode{name: strings.ReplaceAll(l.prefix, "-", "") + node, ns: l.name(node), node: node}
	etc := filepath.Join("/etc/frr", f.name)
	run := filepath.Join("/var/run/frr", f.name)
	l.t.Cleanup(func() { f.stop(l) })
	for _, d := range []string{etc, run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			l.t.Fatal(err)
		}
	}
	daemons := `zebra=yes
bgpd=yes
bfdd=yes
vtysh_enable=yes
frr_profile="datacenter"
zebra_options="  -A 127.0.0.1 -s 90000000 ZEBRAOPTS"
bgpd_options="   -A 127.0.0.1"
bfdd_options="   -A 127.0.0.1"
`
	daemons = strings.Replace(daemons, "ZEBRAOPTS", zebraOpts, 1)
	files := map[string]string{
		"daemons":    daemons,
		"frr.conf":   conf,
		"vtysh.conf": "service integrated-vtysh-config\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(etc, n), []byte(c), 0o640); err != nil {
			l.t.Fatal(err)
		}
	}
	_ = exec.Command("chown", "-R", "frr:frr", etc, run).Run()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script := fmt.Sprintf("hostname %s && /usr/lib/frr/frrinit.sh start %s", node, f.name)
	args := []string{"--uts"}
	if len(vrfs) > 0 {
		var b strings.Builder
		hold := filepath.Join(run, "ns")
		fmt.Fprintf(&b, "set -e; mkdir -p %s; ", hold)
		for name, real := range vrfs {
			fmt.Fprintf(&b, "touch %[1]s/%[2]s; mount --bind %[3]s %[1]s/%[2]s; ", hold, name, nsutil.Path(real))
		}
		b.WriteString("mount -t tmpfs sdnlab-frr /run/netns; ")
		for name := range vrfs {
			fmt.Fprintf(&b, "touch /run/netns/%[2]s; mount --bind %[1]s/%[2]s /run/netns/%[2]s; ", hold, name)
		}
		script = b.String() + script
		args = append(args, "--mount", "--propagation", "private")
	}
	out, err := nsutil.Output(ctx, f.ns, append(append([]string{"unshare"}, args...), "sh", "-c", script)...)
	if err != nil {
		l.t.Fatalf("start frr on %s: %v\n%s", node, err, out)
	}
	return f
}

func (f *frrNode) stop(l *lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if l.t.Failed() {
		for _, c := range []string{"show bgp l2vpn evpn summary", "show bgp l2vpn evpn route", "show evpn mac vni all", "show bfd peers brief"} {
			out, _ := f.vtysh(c)
			l.t.Logf("frr %s: %s\n%s", f.node, c, out)
		}
		b, _ := os.ReadFile(filepath.Join("/var/run/frr", f.name, "frr.log"))
		l.t.Logf("frr log:\n%s", tail(string(b), 3000))
	}
	_, _ = nsutil.Output(ctx, f.ns, "/usr/lib/frr/frrinit.sh", "stop", f.name)
	_ = os.RemoveAll(filepath.Join("/etc/frr", f.name))
	_ = os.RemoveAll(filepath.Join("/var/run/frr", f.name))
}

func (f *frrNode) vtysh(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := nsutil.Output(ctx, f.ns, "vtysh", "-N", f.name, "-c", cmd)
	return string(b), err
}

// proxmoxFRRConf is what `sdnlab render` writes for an EVPN node with iBGP
// peers (the VTEP peer group, bfd, route maps), trimmed to one zone
// without a VRF.
func proxmoxFRRConf(node, self string, peers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `frr defaults datacenter
hostname %s
log file /var/run/frr/%%NAME%%/frr.log informational
service integrated-vtysh-config
!
router bgp 65000
 bgp router-id %s
 no bgp hard-administrative-reset
 no bgp default ipv4-unicast
 coalesce-time 1000
 no bgp graceful-restart notification
 neighbor VTEP peer-group
 neighbor VTEP remote-as 65000
 neighbor VTEP bfd
`, node, self)
	for _, p := range peers {
		fmt.Fprintf(&b, " neighbor %s peer-group VTEP\n", p)
	}
	b.WriteString(` !
 address-family l2vpn evpn
  neighbor VTEP activate
  neighbor VTEP route-map MAP_VTEP_IN in
  neighbor VTEP route-map MAP_VTEP_OUT out
  advertise-all-vni
 exit-address-family
exit
!
route-map MAP_VTEP_IN permit 1
exit
!
route-map MAP_VTEP_OUT permit 1
exit
!
line vty
!
`)
	return b.String()
}

// TestFRRInterop: node n1 runs FRR 8.4, node n2 an sdnlab agent. Sessions
// establish, each side installs the other's type 2 and type 3 routes,
// guests ping across, and a MAC moved from the FRR node to the sdnlab node
// and back converges with sequence numbers 1 and 2.
func TestFRRInterop(t *testing.T) {
	needRoot(t)
	needFRR(t)
	l := newLab(t, "fi")
	n1 := l.buildL2Node("n1", "10.99.0.1", 100)
	n2 := l.buildL2Node("n2", "10.99.0.2", 100)
	l.linkUnderlay(n1, "u1", n2, "u2")
	g1, g2 := l.addL2Guests()

	name := strings.ReplaceAll(l.prefix, "-", "") + "n1"
	fr := l.startFRR("n1", strings.ReplaceAll(proxmoxFRRConf("n1", "10.99.0.1", "10.99.0.2"), "%NAME%", name))
	l.startAgent("n2", twoNodeConfig("n2", "10.99.0.2", "10.99.0.1"))

	l.eventually("session with FRR", 60*time.Second, func() (bool, string) {
		s := l.query("n2")
		if s == nil || len(s.Peers) == 0 {
			return false, "no state"
		}
		return s.Peers[0].State == "Established", s.Peers[0].State
	})
	l.eventually("FRR's type 3 on the sdnlab node", 10*time.Second, func() (bool, string) {
		return l.fdbHas(n2, "vx100", "00:00:00:00:00:00", "dst 10.99.0.1")
	})
	l.eventually("sdnlab's type 3 on the FRR node", 10*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "00:00:00:00:00:00", "dst 10.99.0.2")
	})
	l.sh(g1, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.sh(g2, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.eventually("FRR's MAC on the sdnlab node", 10*time.Second, func() (bool, string) {
		return l.fdbHas(n2, "vx100", "02:00:00:00:00:11", "dst 10.99.0.1", "extern_learn")
	})
	l.eventually("FRR's MAC+IP on the sdnlab node", 10*time.Second, func() (bool, string) {
		return l.neighHas(n2, "br100", "10.100.0.11", "02:00:00:00:00:11")
	})
	l.eventually("sdnlab's MAC on the FRR node", 10*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "02:00:00:00:00:12", "dst 10.99.0.2")
	})
	l.eventually("sdnlab's MAC+IP on the FRR node", 10*time.Second, func() (bool, string) {
		return l.neighHas(n1, "br100", "10.100.0.12", "02:00:00:00:00:12")
	})
	l.sh(g1, "ping -c2 -i0.2 -W2 10.100.0.12")

	// Move g1 from the FRR node to the sdnlab node: sequence 1.
	l.sh(n1, "ip link set tap1 netns "+n2)
	l.sh(n2, "ip link set tap1 master br100 up")
	l.sh(g1, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.eventually("FRR points g1 at the sdnlab node", 10*time.Second, func() (bool, string) {
		return l.fdbHas(n1, "vx100", "02:00:00:00:00:11", "dst 10.99.0.2")
	})
	l.eventually("FRR sees sequence 1", 10*time.Second, func() (bool, string) {
		// Columns: MAC, type, VTEP, local/remote sequence numbers.
		out, _ := fr.vtysh("show evpn mac vni 100")
		return linesHave(out, "02:00:00:00:00:11", "remote", "10.99.0.2", "/1"), out
	})
	l.sh(g1, "ping -c2 -i0.2 -W2 10.100.0.12")

	// And back to the FRR node: FRR must bump to 2, the agent follow.
	l.sh(n2, "ip link set tap1 netns "+n1)
	l.sh(n1, "ip link set tap1 master br100 up")
	l.sh(g1, "ping -c1 -i0.2 -w10 10.100.0.1")
	l.eventually("sdnlab points g1 at the FRR node with sequence 2", 10*time.Second, func() (bool, string) {
		ok, info := routeSeq(l.query("n2"), "02:00:00:00:00:11", "10.99.0.1", 2)
		if !ok {
			return false, info
		}
		return l.fdbHas(n2, "vx100", "02:00:00:00:00:11", "dst 10.99.0.1", "extern_learn")
	})
	l.sh(g2, "ping -c2 -i0.2 -W2 10.100.0.11")
	l.eventually("FRR advertises g1 with sequence 2", 10*time.Second, func() (bool, string) {
		out, _ := fr.vtysh("show evpn mac vni 100")
		return linesHave(out, "02:00:00:00:00:11", "local", "2/1"), out
	})
	out, _ := fr.vtysh("show bfd peers brief")
	if !strings.Contains(out, "10.99.0.2") || !strings.Contains(out, "up") {
		t.Errorf("FRR's BFD session with the agent is not up:\n%s", out)
	}
}

// l3LabConfig is the Proxmox SDN configuration of the two-node L3 lab:
// zone "zn" with L3VNI 1000, VNets vneta (VNI 100) and vnetb (VNI 200),
// advertise-subnets, an anycast MAC.
var l3LabConfig = map[string]string{
	"controllers.cfg": "evpn: ctl\n\tasn 65000\n\tpeers 10.99.0.1,10.99.0.2\n",
	"zones.cfg":       "evpn: zn\n\tcontroller ctl\n\tvrf-vxlan 1000\n\tadvertise-subnets 1\n\tmac 02:00:00:aa:00:01\n\tipam pve\n",
	"vnets.cfg":       "vnet: vneta\n\tzone zn\n\ttag 100\n\nvnet: vnetb\n\tzone zn\n\ttag 200\n",
	"subnets.cfg": "subnet: zn-10.1.0.0-24\n\tvnet vneta\n\tgateway 10.1.0.1\n\n" +
		"subnet: zn-10.2.0.0-24\n\tvnet vnetb\n\tgateway 10.2.0.1\n",
}

// compileNode compiles l3LabConfig for node (underlay address addr on u1).
func (l *lab) compileNode(node, addr string) *plan.NodePlan {
	l.t.Helper()
	dir := filepath.Join(l.dir, "sdn")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	for n, c := range l3LabConfig {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			l.t.Fatal(err)
		}
	}
	cfg, err := config.Load(dir, registry.Config())
	if err != nil {
		l.t.Fatal(err)
	}
	ifaces := fmt.Sprintf("auto lo\niface lo inet loopback\n\nauto u1\niface u1 inet static\n\taddress %s/24\n", addr)
	hi, err := config.ParseInterfacesReader("interfaces."+node, strings.NewReader(ifaces))
	if err != nil {
		l.t.Fatal(err)
	}
	plan, err := sdn.Compile(cfg, plan.NodeFacts{Node: node, Interfaces: hi})
	if err != nil {
		l.t.Fatal(err)
	}
	return plan
}

// TestFRRInteropL3: node n1 runs FRR 8.4 with the frr.conf sdnlab renders
// for it and namespace VRFs (zebra -n); node n2 runs an agent configured
// from its compiled plan. Type 5 prefixes and type 2 host routes (L3VNI
// label, router MAC) go both ways and guests in different VNets on the two
// nodes reach each other through the L3VNI.
func TestFRRInteropL3(t *testing.T) {
	needRoot(t)
	needFRR(t)
	l := newLab(t, "fl")
	n1, vrf1 := l.buildL3Node("n1", "10.99.0.1")
	n2, vrf2 := l.buildL3Node("n2", "10.99.0.2")
	l.linkUnderlay(n1, "u1", n2, "u1")
	gA, gB := l.addL3Guests()

	name := strings.ReplaceAll(l.prefix, "-", "") + "n1"
	conf := render.FRR(l.compileNode("n1", "10.99.0.1"), "8.4.4") // the Debian 12 FRR this test runs
	conf = strings.Replace(conf, "log syslog informational", "log file /var/run/frr/"+name+"/frr.log informational", 1)
	fr := l.startFRRWith("n1", conf, "-n", map[string]string{"vrf_zn": vrf1})

	c2, err := FromPlan(l.compileNode("n2", "10.99.0.2"), func(zone string) string { return l.name("n2-vrf-" + zone) })
	if err != nil {
		t.Fatal(err)
	}
	l.startAgent("n2", c2)

	l.eventually("session with FRR", 60*time.Second, func() (bool, string) {
		s := l.query("n2")
		if s == nil || len(s.Peers) == 0 {
			return false, "no state"
		}
		return s.Peers[0].State == "Established", s.Peers[0].State
	})
	l.sh(gA, "ping -c1 -i0.2 -w10 10.1.0.1")
	l.sh(gB, "ping -c1 -i0.2 -w10 10.2.0.1")
	l.eventually("FRR's type 5 in the agent's VRF", 15*time.Second, func() (bool, string) {
		out, _ := l.try(vrf2, "ip route show proto bgp")
		return strings.Contains(out, "10.1.0.0/24 via 10.99.0.1 dev vrfbr_zn"), out
	})
	l.eventually("FRR's host route (type 2 with L3VNI) in the agent's VRF", 15*time.Second, func() (bool, string) {
		out, _ := l.try(vrf2, "ip route show 10.1.0.11")
		return strings.Contains(out, "via 10.99.0.1 dev vrfbr_zn"), out
	})
	l.eventually("the agent's host route in FRR's VRF", 15*time.Second, func() (bool, string) {
		out, _ := l.try(vrf1, "ip route show 10.2.0.12")
		return strings.Contains(out, "via 10.99.0.2 dev vrfbr_zn"), out
	})
	l.eventually("the agent's type 5 (advertise-subnets) at FRR", 15*time.Second, func() (bool, string) {
		out, _ := fr.vtysh("show bgp l2vpn evpn route rd 10.99.0.2:1")
		return strings.Contains(out, "[5]:[0]:[24]:[10.2.0.0]"), out
	})
	l.sh(gA, "ping -c2 -i0.2 -W2 10.2.0.12")
	l.sh(gB, "ping -c2 -i0.2 -W2 10.1.0.11")
}
