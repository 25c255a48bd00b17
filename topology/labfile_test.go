package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/render"
)

// A small SDN configuration for the bad-lab cases: a vxlan zone on every
// node and a simple zone restricted to node1.
var testCfg = map[string]string{
	"zones.cfg":   "vxlan: vx\n\tpeers 10.1.0.1,10.1.0.2\n\tmtu 1450\n\nsimple: loc\n\tnodes node1\n",
	"vnets.cfg":   "vnet: v1\n\tzone vx\n\ttag 100\n\nvnet: v2\n\tzone loc\n",
	"subnets.cfg": "subnet: loc-10.9.0.0-24\n\tvnet v2\n\tgateway 10.9.0.1\n",
}

func writeLab(t *testing.T, lab string) string {
	t.Helper()
	dir := t.TempDir()
	for f, c := range testCfg {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(p, []byte(lab), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExamplesLoad(t *testing.T) {
	for _, ex := range []struct {
		file, name     string
		nodes, guests  int
		routers, hosts int
	}{
		{"../examples/simple/lab.yaml", "simple", 1, 2, 1, 1},
		{"../examples/vxlan/lab.yaml", "vxlan", 3, 3, 0, 0},
		{"../examples/evpn/lab.yaml", "evpn", 3, 4, 1, 1},
		{"../examples/evpn-racks/lab.yaml", "racks", 3, 4, 2, 1},
		{"../examples/evpn-racks/bgp.yaml", "rackbgp", 3, 4, 3, 1},
		{"../examples/vlan/lab.yaml", "vlan", 2, 6, 0, 0},
		{"../examples/qinq/lab.yaml", "qinq", 2, 4, 0, 0},
		{"../examples/dhcp/lab.yaml", "dhcp", 1, 4, 0, 0},
		{"../examples/evpn-fabric/lab.yaml", "evpnfabric", 3, 5, 1, 1},
	} {
		l, err := Load(ex.file, sdn.Compile)
		if err != nil {
			t.Errorf("%s: %v", ex.file, err)
			continue
		}
		if l.Name != ex.name || len(l.Nodes) != ex.nodes || len(l.Guests) != ex.guests || len(l.Routers) != ex.routers || len(l.Hosts) != ex.hosts {
			t.Errorf("%s: name %s, %d nodes, %d guests, %d routers, %d hosts", ex.file, l.Name, len(l.Nodes), len(l.Guests), len(l.Routers), len(l.Hosts))
		}
		for _, n := range l.Nodes {
			if l.Plans[n.Name] == nil {
				t.Errorf("%s: node %s has no plan", ex.file, n.Name)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	// sdn: plus node names: one 1500-byte segment, addresses from the peers.
	p := writeLab(t, "sdn: .\nnodes: [node1, node2]\nguests:\n  a: {node: node1, vnet: v1, ip: 10.5.0.1/24}\n  b: {node: node2, vnet: v1}\n")
	l, err := Load(p, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Segments) != 1 || l.Segments[0].MTU != 1500 || l.Segments[0].Subnet4.String() != "10.1.0.0/24" {
		t.Fatalf("segments: %+v", l.Segments[0])
	}
	if l.Nodes[0].Addr.String() != "10.1.0.1/24" || l.Nodes[1].Addr.String() != "10.1.0.2/24" {
		t.Fatalf("node addresses %s %s", l.Nodes[0].Addr, l.Nodes[1].Addr)
	}
	a, b := l.Guest("a"), l.Guest("b")
	if a.MAC == b.MAC || !strings.HasPrefix(a.MAC, "bc:24:11:") || a.MTU != 1450 || a.Tap != "tap100i0" || b.Tap != "tap101i0" {
		t.Fatalf("guests: %+v %+v", a, b)
	}
	// The MAC is stable: derived from the name.
	l2, _ := Load(p, sdn.Compile)
	if l2.Guest("a").MAC != a.MAC {
		t.Fatal("guest MAC not stable across loads")
	}
	if l.Name != strings.ToLower(filepath.Base(filepath.Dir(p)))[:min(12, len(filepath.Base(filepath.Dir(p))))] && l.Name == "" {
		t.Fatal("no lab name")
	}
}

func TestBadLabs(t *testing.T) {
	for _, tc := range []struct {
		name, lab string
		want      []string // substrings of the error, the first one with "lab.yaml:LINE: FIELD"
	}{
		{"unknown node", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: nodeX, vnet: v1}\n",
			[]string{"lab.yaml:4: guests.a.node: unknown node \"nodeX\""}},
		{"unknown vnet", "sdn: .\nnodes: [node1]\nguests:\n  a:\n    node: node1\n    vnet: nope\n",
			[]string{"lab.yaml:6: guests.a.vnet: unknown vnet \"nope\""}},
		{"node outside zone", "sdn: .\nnodes: [node1, node2]\nguests:\n  a: {node: node2, vnet: v2}\n",
			[]string{"lab.yaml:4: guests.a.node: node \"node2\" is not in the nodes of zone \"loc\""}},
		{"duplicate MAC", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, mac: 'bc:24:11:00:00:01'}\n  b: {node: node1, vnet: v1, mac: 'BC:24:11:00:00:01'}\n",
			[]string{"lab.yaml:5: guests.b.mac: MAC bc:24:11:00:00:01 is already used at", "lab.yaml:4"}},
		{"duplicate IP", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, ip: 10.5.0.1/24}\n  b:\n    node: node1\n    vnet: v1\n    ip: [10.5.0.2/24, 10.5.0.1/24]\n",
			[]string{"lab.yaml:8: guests.b.ip: address 10.5.0.1 is already used at", "lab.yaml:4"}},
		{"guest IP is a node's", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, ip: 10.1.0.1/24}\n",
			[]string{"lab.yaml:4: guests.a.ip: address 10.1.0.1 is already used by the underlay"}},
		{"overlapping segments", "sdn: .\nnodes:\n  node1: {segment: a, address: 10.1.0.1}\nunderlay:\n  segments:\n    a: {subnet: 10.1.0.0/24}\n    b: {subnet: 10.1.0.128/25}\n",
			[]string{"lab.yaml:7: underlay.segments.b.subnet: 10.1.0.128/25 overlaps 10.1.0.0/24 of segment \"a\""}},
		{"underlay MTU too small", "sdn: .\nnodes: [node1]\nunderlay:\n  segments:\n    lan:\n      subnet: 10.1.0.0/24\n      mtu: 1480\n",
			[]string{"lab.yaml:7: underlay.segments.lan.mtu: segment \"lan\" is too small for zone \"vx\"", "zones.cfg:1", "VNet MTU 1450 + 50 bytes of VXLAN over IPv4 = 1500 > segment MTU 1480"}},
		{"guest MTU too big", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, mtu: 1500}\n",
			[]string{"lab.yaml:4: guests.a.mtu: MTU 1500 is more than vnet \"v1\" carries: 1450"}},
		{"unknown key", "sdn: .\nnodes:\n  node1: {adress: 10.1.0.1}\n",
			[]string{"lab.yaml:3: nodes.node1.adress: unknown key"}},
		{"missing sdn", "nodes: [node1]\n", []string{"lab.yaml:1: sdn: missing"}},
		{"bad sdn dir", "sdn: nowhere\nnodes: [node1]\n", []string{"lab.yaml:1: sdn: \"nowhere\" is not a directory"}},
		{"bad name", "name: my-lab\nsdn: .\nnodes: [node1]\n", []string{"lab.yaml:1: name: \"my-lab\""}},
		{"bad rp_filter", "sdn: .\nnodes: [node1]\nunderlay:\n  segments: {lan: {subnet: 10.1.0.0/24}}\n  routers:\n    r1:\n      interfaces:\n        lan: {rp_filter: medium}\n",
			[]string{"lab.yaml:8: underlay.routers.r1.interfaces.lan.rp_filter: \"medium\""}},
		{"router on unknown segment", "sdn: .\nnodes: [node1]\nunderlay:\n  routers:\n    r1:\n      interfaces:\n        nowhere: {}\n",
			[]string{"lab.yaml:7: underlay.routers.r1.interfaces.nowhere: unknown segment"}},
		{"node address outside segment", "sdn: .\nnodes:\n  node1: {address: 10.2.0.1/24}\nunderlay:\n  segments: {lan: {subnet: 10.1.0.0/24}}\n",
			[]string{"lab.yaml:3: nodes.node1.address: 10.2.0.1 is not in segment \"lan\""}},
		{"duplicate node address", "sdn: .\nnodes:\n  node1: {address: 10.1.0.5}\n  node2: {address: 10.1.0.5}\nunderlay:\n  segments: {lan: {subnet: 10.1.0.0/24}}\n",
			[]string{"lab.yaml:4: nodes.node2.address: address 10.1.0.5 is already used at"}},
		{"bad yaml", "sdn: .\nnodes: [node1\n", []string{"lab.yaml:"}},
		{"link to an unknown node", "sdn: .\nnodes: [node1, node2]\nunderlay:\n  links:\n    - [node1:ens19, node9:ens19]\n",
			[]string{"lab.yaml:5: underlay.links[0]: unknown node \"node9\""}},
		{"link end without ifname", "sdn: .\nnodes: [node1, node2]\nunderlay:\n  links:\n    - [node1, node2:ens19]\n",
			[]string{"lab.yaml:5: underlay.links[0]: \"node1\" is not node:ifname"}},
		{"link on one node", "sdn: .\nnodes: [node1, node2]\nunderlay:\n  links:\n    - [node1:ens19, node1:ens20]\n",
			[]string{"lab.yaml:5: underlay.links[0]: both ends are on node node1"}},
		{"link interface twice", "sdn: .\nnodes: [node1, node2, node3]\nunderlay:\n  links:\n    - [node1:ens19, node2:ens19]\n    - [node1:ens19, node3:ens19]\n",
			[]string{"lab.yaml:6: underlay.links[1]: node1:ens19 is already the end of the link at", "lab.yaml:5"}},
		{"link on the underlay NIC", "sdn: .\nnodes: [node1, node2]\nunderlay:\n  links:\n    - [node1:eth0, node2:ens19]\n",
			[]string{"lab.yaml:5: underlay.links[0]: node1:eth0: eth0 is one of node node1's own underlay interfaces"}},
		{"link ifname too long", "sdn: .\nnodes: [node1, node2]\nunderlay:\n  links:\n    - [node1:averyveryverylongname, node2:ens19]\n",
			[]string{"lab.yaml:5: underlay.links[0]: node1:averyveryverylongname: interface name \"averyveryverylongname\" is longer than 15 bytes"}},
		{"links not a list", "sdn: .\nnodes: [node1, node2]\nunderlay:\n  links: {a: b}\n",
			[]string{"lab.yaml:4: underlay.links: expected a list of links"}},
		{"link with three ends", "sdn: .\nnodes: [node1, node2]\nunderlay:\n  links:\n    - [node1:a, node2:b, node2:c]\n",
			[]string{"lab.yaml:5: underlay.links[0]: expected two ends"}},
		{"bad lsp_gen_interval", "sdn: .\nnodes: [node1]\nfabric: {lsp_gen_interval: 0}\n",
			[]string{"lab.yaml:3: fabric.lsp_gen_interval: \"0\" is not a number in 1..120"}},
		{"name clash", "sdn: .\nnodes: [node1]\nguests:\n  node1: {node: node1, vnet: v1}\n",
			[]string{"lab.yaml:4: guest node1 and node node1 would share namespace"}},
		{"bad upstream routing", "sdn: .\nnodes: [node1]\nupstream:\n  routing: ospf\n",
			[]string{"lab.yaml:4: upstream.routing: \"ospf\": expected static or bgp"}},
		{"upstream asn without bgp", "sdn: .\nnodes: [node1]\nupstream:\n  asn: 65100\n",
			[]string{"lab.yaml:4: upstream.asn: only an upstream with routing: bgp has an AS number"}},
		{"bgp upstream nobody peers", "sdn: .\nnodes: [node1]\nupstream:\n  routing: bgp\n",
			[]string{"lab.yaml:3: upstream.routing: bgp: no node's bgp controller peers the upstream"}},
		{"bad node rp_filter", "sdn: .\nnodes:\n  node1: {rp_filter: maybe}\n",
			[]string{"lab.yaml:3: nodes.node1.rp_filter: \"maybe\": expected strict, loose or off"}},
		{"bad engine", "sdn: .\nengine: bird\nnodes: [node1]\n",
			[]string{"lab.yaml:2: engine: \"bird\" is not an engine: want agent or frr"}},
		{"bad node engine", "sdn: .\nnodes:\n  node1: {engine: gobgp}\n",
			[]string{"lab.yaml:3: nodes.node1.engine: \"gobgp\" is not an engine"}},
		{"bad frr release", "sdn: .\nfrr: 9\nnodes: [node1]\n",
			[]string{"lab.yaml:2: frr: \"9\" is not an FRR release"}},
		{"bad routing", "sdn: .\nnodes: [node1]\nunderlay:\n  routers:\n    r1:\n      routing: ospf\n      interfaces: [lan]\n",
			[]string{"lab.yaml:6: underlay.routers.r1.routing: \"ospf\": expected static or bgp"}},
		{"asn without bgp", "sdn: .\nnodes: [node1]\nunderlay:\n  routers:\n    r1:\n      asn: 65010\n      interfaces: [lan]\n",
			[]string{"lab.yaml:6: underlay.routers.r1.asn: only a router with routing: bgp"}},
		{"bad asn", "sdn: .\nnodes: [node1]\nunderlay:\n  routers:\n    r1:\n      routing: bgp\n      asn: 0\n      interfaces: [lan]\n",
			[]string{"lab.yaml:7: underlay.routers.r1.asn: \"0\" is not a number in 1..4294967294"}},
		{"bad upstream subnet6", "sdn: .\nnodes: [node1]\nupstream:\n  subnet6: 10.0.0.0/8\n",
			[]string{"lab.yaml:4: upstream.subnet6: \"10.0.0.0/8\" is not an IPv6 prefix"}},
		{"zone names a node the lab lacks", "sdn: .\nnodes: [node2]\n",
			[]string{"zones.cfg:", "nodes: node \"node1\" is not a cluster node"}},
		{"dhcp on a zone without dhcp", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v2, ip: dhcp}\n",
			[]string{"lab.yaml:4: guests.a.ip: dhcp: zone \"loc\" of vnet \"v2\" has no dhcp"}},
		{"dhcp and addresses", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v2, ip: dhcp, addresses: 10.9.0.5/24}\n",
			[]string{"lab.yaml:4: guests.a.ip: dhcp and addresses at once"}},
		{"tag on a VNet that is not VLAN-aware", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v2, tag: 5}\n",
			[]string{"lab.yaml:4: guests.a.tag: vm vlans are not allowed on vnet \"v2\""}},
		// Mistakes that reach the kernel are found before anything exists.
		{"gateway outside the vnet's subnets", "sdn: .\nnodes: [node1]\nguests:\n  a:\n    node: node1\n    vnet: v2\n    ip: 10.9.0.5/24\n    gateway: 10.7.7.1\n",
			[]string{"lab.yaml:8: guests.a.gateway: gateway 10.7.7.1 lies outside every subnet of vnet \"v2\" (10.9.0.0/24)"}},
		{"gateway not on the guest's link", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, ip: 10.5.0.2/24, gateway: 10.6.0.1}\n",
			[]string{"lab.yaml:4: guests.a.gateway: gateway 10.6.0.1 is not on the guest's link", "10.5.0.2/24"}},
		{"gateway without an address of its family", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, ip: 10.5.0.2/24, gateway6: 'fd00::1'}\n",
			[]string{"lab.yaml:4: guests.a.gateway6: gateway fd00::1 is not on the guest's link"}},
		{"gateway is the guest itself", "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, ip: 10.5.0.2/24, gateway: 10.5.0.2}\n",
			[]string{"lab.yaml:4: guests.a.gateway: gateway 10.5.0.2 is the guest's own address"}},
		{"IPv6 guest below 1280", "sdn: .\nnodes: [node1]\nguests:\n  a:\n    node: node1\n    vnet: v1\n    ip: 'fd00:5::2/64'\n    mtu: 1200\n",
			[]string{"lab.yaml:8: guests.a.mtu: MTU 1200 is below 1280, the IPv6 minimum"}},
		{"IPv6 segment below 1280", "sdn: .\nnodes: [node1]\nunderlay:\n  segments:\n    lan:\n      subnet: 10.1.0.0/24\n      subnet6: 'fd10::/64'\n      mtu: 1200\n",
			[]string{"lab.yaml:8: underlay.segments.lan.mtu: MTU 1200 is below 1280, the IPv6 minimum"}},
		{"IPv6 upstream below 1280", "sdn: .\nnodes: [node1]\nupstream:\n  subnet6: '2001:db8:1::/64'\n  mtu: 1000\n",
			[]string{"lab.yaml:5: upstream.mtu: MTU 1000 is below 1280, the IPv6 minimum"}},
		{"node gateway off the segment", "sdn: .\nnodes:\n  node1: {address: 10.1.0.1/24, gateway: 10.9.9.9}\n",
			[]string{"lab.yaml:3: nodes.node1.gateway: gateway 10.9.9.9 is not on the node's underlay link", "10.1.0.1/24"}},
		{"node gateway6 without IPv6", "sdn: .\nnodes:\n  node1: {address: 10.1.0.1/24, gateway: 'fd00::1'}\n",
			[]string{"lab.yaml:3: nodes.node1.gateway: gateway fd00::1 is not on the node's underlay link"}},
		{"node gateway is the node", "sdn: .\nnodes:\n  node1: {address: 10.1.0.1/24, gateway: 10.1.0.1}\n",
			[]string{"lab.yaml:3: nodes.node1.gateway: gateway 10.1.0.1 is the node's own address"}},
		{"several segments need one", "sdn: .\nnodes: [node1]\nunderlay:\n  segments:\n    a: {subnet: 10.1.0.0/24}\n    b: {subnet: 10.2.0.0/24}\n",
			[]string{"lab.yaml:2: nodes.node1.segment: missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeLab(t, tc.lab)
			_, err := Load(p, sdn.Compile)
			if err == nil {
				t.Fatal("no error")
			}
			be, ok := err.(interface{ BadInput() bool })
			if !ok || !be.BadInput() {
				t.Errorf("error is not bad input: %T", err)
			}
			msg := strings.ReplaceAll(err.Error(), filepath.Dir(p)+"/", "")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", msg, w)
				}
			}
		})
	}
}

