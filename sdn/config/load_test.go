package config_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// lines joins config lines into a file body.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// writeDir writes files into a fresh temp dir and returns it.
func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A valid lab config of every zone type (our own names and addresses).
func validFiles() map[string]string {
	return map[string]string{
		"zones.cfg": lines(
			"simple: lab",
			"\tipam nb",
			"\tdhcp dnsmasq",
			"\tdns pdns",
			"\tdnszone lab.example",
			"",
			"vlan: office",
			"\tbridge vmbr0",
			"\tmtu 1500",
			"",
			"qinq: carrier",
			"\tbridge vmbr0",
			"\ttag 30",
			"\tvlan-protocol 802.1ad",
			"",
			"vxlan: overlay",
			"\tpeers 10.9.0.1,10.9.0.2, 10.9.0.3",
			"\tvxlan-port 4790",
			"",
			"evpn: tenant",
			"\tcontroller ctl",
			"\tvrf-vxlan 9000",
			"\texitnodes alpha,beta",
			"\texitnodes-primary beta",
			"\tmac 02:00:00:00:aa:01",
			"\trt-import 65010:1,65010:2",
			"\tadvertise-subnets 1",
			"\tnodes alpha,beta,gamma",
		),
		"vnets.cfg": lines(
			"vnet: plain",
			"\tzone lab",
			"",
			"vnet: desk",
			"\tzone office",
			"\ttag 20",
			"",
			"vnet: desk2",
			"\tzone office",
			"\ttag 21",
			"\tvlanaware 1",
			"",
			"vnet: cust",
			"\tzone carrier",
			"",
			"vnet: cust2",
			"\tzone carrier",
			"\ttag 40",
			"",
			"vnet: ovl",
			"\tzone overlay",
			"\ttag 7000",
			"",
			"vnet: blue",
			"\tzone tenant",
			"\ttag 7001",
			"\talias Blue (prod)",
		),
		"subnets.cfg": lines(
			"subnet: lab-10.50.0.0-24",
			"\tvnet plain",
			"\tgateway 10.50.0.1",
			"\tsnat 1",
			"\tdhcp-range start-address=10.50.0.100,end-address=10.50.0.150",
			"\tdhcp-range start-address=10.50.0.200,end-address=10.50.0.210",
			"",
			"subnet: tenant-10.60.0.0-24",
			"\tvnet blue",
			"\tgateway 10.60.0.1",
			"",
			"subnet: tenant-fd00:60::-64",
			"\tvnet blue",
			"\tgateway fd00:60::1",
		),
		"controllers.cfg": lines(
			"evpn: ctl",
			"\tasn 65010",
			"\tpeers 10.9.0.1,10.9.0.2,10.9.0.3",
			"",
			"bgp: bgpalpha",
			"\tnode alpha",
			"\tasn 65011",
			"\tpeers 192.0.2.1",
			"\tebgp 1",
			"\tebgp-multihop 3",
			"",
			"isis: isisalpha",
			"\tnode alpha",
			"\tisis-domain lab",
			"\tisis-ifaces eth1,eth2",
			"\tisis-net 49.0001.1000.0000.0001.00",
		),
		"fabrics.cfg": lines(
			"openfabric_fabric: under",
			"\tip_prefix 10.255.0.0/24",
			"\thello_interval 2",
			"",
			"openfabric_node: under_alpha",
			"\tip 10.255.0.1",
			"\tinterfaces name=eth5,hello_multiplier=3",
			"\tinterfaces name=eth6,ip=10.254.0.0/31",
			"",
			"ospf_fabric: area0",
			"\tarea 0.0.0.0",
			"\tip_prefix 10.254.1.0/24",
			"",
			"ospf_node: area0_beta",
			"\tip 10.254.1.2",
			"\tinterfaces name=eth7",
		),
		"ipams.cfg": lines(
			"pve: pve",
			"",
			"netbox: nb",
			"\turl https://netbox.example/api",
			"\ttoken SECRET-TOKEN-123",
		),
		"dns.cfg": lines(
			"powerdns: pdns",
			"\turl http://dns.example:8081",
			"\tkey SECRET-KEY-456",
			"\tttl 3600",
		),
	}
}

