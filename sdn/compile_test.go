package sdn_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// load writes files into a temp config dir and loads it.
func load(t testing.TB, files map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(dir, registry.Config())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

func hostFacts(t testing.TB, node, text string) plan.NodeFacts {
	t.Helper()
	hi, err := config.ParseInterfacesReader("interfaces", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return plan.NodeFacts{Node: node, Interfaces: hi}
}

const linuxHost = `auto vmbr0
iface vmbr0 inet static
	address 10.10.10.11/24
	gateway 10.10.10.1
	bridge-ports eno1
`

const ovsHost = `auto eno1
iface eno1 inet manual
	ovs_type OVSPort
	ovs_bridge vmbr0

auto vmbr0
iface vmbr0 inet manual
	ovs_type OVSBridge
	ovs_ports eno1
`

func names(p *plan.NodePlan) []string {
	var out []string
	for _, i := range p.Ifaces {
		out = append(out, i.Name)
	}
	return out
}

// A VNet Proxmox cannot generate (its zone's bridge is missing) is skipped
// with a note; the others are still generated.
func TestCompileSkipsBrokenVNet(t *testing.T) {
	cfg := load(t, map[string]string{
		"zones.cfg": "vlan: good\n\tbridge vmbr0\n\nvlan: bad\n\tbridge vmbr7\n",
		"vnets.cfg": "vnet: aa\n\tzone bad\n\ttag 5\n\nvnet: bb\n\tzone good\n\ttag 6\n",
	})
	p, err := sdn.Compile(cfg, hostFacts(t, "n1", linuxHost))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names(p), "aa") || !slices.Contains(names(p), "bb") {
		t.Errorf("stanzas = %v, want bb but not aa", names(p))
	}
	if len(p.Zones) != 1 || p.Zones[0].ID != "good" {
		t.Errorf("zones = %+v, want only good", p.Zones)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "vmbr7") }) {
		t.Errorf("notes %v do not mention the missing bridge", p.Notes)
	}
}

// Zones restricted to other nodes produce nothing on this one.
func TestCompileZoneNodes(t *testing.T) {
	cfg := load(t, map[string]string{
		"zones.cfg": "simple: here\n\tnodes n1,n2\n\nsimple: there\n\tnodes n3\n",
		"vnets.cfg": "vnet: v1\n\tzone here\n\nvnet: v2\n\tzone there\n",
	})
	p, err := sdn.Compile(cfg, hostFacts(t, "n2", linuxHost))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("stanzas = %v, want [v1]", got)
	}
}

// A vlan and a qinq zone on one OVS bridge share its stanza: the vlan
// zone adds an ovs_ports line, the qinq zone extends the first line.
func TestCompileSharedOVSBridge(t *testing.T) {
	cfg := load(t, map[string]string{
		"zones.cfg": "vlan: access\n\tbridge vmbr0\n\nqinq: carrier\n\tbridge vmbr0\n\ttag 700\n",
		"vnets.cfg": "vnet: aa\n\tzone access\n\ttag 5\n\nvnet: bb\n\tzone carrier\n\ttag 6\n\nvnet: cc\n\tzone access\n\ttag 7\n",
	})
	p, err := sdn.Compile(cfg, hostFacts(t, "n1", ovsHost))
	if err != nil {
		t.Fatal(err)
	}
	br := p.Iface("vmbr0")
	if br == nil {
		t.Fatal("no vmbr0 stanza")
	}
	var lines []string
	for _, l := range br.Lines {
		lines = append(lines, l.String())
	}
	want := []string{"ovs_ports ln_aa sv_carrier", "ovs_ports ln_cc"}
	if !slices.Equal(lines, want) {
		t.Errorf("vmbr0 lines = %q, want %q", lines, want)
	}
	if !br.Amends || !slices.Equal(br.OVSPorts, []string{"ln_aa", "sv_carrier", "ln_cc"}) {
		t.Errorf("vmbr0 typed: amends=%v ports=%v", br.Amends, br.OVSPorts)
	}
}

// The typed fields of an EVPN plan say what the text says, and the plan
// survives a JSON round trip.
func TestCompileEvpnTypedAndJSON(t *testing.T) {
	cfg := load(t, map[string]string{
		"controllers.cfg": "evpn: ctl\n\tasn 65010\n\tpeers 10.10.10.11,10.10.10.12\n",
		"zones.cfg":       "evpn: tn\n\tcontroller ctl\n\tvrf-vxlan 4000\n\tmac 02:00:00:00:00:aa\n\texitnodes n1\n\texitnodes-local-routing 1\n",
		"vnets.cfg":       "vnet: web\n\tzone tn\n\ttag 4001\n",
		"subnets.cfg":     "subnet: tn-10.50.0.0-24\n\tvnet web\n\tgateway 10.50.0.1\n\tsnat 1\n",
	})
	p, err := sdn.Compile(cfg, hostFacts(t, "n1", linuxHost))
	if err != nil {
		t.Fatal(err)
	}
	vx := p.Iface("vxlan_web")
	if vx == nil || vx.Kind != plan.KindVxlan || vx.VxlanID != 4001 || vx.VxlanLocal.String() != "10.10.10.11" ||
		vx.Learning == nil || *vx.Learning || !vx.ARPNDSuppress || vx.MTU != 1450 {
		t.Errorf("vxlan_web = %+v", vx)
	}
	web := p.Iface("web")
	if web == nil || web.VRF != "vrf_tn" || web.HWAddress != "02:00:00:00:00:aa" || !web.IPForward ||
		!web.ARPAccept || len(web.SNAT) != 1 || web.SNAT[0].OutIface != "vmbr0" ||
		web.SNAT[0].ToSource.String() != "10.10.10.11" || web.SNAT[0].Source.String() != "10.50.0.0/24" {
		t.Errorf("web = %+v", web)
	}
	vrf := p.Iface("vrf_tn")
	if vrf == nil || vrf.Kind != plan.KindVRF || len(vrf.Routes) != 1 || !vrf.Routes[0].Delete || !vrf.Routes[0].Unreachable {
		t.Errorf("vrf_tn = %+v", vrf)
	}
	if x := p.Iface("xvrfp_tn"); x == nil || x.Kind != plan.KindVeth || x.VethPeer != "xvrf_tn" || x.VRF != "vrf_tn" || x.MTU != 1500 {
		t.Errorf("xvrfp_tn = %+v", x)
	}
	z := p.Zone("tn")
	if z == nil || !z.ExitNode || z.L3VNI != 4000 || z.L3Bridge != "vrfbr_tn" || z.LocalVTEP.String() != "10.10.10.11" ||
		z.ASN != 65010 || len(z.VNets) != 1 || z.VNets[0].Vxlan != "vxlan_web" || z.XVRF != "xvrf_tn" {
		t.Errorf("zone plan = %+v", z)
	}

	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back plan.NodePlan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Ifaces, p.Ifaces) || !reflect.DeepEqual(back.Zones, p.Zones) {
		t.Error("plan changed in a JSON round trip")
	}
}
