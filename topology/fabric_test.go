package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/topology/frrnode"

	"github.com/sdnlab/sdnlab/sdn"
)

// An agent node's FRR for its fabric: the fabric part of its frr.conf
// (no BGP: the agent speaks it), fabricd without bgpd and bfdd, and the
// lab file's LSP generation interval as a lab addition, not in frr.conf.
func TestFabricInstance(t *testing.T) {
	l, err := Load("../examples/evpn-fabric/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	n := l.Node("node1")
	if !needsFabricFRR(l, n) {
		t.Fatal("node1 (agent) needs no fabric FRR")
	}
	in := fabricInstance(l, n, t.TempDir())
	for _, want := range []string{"router openfabric mesh\n", "interface dummy_mesh\n", "interface ens19\n", "ip protocol openfabric route-map pve_openfabric\n"} {
		if !strings.Contains(in.Conf, want) {
			t.Errorf("fabric conf lacks %q:\n%s", want, in.Conf)
		}
	}
	if strings.Contains(in.Conf, "router bgp") || strings.Join(in.Daemons, ",") != "fabricd" || len(in.Additions) != 0 {
		t.Errorf("daemons %v, additions %v, conf:\n%s", in.Daemons, in.Additions, in.Conf)
	}
	l.LSPGenInterval = 1
	if got := strings.Join(fabricAdditions(l, l.Plans["node1"]), "|"); got != "router openfabric mesh| lsp-gen-interval 1|exit" {
		t.Errorf("additions %q", got)
	}
	// Every member routes to both others' router IPs, v4 and v6.
	if got := fabricTargets(l)["node2"]; len(got) != 4 {
		t.Errorf("node2's targets %v", got)
	}
	// An FRR node runs the fabric in its own FRR.
	n.Engine = EngineFRR
	if needsFabricFRR(l, n) {
		t.Error("an FRR node got a second FRR for its fabric")
	}
	n.Engine = EngineAgent
	// Without wireguard-go (no PATH to it) a WireGuard fabric is refused
	// before anything is built, and the message says what to install.
	l.Config.Fabrics["mesh"].Protocol = "wireguard"
	t.Setenv("PATH", t.TempDir())
	if err := checkFabrics(l); err == nil || !strings.Contains(err.Error(), "apt-get install wireguard-go") {
		t.Errorf("wireguard: %v", err)
	}
}

// A BGP fabric on an agent node: bgpd and bfdd beside the agent with the
// fabric's unnumbered sessions alone (no VTEP peers, no l2vpn evpn, no
// VRF instance), and the agent listening on its loopback only, as the
// user that owns that FRR's files.
func TestFabricInstanceBGP(t *testing.T) {
	l, err := Load("../scenarios/testdata/labs/bgpmeshmix/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFabrics(l); err != nil {
		t.Fatal(err)
	}
	n := l.Node("node1")
	if !needsFabricFRR(l, n) || needsFabricFRR(l, l.Node("node2")) {
		t.Fatal("node1 (agent) needs the fabric FRR, node2 (FRR) does not")
	}
	dir := t.TempDir()
	in := fabricInstance(l, n, dir)
	for _, want := range []string{"router bgp 65000\n", " neighbor mesh local-as 65101 no-prepend replace-as\n", " neighbor ens19 interface peer-group mesh\n",
		"  network 10.10.10.1/32\n", "  neighbor mesh activate\n", "ip protocol bgp route-map pve_bgp\n"} {
		if !strings.Contains(in.Conf, want) {
			t.Errorf("fabric conf lacks %q:\n%s", want, in.Conf)
		}
	}
	for _, not := range []string{"neighbor VTEP", "l2vpn evpn", "vrf vrf_", "advertise-all-vni"} {
		if strings.Contains(in.Conf, not) {
			t.Errorf("fabric conf has %q:\n%s", not, in.Conf)
		}
	}
	if got := strings.Join(in.Daemons, ","); got != "bgpd,bfdd" || in.Role != frrnode.RoleFabricOnly {
		t.Errorf("daemons %s, role %q", got, in.Role)
	}
	// The agent's side: without the fabric's FRR there is nothing to
	// share with; with it, the loopback only, as that FRR's user.
	if _, err := AgentConfig(l.Name, dir, "node1", l.Plans["node1"]); err == nil {
		t.Error("agent config without the fabric's FRR files")
	}
	conf := filepath.Join(FRRDir(dir, "node1"), "etc", "frr.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(in.Conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := AgentConfig(l.Name, dir, "node1", l.Plans["node1"])
	if err != nil {
		t.Fatal(err)
	}
	sp := cfg.SharedPorts
	if sp == nil || sp.UID != os.Getuid() || fmt.Sprint(sp.Addrs) != "[10.10.10.1]" {
		t.Errorf("shared ports %+v", sp)
	}
	if len(cfg.Neighbors) != 2 {
		t.Errorf("agent neighbours %+v: want the two VTEPs only", cfg.Neighbors)
	}
	// A node without a BGP fabric shares nothing.
	e, err := Load("../examples/evpn-fabric/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := AgentConfig(e.Name, dir, "node1", e.Plans["node1"]); err != nil || cfg.SharedPorts != nil {
		t.Errorf("openfabric node: %+v, %v", cfg.SharedPorts, err)
	}
}