func TestLoadValid(t *testing.T) {
	dir := writeDir(t, validFiles())
	c, err := config.Load(dir, registry.Config())
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if err := c.Strict(); err != nil {
		t.Fatalf("valid config, strict: %v", err)
	}
	if n := len(c.Zones); n != 5 {
		t.Errorf("zones: %d", n)
	}
	var ids []string
	for _, v := range c.SortedVNets() {
		ids = append(ids, v.ID)
	}
	if want := []string{"blue", "cust", "cust2", "desk", "desk2", "ovl", "plain"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("SortedVNets: %v, want %v", ids, want)
	}
	z := c.Zones["tenant"]
	if z.VrfVxlan != 9000 || z.Controller != "ctl" || z.MAC != "02:00:00:00:aa:01" ||
		!reflect.DeepEqual(z.ExitNodes, []string{"alpha", "beta"}) || z.ExitNodesPrimary != "beta" ||
		!reflect.DeepEqual(z.RTImport, []string{"65010:1", "65010:2"}) || !z.AdvertiseSubnets ||
		!reflect.DeepEqual(z.Nodes, []string{"alpha", "beta", "gamma"}) {
		t.Errorf("evpn zone decoded wrong: %+v", z)
	}
	ov := c.Zones["overlay"]
	if len(ov.Peers) != 3 || ov.Peers[2] != netip.MustParseAddr("10.9.0.3") || ov.VxlanPort != 4790 {
		t.Errorf("vxlan zone decoded wrong: %+v", ov)
	}
	if q := c.Zones["carrier"]; q.Tag != 30 || q.VlanProtocol != "802.1ad" || q.Bridge != "vmbr0" {
		t.Errorf("qinq zone decoded wrong: %+v", q)
	}
	if v := c.VNets["blue"]; v.Tag != 7001 || v.Zone != "tenant" || v.Alias != "Blue (prod)" {
		t.Errorf("vnet decoded wrong: %+v", v)
	}
	s := c.Subnets["lab-10.50.0.0-24"]
	if s.Prefix != netip.MustParsePrefix("10.50.0.0/24") || s.Gateway != netip.MustParseAddr("10.50.0.1") ||
		!s.SNAT || s.Zone != "lab" || len(s.DHCPRanges) != 2 || s.Props["gateway"].Pos.Line != 3 {
		t.Errorf("subnet decoded wrong: %+v", s)
	}
	if s6 := c.Subnets["tenant-fd00:60::-64"]; s6 == nil || s6.Prefix != netip.MustParsePrefix("fd00:60::/64") {
		t.Errorf("ipv6 subnet decoded wrong: %+v", s6)
	}
	ct := c.Controllers["bgpalpha"]
	if ct.ASN != 65011 || ct.Node != "alpha" || !ct.EBGP || ct.EBGPMultihop != 3 {
		t.Errorf("bgp controller decoded wrong: %+v", ct)
	}
	if is := c.Controllers["isisalpha"]; !reflect.DeepEqual(is.ISISIfaces, []string{"eth1", "eth2"}) || is.ISISNet != "49.0001.1000.0000.0001.00" {
		t.Errorf("isis controller decoded wrong: %+v", is)
	}
	f := c.Fabrics["under"]
	n := f.Nodes["alpha"]
	if f.Protocol != "openfabric" || f.HelloInterval != 2 || n == nil || n.IP != netip.MustParseAddr("10.255.0.1") ||
		len(n.Interfaces) != 2 || n.Interfaces[0].HelloMultiplier != 3 || n.Interfaces[1].IP != netip.MustParsePrefix("10.254.0.0/31") {
		t.Errorf("openfabric decoded wrong: %+v %+v", f, n)
	}
	if o := c.Fabrics["area0"]; o.Protocol != "ospf" || o.Area != "0.0.0.0" || o.Nodes["beta"] == nil {
		t.Errorf("ospf fabric decoded wrong: %+v", o)
	}
	// ipam/dns settings are kept and listed, with no secret in sight (dhcp
	// is acted on: dnsmasq runs in a lab).
	var report strings.Builder
	for _, ig := range c.Ignored {
		report.WriteString(ig.Pos.String() + " " + ig.Field + " " + ig.Reason + "\n")
	}
	for _, want := range []string{"ipams.cfg:3 netbox nb", "dns.cfg:1 powerdns pdns"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("Ignored lacks %q:\n%s", want, report.String())
		}
	}
	if strings.Contains(report.String(), "SECRET") {
		t.Errorf("Ignored report leaks a secret:\n%s", report.String())
	}
	if len(c.Other["ipams.cfg"]) != 2 {
		t.Errorf("ipams.cfg sections not kept: %+v", c.Other)
	}
}