// TestUpstreamBGP: the exit nodes' bgp controllers peer the upstream, which
// learns the SDN subnets over BGP instead of holding static routes.
func TestUpstreamBGP(t *testing.T) {
	l, err := Load("../scenarios/testdata/labs/evbgpup/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	up := l.Upstream()
	if up.BGP == nil || up.ASN != 65100 {
		t.Fatalf("upstream: routing %s, AS %d, bgp %v", up.Routing, up.ASN, up.BGP)
	}
	var peers []string
	for _, n := range up.BGP.Neighbors {
		peers = append(peers, fmt.Sprintf("%s %s AS%d from %s", n.Name, n.Addr, n.ASN, n.Local))
	}
	if g := strings.Join(peers, "; "); g != "node1 192.168.0.1 AS65000 from 192.168.0.254; node2 192.168.0.2 AS65000 from 192.168.0.254" {
		t.Errorf("neighbors: %s", g)
	}
	for _, rt := range up.Routes {
		if strings.HasPrefix(rt.Dst.String(), "10.0.") {
			t.Errorf("static route to an SDN subnet left on a BGP upstream: %v", rt)
		}
	}
}

func TestRoutes(t *testing.T) {
	l, err := Load("../examples/evpn-racks/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	r1, up := l.Router("r1"), l.Upstream()
	got := func(r *Router) string {
		var s []string
		for _, rt := range r.Routes {
			s = append(s, rt.Dst.String()+">"+rt.Via[0].String())
		}
		return strings.Join(s, " ")
	}
	if g := got(r1); g != "0.0.0.0/0>172.16.0.254 10.0.1.0/24>192.168.0.1 10.0.2.0/24>192.168.0.1" {
		t.Errorf("r1 routes: %s", g)
	}
	if g := got(up); g != "192.168.0.0/24>172.16.0.1 192.168.1.0/24>172.16.0.1 10.0.1.0/24>172.16.0.1 10.0.2.0/24>172.16.0.1" {
		t.Errorf("upstream routes: %s", g)
	}
	if l.Node("node3").Gateway4.String() != "192.168.1.254" {
		t.Errorf("node3 gateway %s", l.Node("node3").Gateway4)
	}
	if r1.Links[0].RPFilter != 1 || r1.Links[2].RPFilter != 2 {
		t.Errorf("rp_filter %+v", r1.Links)
	}
}

func TestDualStackUnderlay(t *testing.T) {
	p := writeLab(t, "sdn: .\nnodes:\n  node1: {address: [10.1.0.1/24, 'fd00::1/64']}\n  node2: {}\nunderlay:\n  segments:\n    lan: {subnet: 10.1.0.0/24, subnet6: 'fd00::/64', mtu: 9000}\n")
	l, err := Load(p, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := l.Node("node1"), l.Node("node2")
	if len(n1.Link.Addrs) != 2 || len(n2.Link.Addrs) != 2 || n2.Link.Addrs[1].String() != "fd00::2/64" {
		t.Fatalf("addresses %v %v", n1.Link.Addrs, n2.Link.Addrs)
	}
	for _, want := range []string{"iface vmbr0 inet static\n\taddress 10.1.0.1/24\n", "mtu 9000", "iface vmbr0 inet6 static\n\taddress fd00::1/64\n"} {
		if !strings.Contains(n1.InterfacesText, want) {
			t.Errorf("generated interfaces lack %q:\n%s", want, n1.InterfacesText)
		}
	}
	hi := l.Plans["node1"]
	if hi == nil {
		t.Fatal("no plan")
	}
}

// TestNodeNotAPeer: a node whose VTEP is not among the EVPN controller's
// peers is an error naming the node, the controller and its file:line; a
// node missing from a vxlan zone's peers is a warning (labs may be broken on
// purpose for a check that must fail).
func TestNodeNotAPeer(t *testing.T) {
	dir := copyDir(t, "../examples/evpn")
	lab := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(lab, []byte("sdn: .\nnodes: [node1, node2, node3, node4]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(lab, sdn.Compile)
	if err == nil {
		t.Fatal("no error")
	}
	msg := strings.ReplaceAll(err.Error(), dir+"/", "")
	for _, w := range []string{"lab.yaml:2: nodes.node4: node node4 (VTEP 192.168.0.4) is not among the peers of EVPN controller myevpnctl", "controllers.cfg:1", "peers 192.168.0.1,192.168.0.2,192.168.0.3"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error\n  %s\ndoes not contain\n  %s", msg, w)
		}
	}
	dir = copyDir(t, "../examples/vxlan")
	lab = filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(lab, []byte("sdn: .\nnodes: [node1, node2, node3, node4]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(lab, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "nodes.node4: node node4 (VTEP 192.168.0.4) is not among the peers of vxlan zone myvxlan") {
		t.Errorf("warnings %q", l.Warnings)
	}
}

// TestLabfileDoc loads the complete example of LABFILE.md (against the
// evpn-racks SDN configuration), so the reference stays true.
func TestLabfileDoc(t *testing.T) {
	b, err := os.ReadFile("LABFILE.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "```yaml\n")
	j := strings.Index(doc[i+8:], "```")
	if i < 0 || j < 0 {
		t.Fatal("no yaml block in LABFILE.md")
	}
	ex, _ := filepath.Abs("../examples")
	lab := strings.ReplaceAll(doc[i+8:i+8+j], "../examples/", ex+"/")
	p := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(p, []byte(lab), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(p, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "racksdoc" || l.Router("r1").ASN != 65010 || l.Router("r2").ASN != 65002 || l.Upstream().Name != "isp" {
		t.Errorf("name %s, asn %d %d", l.Name, l.Router("r1").ASN, l.Router("r2").ASN)
	}
	if got := prefixesText(l.Router("r1").BGPRoutes); got != "192.168.1.0/24" {
		t.Errorf("r1 learns %s", got)
	}
	if n := l.Node("node2"); n.Addr.String() != "192.168.0.2/24" || len(n.Link.Addrs) != 2 {
		t.Errorf("node2 addresses %v", n.Link.Addrs)
	}
	if g := l.Guest("vm13"); g.Addrs[0].String() != "10.0.1.13/24" || g.Gateway4.String() != "10.0.1.1" || g.Tap != "tap100i0" {
		t.Errorf("vm13: %v gw %s tap %s", g.Addrs, g.Gateway4, g.Tap)
	}
	if h := l.Host("inet"); !h.Gateway6.IsValid() {
		t.Error("inet has no IPv6 gateway")
	}
}

// ip: dhcp: the pve IPAM's mapping, the next free address of the dhcp-range
// in lab file order, skipping the gateway and static guests; a zone
// without ipam is refused; an exhausted range is an error.
func TestDHCPAddresses(t *testing.T) {
	cfg := map[string]string{
		"zones.cfg":   "simple: dz\n\tdhcp dnsmasq\n\tipam pve\n\nsimple: noipam\n\tdhcp dnsmasq\n",
		"vnets.cfg":   "vnet: v1\n\tzone dz\n\nvnet: v2\n\tzone noipam\n",
		"subnets.cfg": "subnet: dz-10.7.0.0-24\n\tvnet v1\n\tgateway 10.7.0.10\n\tdhcp-range start-address=10.7.0.10,end-address=10.7.0.13\n\nsubnet: noipam-10.8.0.0-24\n\tvnet v2\n\tgateway 10.8.0.1\n\tdhcp-range start-address=10.8.0.10,end-address=10.8.0.20\n",
	}
	write := func(lab string) string {
		dir := t.TempDir()
		for f, c := range cfg {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, "lab.yaml")
		if err := os.WriteFile(p, []byte(lab), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l, err := Load(write("sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, ip: dhcp}\n  s: {node: node1, vnet: v1, ip: 10.7.0.12/24}\n  b: {node: node1, vnet: v1, ip: dhcp}\n"), sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "10.7.0.11/24", "b": "10.7.0.13/24"} {
		g := l.Guest(name)
		if !g.DHCP || g.DHCPAddr.String() != want || g.DHCPGateway.String() != "10.7.0.10" || len(g.Addrs) != 0 {
			t.Errorf("guest %s: dhcp %v addr %s gw %s addrs %v, want %s via 10.7.0.10", name, g.DHCP, g.DHCPAddr, g.DHCPGateway, g.Addrs, want)
		}
	}
	for _, tc := range []struct{ lab, want string }{
		{"sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v2, ip: dhcp}\n", "lab.yaml:4: guests.a.ip: dhcp: zone \"noipam\" has no ipam"},
		{"sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1, ip: dhcp}\n  b: {node: node1, vnet: v1, ip: dhcp}\n  c: {node: node1, vnet: v1, ip: dhcp}\n  d: {node: node1, vnet: v1, ip: dhcp}\n",
			"lab.yaml:7: guests.d.ip: dhcp: no free address in the dhcp-ranges"},
	} {
		p := write(tc.lab)
		_, err := Load(p, sdn.Compile)
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), filepath.Dir(p)+"/", ""), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// A guest address outside its VNet's subnets is legal (a misconfigured VM
// is worth rehearsing): the lab loads, with a warning naming the line.
func TestGuestOutsideSubnetWarns(t *testing.T) {
	p := writeLab(t, "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v2, ip: 10.8.0.5/24}\n  b: {node: node1, vnet: v2, ip: 10.9.0.6/24}\n")
	l, err := Load(p, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "lab.yaml:4: guests.a.ip: address 10.8.0.5/24 is outside every subnet of vnet \"v2\" (10.9.0.0/24)") {
		t.Errorf("warnings %q", l.Warnings)
	}
}

// A VMID given to a later guest is not taken by an earlier automatic one.
func TestGivenVMIDReserved(t *testing.T) {
	p := writeLab(t, "sdn: .\nnodes: [node1]\nguests:\n  a: {node: node1, vnet: v1}\n  b: {node: node1, vnet: v1, vmid: 100}\n")
	l, err := Load(p, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := l.Guest("a"), l.Guest("b"); a.VMID != 101 || b.VMID != 100 || a.Tap != "tap101i0" {
		t.Errorf("vmids a %d (%s) b %d", a.VMID, a.Tap, b.VMID)
	}
}

// A gateway in a node's host interfaces file that the node cannot reach is
// refused before anything exists, naming the lab file's interfaces key.
func TestInterfacesGatewayOffLink(t *testing.T) {
	dir := copyDir(t, "../examples/evpn")
	f := filepath.Join(dir, "interfaces.node1")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(strings.Replace(string(b), "gateway 192.168.0.254", "gateway 10.7.7.1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(filepath.Join(dir, "lab.yaml"), sdn.Compile)
	if err == nil || !strings.Contains(err.Error(), "lab.yaml:10: nodes.node1.interfaces: gateway 10.7.7.1 is not on the node's underlay link") ||
		!strings.Contains(err.Error(), "interfaces.node1") {
		t.Fatalf("got %v", err)
	}
}

func TestMTUShortfall(t *testing.T) {
	if got, want := mtuShortfall(1450, true, 1500), "VNet MTU 1450 + 70 bytes of VXLAN over IPv6 = 1520 > segment MTU 1500"; got != want {
		t.Errorf("IPv6 underlay: %q, want %q", got, want)
	}
	if got, want := mtuShortfall(1450, false, 1480), "VNet MTU 1450 + 50 bytes of VXLAN over IPv4 = 1500 > segment MTU 1480"; got != want {
		t.Errorf("IPv4 underlay: %q, want %q", got, want)
	}
}

// A static route of a node's interfaces file goes through a neighbour on
// its link: one that is not is refused before anything exists, at the
// route's own line; examples/evpn-racks routes each rack to the other.
func TestInterfacesRoutes(t *testing.T) {
	l, err := Load("../examples/evpn-racks/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"node1": "192.168.1.0/24 via 192.168.0.254", "node2": "192.168.1.0/24 via 192.168.0.254", "node3": "192.168.0.0/24 via 192.168.1.254"}
	for _, n := range l.Nodes {
		var got []string
		for _, ifc := range n.host.Ifaces {
			for _, rt := range ifc.Routes {
				got = append(got, rt.Dst.String()+" via "+rt.Via.String())
			}
		}
		if len(got) != 1 || got[0] != want[n.Name] {
			t.Errorf("%s: routes %v, want %s", n.Name, got, want[n.Name])
		}
	}
	dir := copyDir(t, "../examples/evpn-racks")
	f := filepath.Join(dir, "interfaces.node3")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(strings.Replace(string(b), "via 192.168.1.254", "via 192.168.0.254", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(filepath.Join(dir, "lab.yaml"), sdn.Compile)
	if err == nil || !strings.Contains(err.Error(), "interfaces.node3:16: up: route to 192.168.0.0/24: 192.168.0.254 is not on vmbr0's link") {
		t.Fatalf("got %v", err)
	}
}

// TestUpstreamRoutesDualStack: dual-stack exit nodes are reached over IPv4
// for the IPv4 subnets and over IPv6 for the IPv6 ones (not only through
// their primary address, which left IPv6 subnets without a way back).
func TestUpstreamRoutesDualStack(t *testing.T) {
	l, err := Load("../scenarios/testdata/labs/evdual/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, rt := range l.Upstream().Routes {
		v := fmt.Sprint(rt.Via)
		s = append(s, rt.Dst.String()+">"+v)
	}
	got := strings.Join(s, " ")
	for _, want := range []string{
		"10.0.2.0/24>[192.168.0.1 192.168.0.2]",
		"fd00:1::/64>[fd00:10::1 fd00:10::2]",
		"fd00:2::/64>[fd00:10::1 fd00:10::2]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("upstream routes %s: missing %s", got, want)
		}
	}
}

// A node's frr_local is its /etc/frr/frr.conf.local: merged into that
// node's frr.conf only; a file that cannot be read is refused at its key.
func TestNodeFRRLocal(t *testing.T) {
	dir := copyDir(t, "../examples/evpn-racks")
	if err := os.WriteFile(filepath.Join(dir, "node2.local"), []byte("route-map MAP_SITE permit 10\n match evpn route-type 2\nexit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lab := filepath.Join(dir, "lab.yaml")
	b, err := os.ReadFile(lab)
	if err != nil {
		t.Fatal(err)
	}
	withLocal := strings.Replace(string(b), "node2: {segment: rack1, interfaces: interfaces.node2}", "node2: {segment: rack1, interfaces: interfaces.node2, frr_local: node2.local}", 1)
	if withLocal == string(b) {
		t.Fatal("lab file changed: node2's line not found")
	}
	if err := os.WriteFile(lab, []byte(withLocal), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(lab, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node1", "node2"} {
		got := strings.Contains(render.FRR(l.Plans[n], HostFRRVersion), "route-map MAP_SITE permit")
		if got != (n == "node2") {
			t.Errorf("%s: frr.conf has node2's frr.conf.local: %v", n, got)
		}
	}
	if err := os.WriteFile(lab, []byte(strings.Replace(withLocal, "node2.local", "missing.local", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(lab, sdn.Compile); err == nil || !strings.Contains(err.Error(), "lab.yaml:15: nodes.node2.frr_local: ") || !strings.Contains(err.Error(), "missing.local") {
		t.Fatalf("got %v", err)
	}
}

// up says which VRF model FRR nodes use and why, from the kernel's caps.
func TestVRFModelWhy(t *testing.T) {
	if got := vrfModelWhy(nsutil.Caps{}); got != "this kernel has no vrf devices" {
		t.Errorf("no vrf: %q", got)
	}
	if got := vrfModelWhy(nsutil.Caps{VRF: true}); !strings.Contains(got, "has vrf devices, but the lab's VRFs are namespaces on both engines") {
		t.Errorf("vrf: %q", got)
	}
}

// The fabric example: its mesh links, each node's ends, no warning (every
// fabric interface has its cable); a cable taken out is a warning naming
// the interface left without one.
func TestFabricLinks(t *testing.T) {
	l, err := Load("../examples/evpn-fabric/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.P2P) != 3 || len(l.Warnings) != 0 {
		t.Fatalf("links %v, warnings %q", l.P2P, l.Warnings)
	}
	if got := l.P2PBetween("node3", "node1"); len(got) != 1 || got[0].String() != "node1:ens20-node3:ens19" {
		t.Fatalf("node1-node3: %v", got)
	}
	if n := l.Node("node2"); strings.Join(n.P2P, ",") != "ens19,ens20" || !n.keep("ens20") {
		t.Fatalf("node2 ends %v", n.P2P)
	}
	src, err := os.ReadFile("../examples/evpn-fabric/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ents, _ := os.ReadDir("../examples/evpn-fabric")
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join("../examples/evpn-fabric", e.Name()))
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cut := strings.Replace(string(src), "    - [node2:ens20, node3:ens20]\n", "", 1)
	if err := os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = Load(filepath.Join(dir, "lab.yaml"), sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(l.Warnings, "\n")
	if !strings.Contains(w, "node node2 has no link on ens20") || !strings.Contains(w, "node node3 has no link on ens20") {
		t.Fatalf("warnings: %s", w)
	}
}

// Route reflectors: examples/evpn-rr resolves to two reflectors serving
// the three nodes; a reflector whose address is not among the
// controller's peers, or an unknown reflector kind, is bad input naming
// the lab file's line and field.
func TestReflectors(t *testing.T) {
	l, err := Load("../examples/evpn-rr/lab.yaml", sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range []string{"rr1", "rr2"} {
		if !l.IsReflector(rr) {
			t.Fatalf("%s is not a reflector", rr)
		}
	}
	for _, rt := range l.Routers {
		if rt.Reflector == nil {
			continue
		}
		clients := 0
		for _, n := range rt.Reflector.Neighbors {
			if n.RRClient {
				clients++
			}
		}
		if clients != 3 || len(rt.Reflector.Neighbors) != 3 || rt.Reflector.ASN != 65000 || rt.Reflector.ClusterID.String() != "192.168.0.201" {
			t.Errorf("%s: %d clients of %d neighbours, AS %d, cluster %s: want 3 clients only, AS 65000, cluster 192.168.0.201",
				rt.Name, clients, len(rt.Reflector.Neighbors), rt.Reflector.ASN, rt.Reflector.ClusterID)
		}
	}
	src, err := os.ReadFile("../examples/evpn-rr/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{"address: 192.168.0.202}", "address: 192.168.0.203}", "lab.yaml:24: underlay.routers.rr2.reflector: router rr2 (192.168.0.203) is not among the peers of EVPN controller myevpnctl"},
		{"reflector: evpn\n      interfaces: {lan: {address: 192.168.0.202}}", "reflector: ospf\n      interfaces: {lan: {address: 192.168.0.202}}", `lab.yaml:24: underlay.routers.rr2.reflector: "ospf": expected evpn`},
		{"reflector: evpn\n      interfaces: {lan: {address: 192.168.0.202}}", "reflector: evpn\n      engine: bird\n      interfaces: {lan: {address: 192.168.0.202}}", `lab.yaml:25: underlay.routers.rr2.engine: "bird": expected agent or frr`},
	} {
		dir := t.TempDir()
		for _, f := range []string{"controllers.cfg", "zones.cfg", "vnets.cfg", "subnets.cfg", "interfaces.node1", "interfaces.node2", "interfaces.node3"} {
			b, err := os.ReadFile(filepath.Join("../examples/evpn-rr", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		bad := strings.Replace(string(src), c.from, c.to, 1)
		if bad == string(src) {
			t.Fatalf("%q not in the example", c.from)
		}
		p := filepath.Join(dir, "lab.yaml")
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p, sdn.Compile)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: got %v, want %q", c.from, c.to, err, c.want)
		}
	}
}
