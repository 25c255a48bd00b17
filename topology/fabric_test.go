package topology

import (
	"strings"
	"testing"

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
	// An FRR node runs the fabric in its own FRR; a BGP fabric on an agent
	// node and any WireGuard fabric are refused.
	n.Engine = EngineFRR
	if needsFabricFRR(l, n) {
		t.Error("an FRR node got a second FRR for its fabric")
	}
	l.Config.Fabrics["mesh"].Protocol = "bgp"
	n.Engine = EngineAgent
	if err := checkFabrics(l); err == nil || !strings.Contains(err.Error(), "a BGP fabric runs only on FRR nodes") {
		t.Errorf("bgp on agent: %v", err)
	}
	l.Config.Fabrics["mesh"].Protocol = "wireguard"
	if err := checkFabrics(l); err == nil || !strings.Contains(err.Error(), "no wireguard module") {
		t.Errorf("wireguard: %v", err)
	}
}