func TestLoadDirErrors(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "missing"), registry.Config())
	var l config.ErrorList
	if !errors.As(err, &l) || !strings.Contains(err.Error(), "cannot read config directory") {
		t.Errorf("missing dir: %v", err)
	}
	// An empty directory is a valid, empty config.
	c, err := config.Load(t.TempDir(), registry.Config())
	if err != nil || len(c.Zones) != 0 {
		t.Errorf("empty dir: %v %v", c, err)
	}
	// An unreadable file is reported by name.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "zones.cfg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(dir, registry.Config()); err == nil || !strings.Contains(err.Error(), "zones.cfg") {
		t.Errorf("zones.cfg as a directory: %v", err)
	}
}

// ruleCase is one validation rule: files (merged over an empty dir),
// the expected "file:line: field:" prefix and a message fragment.
type ruleCase struct {
	name   string
	files  map[string]string
	prefix string // "zones.cfg:3: tag:" relative to the dir
	msg    string
	strict bool // reported by Strict (Warnings), not by config.Load
}

// Small building blocks for the rule cases.
var (
	evpnCtl   = lines("evpn: ctl", "\tasn 65000", "\tpeers 10.0.0.1")
	evpnZone  = lines("evpn: ev", "\tcontroller ctl", "\tvrf-vxlan 500")
	vlanZone  = lines("vlan: vl", "\tbridge vmbr0")
	evpnVNet  = lines("vnet: v1", "\tzone ev", "\ttag 100")
	simpleZ   = lines("simple: sz")
	simpleVN  = lines("vnet: sv", "\tzone sz")
	vxlanZone = lines("vxlan: vx", "\tpeers 10.0.0.1")
)

func ruleCases() []ruleCase {
	z := func(body string) map[string]string { return map[string]string{"zones.cfg": body} }
	return []ruleCase{
		// section types and ids
		{"unknown zone type", z(lines("bogus: a1")), "zones.cfg:1: type:", `unknown zone type "bogus"`, false},
		{"faucet zone", z(lines("faucet: f1")), "zones.cfg:1: type:", "not supported by sdnlab", false},
		{"faucet controller", map[string]string{"controllers.cfg": lines("faucet: fc")}, "controllers.cfg:1: type:", "not supported by sdnlab", false},
		{"unknown controller type", map[string]string{"controllers.cfg": lines("ospf: oc")}, "controllers.cfg:1: type:", "unknown controller type", false},
		{"unknown vnet section type", map[string]string{"vnets.cfg": lines("vlan: v1")}, "vnets.cfg:1: type:", "want vnet", false},
		{"unknown fabric section type", map[string]string{"fabrics.cfg": lines("isis_fabric: f1")}, "fabrics.cfg:1: type:", "unknown section type", false},
		{"unknown ipam type", map[string]string{"ipams.cfg": lines("infoblox: ib")}, "ipams.cfg:1: type:", "unknown section type", false},
		{"zone id chars", z(lines("simple: my_zone")), "zones.cfg:1: zone:", "invalid zone id", false},
		{"zone id length", z(lines("simple: abcdefghi")), "zones.cfg:1: zone:", "2-8 characters", false},
		{"zone id starts with digit", z(lines("simple: 1abc")), "zones.cfg:1: zone:", "invalid zone id", false},
		{"vnet id length", map[string]string{"zones.cfg": simpleZ, "vnets.cfg": lines("vnet: toolongid", "\tzone sz")}, "vnets.cfg:1: vnet:", "invalid vnet id", false},
		{"controller id chars", map[string]string{"controllers.cfg": lines("evpn: c.1", "\tasn 1", "\tpeers 10.0.0.1")}, "controllers.cfg:1: controller:", "invalid controller id", false},
		{"duplicate section id", z(lines("simple: a1", "", "vlan: a1", "\tbridge vmbr0")), "zones.cfg:3:", "duplicate section id", false},
		{"unknown key", z(lines("vlan: vl", "\tbridge vmbr0", "\ttag 5")), "zones.cfg:3: tag:", `unknown key for zone type "vlan"`, false},
		{"repeated key", z(lines("vlan: vl", "\tbridge vmbr0", "\tbridge vmbr1")), "zones.cfg:3: bridge:", "repeated key (first set at line 2)", false},
		{"empty value", z(lines("vlan: vl", "\tbridge")), "zones.cfg:2: bridge:", "empty value", false},
		// zone values
		{"vlan needs bridge", z(lines("vlan: vl", "\tmtu 1400")), "zones.cfg:1: bridge:", "missing", false},
		{"qinq needs tag", z(lines("qinq: q1", "\tbridge vmbr0")), "zones.cfg:1: tag:", "missing", false},
		{"qinq tag range", z(lines("qinq: q1", "\tbridge vmbr0", "\ttag 4095")), "zones.cfg:3: tag:", "out of range 1-4094", false},
		{"vlan-protocol", z(lines("qinq: q1", "\tbridge vmbr0", "\ttag 5", "\tvlan-protocol 802.1x")), "zones.cfg:4: vlan-protocol:", "802.1q or 802.1ad", false},
		{"mtu not integer", z(lines("simple: s1", "\tmtu big")), "zones.cfg:2: mtu:", "not an integer", false},
		{"mtu range", z(lines("simple: s1", "\tmtu 70000")), "zones.cfg:2: mtu:", "out of range", false},
		{"node name", z(lines("simple: s1", "\tnodes alpha,bad_node")), "zones.cfg:2: nodes:", `"bad_node" is not a valid node name`, false},
		{"ipam defined", z(lines("simple: s1", "\tipam nb")), "zones.cfg:2: ipam:", `ipam "nb" is not defined in ipams.cfg`, false},
		{"dns defined", z(lines("simple: s1", "\tdns pdns")), "zones.cfg:2: dns:", `dns server "pdns" is not defined in dns.cfg`, false},
		{"dnszone needs dns", z(lines("simple: s1", "\tdnszone lab.example")), "zones.cfg:2: dnszone:", "needs a dns server", false},
		{"dhcp backend", z(lines("simple: s1", "\tdhcp isc")), "zones.cfg:2: dhcp:", "unknown DHCP backend", false},
		{"vxlan peers not ip", z(lines("vxlan: vx", "\tpeers 10.0.0.1,nothost")), "zones.cfg:2: peers:", `"nothost" is not an IP address`, false},
		{"vxlan peers or fabric", z(lines("vxlan: vx", "\tmtu 1450")), "zones.cfg:1: peers:", "exactly one of peers / fabric", false},
		{"vxlan-port range", z(lines("vxlan: vx", "\tpeers 10.0.0.1", "\tvxlan-port 65536")), "zones.cfg:3: vxlan-port:", "out of range 1-65535", false},
		{"vxlan fabric unknown", z(lines("vxlan: vx", "\tfabric nofab")), "zones.cfg:2: fabric:", "not defined in fabrics.cfg", false},
		{"evpn needs vrf-vxlan", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": lines("evpn: ev", "\tcontroller ctl")}, "zones.cfg:1: vrf-vxlan:", "missing", false},
		{"evpn needs controller", z(lines("evpn: ev", "\tvrf-vxlan 5")), "zones.cfg:1: controller:", "missing", false},
		{"vrf-vxlan range", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": lines("evpn: ev", "\tcontroller ctl", "\tvrf-vxlan 16777216")}, "zones.cfg:3: vrf-vxlan:", "out of range", false},
		{"evpn controller unknown", z(lines("evpn: ev", "\tcontroller nope", "\tvrf-vxlan 5")), "zones.cfg:2: controller:", "not defined in controllers.cfg", false},
		{"evpn controller type", map[string]string{
			"controllers.cfg": lines("bgp: b1", "\tnode n1", "\tasn 1", "\tpeers 10.0.0.1"),
			"zones.cfg":       lines("evpn: ev", "\tcontroller b1", "\tvrf-vxlan 5")}, "zones.cfg:2: controller:", "needs an evpn controller", false},
		{"vrf-vxlan unique", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone + "\n" + lines("evpn: ev2", "\tcontroller ctl", "\tvrf-vxlan 500")}, "zones.cfg:7: vrf-vxlan:", "already used by zone ev", false},
		{"vrf-vxlan vs vnet vni", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone, "vnets.cfg": lines("vnet: v1", "\tzone ev", "\ttag 500")}, "zones.cfg:3: vrf-vxlan:", "already the VNI of vnet v1", false},
		{"mac format", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone + "\tmac 02:00:00:00:01\n"}, "zones.cfg:4: mac:", "not a MAC address", false},
		{"mac unicast", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone + "\tmac 01:00:5e:00:00:01\n"}, "zones.cfg:4: mac:", "unicast", false},
		{"rt-import", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone + "\trt-import 65000:1,65000\n"}, "zones.cfg:4: rt-import:", `"65000" is not a BGP route target`, false},
		{"rt-import 32-bit", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone + "\trt-import 4294967296:1\n"}, "zones.cfg:4: rt-import:", "not a BGP route target", false},
		{"boolean", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone + "\tadvertise-subnets maybe\n"}, "zones.cfg:4: advertise-subnets:", "not a boolean", false},
		{"exitnodes-primary in exitnodes", map[string]string{"controllers.cfg": evpnCtl, "zones.cfg": evpnZone + "\texitnodes n1\n\texitnodes-primary n2\n"}, "zones.cfg:5: exitnodes-primary:", `"n2" is not one of the exitnodes`, true},
		// vnets
		{"vnet needs zone", map[string]string{"vnets.cfg": lines("vnet: v1", "\ttag 5")}, "vnets.cfg:1: zone:", "missing", false},
		{"vnet zone unknown", map[string]string{"vnets.cfg": lines("vnet: v1", "\tzone nozone")}, "vnets.cfg:2: zone:", `zone "nozone" of vnet v1 is not defined`, false},
		{"simple vnet tag", map[string]string{"zones.cfg": simpleZ, "vnets.cfg": lines("vnet: sv", "\tzone sz", "\ttag 5")}, "vnets.cfg:3: tag:", "must not have a tag", false},
		{"vlan vnet needs tag", map[string]string{"zones.cfg": vlanZone, "vnets.cfg": lines("vnet: v1", "\tzone vl")}, "vnets.cfg:1: tag:", "missing", false},
		{"vlan vnet tag range", map[string]string{"zones.cfg": vlanZone, "vnets.cfg": lines("vnet: v1", "\tzone vl", "\ttag 4095")}, "vnets.cfg:3: tag:", "out of range 1-4094", false},
		{"vnet tag range", map[string]string{"zones.cfg": vxlanZone, "vnets.cfg": lines("vnet: v1", "\tzone vx", "\ttag 16777216")}, "vnets.cfg:3: tag:", "out of range 1-16777215", false},
		{"vlan tag unique in zone", map[string]string{"zones.cfg": vlanZone, "vnets.cfg": lines("vnet: v1", "\tzone vl", "\ttag 7", "", "vnet: v2", "\tzone vl", "\ttag 7")}, "vnets.cfg:7: tag:", "tag 7 already used by vnet v1", false},
		{"qinq one tag-less vnet", map[string]string{"zones.cfg": lines("qinq: q1", "\tbridge vmbr0", "\ttag 5"), "vnets.cfg": lines("vnet: v1", "\tzone q1", "", "vnet: v2", "\tzone q1")}, "vnets.cfg:4: tag:", "tag-less vnet already exists", false},
		{"vxlan vnet needs tag", map[string]string{"zones.cfg": vxlanZone, "vnets.cfg": lines("vnet: v1", "\tzone vx")}, "vnets.cfg:1: tag:", "missing", false},
		{"vni unique cluster-wide", map[string]string{"zones.cfg": vxlanZone + "\n" + evpnZone, "controllers.cfg": evpnCtl,
			"vnets.cfg": lines("vnet: v1", "\tzone vx", "\ttag 100", "", "vnet: v2", "\tzone ev", "\ttag 100")}, "vnets.cfg:7: tag:", "VXLAN VNI 100 already used by vnet v1 in zone vx", false},
		{"evpn vlanaware", map[string]string{"zones.cfg": evpnZone, "controllers.cfg": evpnCtl, "vnets.cfg": evpnVNet + "\tvlanaware 1\n"}, "vnets.cfg:4: vlanaware:", "not allowed in evpn zone", false},
		{"vnet unknown key", map[string]string{"zones.cfg": simpleZ, "vnets.cfg": lines("vnet: sv", "\tzone sz", "\tvlan-aware 1")}, "vnets.cfg:3: vlan-aware:", "unknown key", false},
		// subnets
		{"subnet id form", map[string]string{"subnets.cfg": lines("subnet: 10.0.0.0/24", "\tvnet sv")}, "subnets.cfg:1: subnet:", "want <zone>-<address>-<prefixlen>", false},
		{"subnet cidr", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.300-24", "\tvnet sv")}, "subnets.cfg:1: subnet:", "not a CIDR network", false},
		{"subnet prefix length", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-33", "\tvnet sv")}, "subnets.cfg:1: subnet:", "not a CIDR network", false},
		{"subnet host bits", map[string]string{"zones.cfg": simpleZ, "vnets.cfg": simpleVN, "subnets.cfg": lines("subnet: sz-10.0.0.5-24", "\tvnet sv")}, "subnets.cfg:1: subnet:", "host bits set", true},
		{"subnet zone matches vnet", map[string]string{"zones.cfg": simpleZ + "\n" + lines("simple: other"), "vnets.cfg": simpleVN, "subnets.cfg": lines("subnet: other-10.0.0.0-24", "\tvnet sv")}, "subnets.cfg:1: subnet:", "vnet sv is in zone sz", false},
		{"subnet needs vnet", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tgateway 10.0.0.1")}, "subnets.cfg:1: vnet:", "missing", false},
		{"subnet vnet unknown", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet nov")}, "subnets.cfg:2: vnet:", "not defined in vnets.cfg", false},
		{"gateway not ip", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tgateway 10.0.0")}, "subnets.cfg:3: gateway:", "not an IP address", false},
		{"gateway outside", map[string]string{"zones.cfg": simpleZ, "vnets.cfg": simpleVN, "subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tgateway 10.0.1.1")}, "subnets.cfg:3: gateway:", "not in subnet 10.0.0.0/24", true},
		{"gateway network address", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tgateway 10.0.0.0")}, "subnets.cfg:3: gateway:", "network address", false},
		{"gateway broadcast", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tgateway 10.0.0.255")}, "subnets.cfg:3: gateway:", "broadcast address", false},
		{"gateway family", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tgateway fd00::1")}, "subnets.cfg:3: gateway:", "address family differs", false},
		{"subnet on vlan-aware vnet", map[string]string{"zones.cfg": vlanZone, "vnets.cfg": lines("vnet: v1", "\tzone vl", "\ttag 5", "\tvlanaware 1"), "subnets.cfg": lines("subnet: vl-10.0.0.0-24", "\tvnet v1")}, "subnets.cfg:2: vnet:", "vlan-aware", false},
		{"snat zone type", map[string]string{"zones.cfg": vlanZone, "vnets.cfg": lines("vnet: v1", "\tzone vl", "\ttag 5"), "subnets.cfg": lines("subnet: vl-10.0.0.0-24", "\tvnet v1", "\tsnat 1")}, "subnets.cfg:3: snat:", "only available in simple and evpn zones", false},
		{"dhcp-range outside", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tdhcp-range start-address=10.0.0.10,end-address=10.0.1.10")}, "subnets.cfg:3: dhcp-range:", "end-address 10.0.1.10 is not in subnet", false},
		{"dhcp-range order", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tdhcp-range start-address=10.0.0.20,end-address=10.0.0.10")}, "subnets.cfg:3: dhcp-range:", "must be smaller", false},
		{"dhcp-range overlap", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tdhcp-range start-address=10.0.0.10,end-address=10.0.0.20", "\tdhcp-range start-address=10.0.0.15,end-address=10.0.0.30")}, "subnets.cfg:4: dhcp-range:", "must not overlap", false},
		{"dhcp-range format", map[string]string{"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "\tvnet sv", "\tdhcp-range 10.0.0.1-10.0.0.9")}, "subnets.cfg:3: dhcp-range:", "want start-address=IP,end-address=IP", false},
		// controllers
		{"asn zero", map[string]string{"controllers.cfg": lines("evpn: ctl", "\tasn 0", "\tpeers 10.0.0.1")}, "controllers.cfg:2: asn:", "out of range 1-4294967295", false},
		{"asn too big", map[string]string{"controllers.cfg": lines("evpn: ctl", "\tasn 4294967296", "\tpeers 10.0.0.1")}, "controllers.cfg:2: asn:", "out of range", false},
		{"asn missing", map[string]string{"controllers.cfg": lines("evpn: ctl", "\tpeers 10.0.0.1")}, "controllers.cfg:1: asn:", "missing", false},
		{"controller peers", map[string]string{"controllers.cfg": lines("evpn: ctl", "\tasn 1", "\tpeers 10.0.0.1,10.0.0.999")}, "controllers.cfg:3: peers:", `"10.0.0.999" is not an IP address`, false},
		{"evpn controller peers or fabric", map[string]string{"controllers.cfg": lines("evpn: ctl", "\tasn 1")}, "controllers.cfg:1: peers:", "exactly one of peers / fabric", false},
		{"one evpn controller", map[string]string{"controllers.cfg": evpnCtl + "\n" + lines("evpn: ctl2", "\tasn 1", "\tpeers 10.0.0.2")}, "controllers.cfg:5:", "only one evpn controller", false},
		{"controller fabric unknown", map[string]string{"controllers.cfg": lines("evpn: ctl", "\tasn 1", "\tfabric nofab")}, "controllers.cfg:3: fabric:", "not defined in fabrics.cfg", false},
		{"bgp needs node", map[string]string{"controllers.cfg": lines("bgp: b1", "\tasn 1", "\tpeers 10.0.0.1")}, "controllers.cfg:1: node:", "missing", false},
		{"bgp needs peers", map[string]string{"controllers.cfg": lines("bgp: b1", "\tasn 1", "\tnode n1")}, "controllers.cfg:1: peers:", "missing", false},
		{"one bgp per node", map[string]string{"controllers.cfg": lines("bgp: b1", "\tnode n1", "\tasn 1", "\tpeers 10.0.0.1", "", "bgp: b2", "\tnode n1", "\tasn 2", "\tpeers 10.0.0.2")}, "controllers.cfg:7: node:", "node n1 already has a bgp controller (b1)", false},
		{"ebgp-multihop", map[string]string{"controllers.cfg": lines("bgp: b1", "\tnode n1", "\tasn 1", "\tpeers 10.0.0.1", "\tebgp-multihop many")}, "controllers.cfg:5: ebgp-multihop:", "not an integer", false},
		{"isis-net", map[string]string{"controllers.cfg": lines("isis: i1", "\tnode n1", "\tisis-domain d", "\tisis-ifaces eth0", "\tisis-net 49.1.2.3")}, "controllers.cfg:5: isis-net:", "IS-IS NET", false},
		{"isis-ifaces", map[string]string{"controllers.cfg": lines("isis: i1", "\tnode n1", "\tisis-domain d", "\tisis-ifaces eth0,0bad", "\tisis-net 49.0001.1000.0000.0001.00")}, "controllers.cfg:4: isis-ifaces:", `"0bad" is not a valid interface name`, false},
		{"isis needs domain", map[string]string{"controllers.cfg": lines("isis: i1", "\tnode n1", "\tisis-ifaces eth0", "\tisis-net 49.0001.1000.0000.0001.00")}, "controllers.cfg:1: isis-domain:", "missing", false},
		// fabrics
		{"fabric id", map[string]string{"fabrics.cfg": lines("openfabric_fabric: bad_id", "\tip_prefix 10.0.0.0/24")}, "fabrics.cfg:1: id:", "invalid fabric id", false},
		{"fabric prefix", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.1/33")}, "fabrics.cfg:2: ip_prefix:", "not an IPv4 CIDR", false},
		{"fabric needs prefix", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\thello_interval 3")}, "fabrics.cfg:1: ip_prefix:", "missing", false},
		{"hello_interval", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.0/24", "\thello_interval 601")}, "fabrics.cfg:3: hello_interval:", "out of range 1-600", false},
		{"ospf needs area", map[string]string{"fabrics.cfg": lines("ospf_fabric: f1", "\tip_prefix 10.0.0.0/24")}, "fabrics.cfg:1: area:", "missing", false},
		{"ospf area", map[string]string{"fabrics.cfg": lines("ospf_fabric: f1", "\tip_prefix 10.0.0.0/24", "\tarea backbone")}, "fabrics.cfg:3: area:", "not an OSPF area", false},
		{"fabric node of unknown fabric", map[string]string{"fabrics.cfg": lines("openfabric_node: nof_n1", "\tip 10.0.0.1")}, "fabrics.cfg:1: id:", `fabric "nof" of node "n1" is not defined`, false},
		{"fabric node id", map[string]string{"fabrics.cfg": lines("openfabric_node: n1", "\tip 10.0.0.1")}, "fabrics.cfg:1: id:", "want <fabric>_<node>", false},
		{"fabric node protocol", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.0/24", "", "ospf_node: f1_n1", "\tip 10.0.0.1")}, "fabrics.cfg:4: type:", "does not match fabric f1", false},
		{"fabric node ip in prefix", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.0/24", "", "openfabric_node: f1_n1", "\tip 10.0.1.1")}, "fabrics.cfg:5: ip:", "not in the fabric's ip_prefix", false},
		{"fabric node ip family", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.0/24", "", "openfabric_node: f1_n1", "\tip fd00::1")}, "fabrics.cfg:5: ip:", "not an IPv4 address", false},
		{"fabric node ip unique", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.0/24", "", "openfabric_node: f1_n1", "\tip 10.0.0.1", "", "openfabric_node: f1_n2", "\tip 10.0.0.1")}, "fabrics.cfg:8: ip:", "already used by node n1", false},
		{"fabric interface", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.0/24", "", "openfabric_node: f1_n1", "\tip 10.0.0.1", "\tinterfaces name=eth0,ip=10.1.0.0")}, "fabrics.cfg:6: interfaces:", "not an IPv4 CIDR", false},
		{"fabric interface key", map[string]string{"fabrics.cfg": lines("ospf_fabric: f1", "\tarea 0", "\tip_prefix 10.0.0.0/24", "", "ospf_node: f1_n1", "\tip 10.0.0.1", "\tinterfaces name=eth0,hello-multiplier=3")}, "fabrics.cfg:7: interfaces:", `unknown key "hello-multiplier"`, false},
		{"fabric interface twice", map[string]string{"fabrics.cfg": lines("openfabric_fabric: f1", "\tip_prefix 10.0.0.0/24", "", "openfabric_node: f1_n1", "\tip 10.0.0.1", "\tinterfaces name=eth0", "\tinterfaces name=eth0")}, "fabrics.cfg:7: interfaces:", "listed twice", false},
	}
}

func TestValidationRules(t *testing.T) {
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, tc.files)
			c, err := config.Load(dir, registry.Config())
			if c == nil {
				t.Fatalf("config.Load returned no config: %v", err)
			}
			var got error = err
			if tc.strict {
				if err != nil {
					t.Fatalf("config.Load must accept what only the API refuses, got: %v", err)
				}
				got = c.Strict()
			}
			if got == nil {
				t.Fatalf("accepted; want %s ... %s", tc.prefix, tc.msg)
			}
			var l config.ErrorList
			if !errors.As(got, &l) {
				t.Fatalf("want an config.ErrorList, got %T %v", got, got)
			}
			want := filepath.Join(dir, tc.prefix)
			for _, e := range l {
				s := e.Error()
				if strings.HasPrefix(s, want+" ") && strings.Contains(s, tc.msg) {
					return
				}
			}
			t.Errorf("no error %q ... %q in:\n%v", want, tc.msg, got)
		})
	}
}

// Every problem of a file is reported at once, sorted.
func TestLoadReportsAll(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"zones.cfg": lines("vlan: vl", "\tmtu 12", "", "qinq: q1", "\tbridge vmbr0", "\ttag 0"),
		"vnets.cfg": lines("vnet: v1", "\tzone nothere"),
	})
	_, err := config.Load(dir, registry.Config())
	var l config.ErrorList
	if !errors.As(err, &l) || len(l) != 4 {
		t.Fatalf("want 4 problems, got %v", err)
	}
	want := []string{"zones.cfg:1: bridge:", "zones.cfg:2: mtu:", "zones.cfg:6: tag:", "vnets.cfg:2: zone:"}
	var got []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimPrefix(line, dir+string(filepath.Separator))
		got = append(got, line[:strings.Index(line, ": ")+1+strings.Index(line[strings.Index(line, ": ")+2:], ":")+2])
	}
	// sorted by file name: vnets.cfg < zones.cfg
	want = append(want[3:], want[:3]...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestLoadSections(t *testing.T) {
	zones, err := config.ParseSectionConfig("mem/zones.cfg", strings.NewReader(lines("vlan: vl", "\tbridge vmbr0")))
	if err != nil {
		t.Fatal(err)
	}
	vnets, err := config.ParseSectionConfig("mem/vnets.cfg", strings.NewReader(lines("vnet: v1", "\tzone vl")))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadSections("mem", map[string][]config.Section{"zones.cfg": zones, "vnets.cfg": vnets}, registry.Config())
	if c == nil || c.Zones["vl"] == nil || c.VNets["v1"] == nil {
		t.Fatalf("not decoded: %+v", c)
	}
	if err == nil || !strings.Contains(err.Error(), "mem/vnets.cfg:1: tag: missing") {
		t.Errorf("want the missing vlan tag reported, got %v", err)
	}
}
