package config_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// Proxmox VE 9 parses these; each is a case where sdnlab was once
// stricter than Proxmox. The reject cases below are the other side: what
// Proxmox refuses and sdnlab must refuse too.
func TestProxmox9Accepts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		check func(t *testing.T, c *config.Config)
	}{
		{"space indentation", map[string]string{
			"fabrics.cfg": lines("openfabric_fabric: of1", "    ip_prefix 10.20.0.0/24", "", "openfabric_node: of1_pve1", "  ip 10.20.0.1", "\t  interfaces name=ens19"),
			"zones.cfg":   lines("simple: s1", "    mtu 1400"),
		}, func(t *testing.T, c *config.Config) {
			if c.Zones["s1"].MTU != 1400 || c.Fabrics["of1"].Nodes["pve1"].Interfaces[0].Name != "ens19" {
				t.Errorf("space-indented values not read: %+v", c.Fabrics["of1"].Nodes["pve1"])
			}
		}},
		{"trailing comma", map[string]string{
			"fabrics.cfg": lines("openfabric_fabric: of1", "\tip_prefix 10.20.0.0/24", "", "openfabric_node: of1_pve1", "\tip 10.20.0.1", "\tinterfaces name=ens19,", "\tinterfaces name=ens20,hello_multiplier=3,"),
		}, func(t *testing.T, c *config.Config) {
			ifs := c.Fabrics["of1"].Nodes["pve1"].Interfaces
			if len(ifs) != 2 || ifs[0].Name != "ens19" || ifs[1].HelloMultiplier != 3 {
				t.Errorf("interfaces = %+v", ifs)
			}
		}},
		{"ip_prefix host bits kept", map[string]string{
			"fabrics.cfg": lines("ospf_fabric: o1", "\tarea 0", "\tip_prefix 10.10.10.10/24", "", "ospf_node: o1_pve1", "\tip 10.10.10.1"),
		}, func(t *testing.T, c *config.Config) {
			if got := c.Fabrics["o1"].IPPrefix.String(); got != "10.10.10.10/24" {
				t.Errorf("ip_prefix = %s, want it as written", got)
			}
		}},
		{"dhcp-range trailing comma", map[string]string{
			"zones.cfg":   lines("simple: sz", "  ipam pve", "  dhcp dnsmasq"),
			"vnets.cfg":   lines("vnet: sv", "  zone sz"),
			"subnets.cfg": lines("subnet: sz-10.0.0.0-24", "  vnet sv", "  gateway 10.0.0.1", "  dhcp-range start-address=10.0.0.10,end-address=10.0.0.20,"),
		}, func(t *testing.T, c *config.Config) {
			if r := c.Subnets["sz-10.0.0.0-24"].DHCPRanges; len(r) != 1 || r[0].End.String() != "10.0.0.20" {
				t.Errorf("dhcp ranges = %v", r)
			}
		}},
		{"one-character fabric id", map[string]string{
			"fabrics.cfg": lines("openfabric_fabric: a", "\tip_prefix 10.20.0.0/24"),
		}, nil},
		{"prefix lists and route maps", map[string]string{
			"prefix-lists.cfg": lines("prefix-list: lo-only", "  entries action=permit,prefix=10.20.0.0/24,le=32,seq=10", "  entries action=deny,prefix=0.0.0.0/0,le=32,seq=20,",
				"", "prefix-list: v6", "  entries action=permit,prefix=fd20::/48,ge=64,le=128,seq=5"),
			"route-maps.cfg": lines("route-map-entry: to_upstream_10", "  action permit", "  match key=ip-address-prefix-list,value=lo-only", "  set key=local-preference,value=+20", "  set key=metric,value=rtt", "  exit-action key=on-match-goto,value=30",
				"", "route-map-entry: to_upstream_30", "  action deny", "  match key=route-type,value=macip", "  call other",
				"", "route-map-entry: other_5", "  action permit", "  set key=ip-next-hop-unchanged"),
		}, func(t *testing.T, c *config.Config) {
			if pl := c.PrefixLists["lo-only"]; pl == nil || len(pl.Entries) != 2 || pl.Entries[1].Seq != 20 {
				t.Errorf("prefix list = %+v", pl)
			}
			rm := c.RouteMaps["to_upstream"]
			if len(rm) != 2 || rm[0].Order != 10 || rm[0].Match[0].String() != "ip address prefix-list lo-only" || rm[0].ExitAction != "on-match goto 30" || rm[1].Call != "other" {
				t.Errorf("route map = %+v", rm)
			}
		}},
		{"bgp fabric", map[string]string{
			"prefix-lists.cfg": lines("prefix-list: lo", "\tentries action=permit,prefix=10.30.0.0/24,le=32,seq=5"),
			"route-maps.cfg":   lines("route-map-entry: in_10", "\taction permit"),
			"fabrics.cfg": lines("bgp_fabric: b1", "\tip_prefix 10.30.0.0/24", "\tbfd 1", "\tredistribute source=connected,route-map=in", "\troute_filter lo", "\troute_map_in in",
				"", "bgp_node: b1_pve1", "\trole internal", "\tasn 65001", "\tip 10.30.0.1", "\tinterfaces name=ens19,", "\tinterfaces name=ens20",
				"", "bgp_node: b1_tor", "\trole external", "\tip 10.30.0.254", "\tpeer_ip 192.0.2.1"),
		}, func(t *testing.T, c *config.Config) {
			f := c.Fabrics["b1"]
			if !f.BFD || f.RouteFilter != "lo" || len(f.Redistribute) != 1 || f.Nodes["pve1"].ASN != 65001 || f.Nodes["tor"].Internal() {
				t.Errorf("bgp fabric = %+v", f)
			}
		}},
		{"wireguard fabric", map[string]string{
			"fabrics.cfg": lines("wireguard_fabric: wg1", "",
				"wireguard_node: wg1_remote", "    role external", "    endpoint 192.0.2.1:51820", "    public_key "+testWGKey,
				"", "wireguard_node: wg1_pve1", "    role internal", "    endpoint 192.0.2.2", "    interfaces name=wg0,listen_port=51820,public_key="+testWGKey+",ip=10.40.0.1/24",
				"    peers type=internal,node=pve2,node_iface=wg0,iface=wg0", "    peers type=external,node=remote,iface=wg0,allowed_ips=10.99.0.0/16;10.98.0.0/16",
				"", "wireguard_node: wg1_pve2", "    role internal", "    interfaces name=wg0,listen_port=51820,public_key="+testWGKey+",ip=10.40.0.2/24",
				"    peers type=internal,node=pve1,node_iface=wg0,iface=wg0,comment=x"),
		}, func(t *testing.T, c *config.Config) {
			n := c.Fabrics["wg1"].Nodes["pve1"]
			if n.WG == nil || len(n.WG.Peers) != 2 || len(n.WG.Peers[1].AllowedIPs) != 2 {
				t.Errorf("wireguard node = %+v", n)
			}
		}},
		{"ospf network_type, redistribute, route_filter", map[string]string{
			"prefix-lists.cfg": lines("prefix-list: lo", "\tentries action=permit,prefix=10.60.0.0/24,le=32,seq=5"),
			"fabrics.cfg": lines("ospf_fabric: o1", "\tarea 0.0.0.0", "\tip_prefix 10.60.0.0/24", "\troute_filter lo", "\tredistribute source=connected,metric=0", "\tredistribute source=static,route-map=rm",
				"", "ospf_node: o1_pve1", "\tip 10.60.0.1", "\tinterfaces name=ens19,network_type=broadcast,ip=10.61.0.1/24"),
		}, func(t *testing.T, c *config.Config) {
			f := c.Fabrics["o1"]
			if len(f.Redistribute) != 2 || !f.Redistribute[0].HasMetric || f.Nodes["pve1"].Interfaces[0].NetworkType != "broadcast" {
				t.Errorf("ospf fabric = %+v", f)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(writeDir(t, tc.files), registry.Config())
			if err != nil {
				t.Fatalf("Proxmox accepts this; sdnlab refused: %v", err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

const testWGKey = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="

func TestProxmox9Rejects(t *testing.T) {
	of := func(extra ...string) string {
		return lines(append([]string{"openfabric_fabric: of1", "\tip_prefix 10.20.0.0/24", "", "openfabric_node: of1_pve1", "\tip 10.20.0.1"}, extra...)...)
	}
	for _, tc := range []struct {
		name   string
		files  map[string]string
		prefix string // file:line: field:
		msg    string
	}{
		{"reserved prefix list only_default", map[string]string{"prefix-lists.cfg": lines("prefix-list: only_default", "\tentries action=permit,prefix=0.0.0.0/0,seq=1")}, "prefix-lists.cfg:1: id:", "reserved"},
		{"reserved prefix list only_default_v6", map[string]string{"prefix-lists.cfg": lines("prefix-list: only_default_v6")}, "prefix-lists.cfg:1: id:", "reserved"},
		{"reserved prefix list loopbacks_ips", map[string]string{"prefix-lists.cfg": lines("prefix-list: loopbacks_ips")}, "prefix-lists.cfg:1: id:", "reserved"},
		{"reserved route map MAP_VTEP_IN", map[string]string{"route-maps.cfg": lines("route-map-entry: MAP_VTEP_IN_1", "\taction permit")}, "route-maps.cfg:1: id:", "reserved"},
		{"reserved route map MAP_VTEP_OUT", map[string]string{"route-maps.cfg": lines("route-map-entry: MAP_VTEP_OUT_1", "\taction permit")}, "route-maps.cfg:1: id:", "reserved"},
		{"reserved route map correct_src", map[string]string{"route-maps.cfg": lines("route-map-entry: correct_src_1", "\taction permit")}, "route-maps.cfg:1: id:", "reserved"},
		{"reserved route map pve_", map[string]string{"route-maps.cfg": lines("route-map-entry: pve_openfabric_1", "\taction permit")}, "route-maps.cfg:1: id:", "reserved"},
		{"route map entry without order", map[string]string{"route-maps.cfg": lines("route-map-entry: upstream", "\taction permit")}, "route-maps.cfg:1: id:", "NAME_ORDER"},
		{"route map needs action", map[string]string{"route-maps.cfg": lines("route-map-entry: rm_1", "\tcall x")}, "route-maps.cfg:1: action:", "missing"},
		{"route map set needs value", map[string]string{"route-maps.cfg": lines("route-map-entry: rm_1", "\taction permit", "\tset key=weight")}, "route-maps.cfg:3: set:", "needs a value"},
		{"route map unknown match", map[string]string{"route-maps.cfg": lines("route-map-entry: rm_1", "\taction permit", "\tmatch key=community,value=x")}, "route-maps.cfg:3: match:", "key must be one of"},
		{"route map route-type", map[string]string{"route-maps.cfg": lines("route-map-entry: rm_1", "\taction permit", "\tmatch key=route-type,value=5")}, "route-maps.cfg:3: match:", "want ead, macip"},
		{"prefix list le below length", map[string]string{"prefix-lists.cfg": lines("prefix-list: pl", "\tentries action=permit,prefix=10.0.0.0/24,le=16,seq=5")}, "prefix-lists.cfg:2: entries:", "less than the prefix length"},
		{"prefix list ge above le", map[string]string{"prefix-lists.cfg": lines("prefix-list: pl", "\tentries action=permit,prefix=10.0.0.0/24,ge=30,le=28,seq=5")}, "prefix-lists.cfg:2: entries:", "greater than le"},
		{"prefix list needs seq", map[string]string{"prefix-lists.cfg": lines("prefix-list: pl", "\tentries action=permit,prefix=10.0.0.0/24")}, "prefix-lists.cfg:2: entries:", "missing seq="},
		{"prefix list seq twice", map[string]string{"prefix-lists.cfg": lines("prefix-list: pl", "\tentries action=permit,prefix=10.0.0.0/24,seq=5", "\tentries action=deny,prefix=10.0.0.0/8,seq=5")}, "prefix-lists.cfg:3: entries:", "already used"},
		{"kebab-case interface key", map[string]string{"fabrics.cfg": of("\tinterfaces name=ens19,hello-multiplier=3")}, "fabrics.cfg:6: interfaces:", `unknown key "hello-multiplier"`},
		{"interface without name=", map[string]string{"fabrics.cfg": of("\tinterfaces ens19")}, "fabrics.cfg:6: interfaces:", "is not key=value"},
		{"empty key", map[string]string{"fabrics.cfg": of("\tinterfaces name=ens19,=3")}, "fabrics.cfg:6: interfaces:", `unknown key ""`},
		{"double trailing comma", map[string]string{"fabrics.cfg": of("\tinterfaces name=ens19,,")}, "fabrics.cfg:6: interfaces:", "is not key=value"},
		{"node without ip6 of a dual-stack fabric", map[string]string{"fabrics.cfg": lines("openfabric_fabric: of1", "\tip_prefix 10.20.0.0/24", "\tip6_prefix fd20::/64", "", "openfabric_node: of1_pve1", "\tip 10.20.0.1")}, "fabrics.cfg:5: ip6:", "needs an ip6"},
		{"interface in two fabrics", map[string]string{"fabrics.cfg": of("\tinterfaces name=ens19", "", "openfabric_fabric: of2", "\tip_prefix 10.21.0.0/24", "", "openfabric_node: of2_pve1", "\tip 10.21.0.1", "\tinterfaces name=ens19")}, "fabrics.cfg:13: interfaces:", "already in fabric of1"},
		{"overlapping prefixes", map[string]string{"fabrics.cfg": lines("openfabric_fabric: of1", "\tip_prefix 10.20.0.0/16", "", "openfabric_fabric: of2", "\tip_prefix 10.20.5.0/24")}, "fabrics.cfg:5: ip_prefix:", "overlaps 10.20.0.0/16 of fabric of1"},
		{"ospf area twice", map[string]string{"fabrics.cfg": lines("ospf_fabric: o1", "\tarea 0", "\tip_prefix 10.20.0.0/24", "", "ospf_fabric: o2", "\tarea 0.0.0.0", "\tip_prefix 10.21.0.0/24")}, "fabrics.cfg:6: area:", "already used by ospf fabric o1"},
		{"ospf ip6_prefix", map[string]string{"fabrics.cfg": lines("ospf_fabric: o1", "\tarea 0", "\tip_prefix 10.20.0.0/24", "\tip6_prefix fd00::/64")}, "fabrics.cfg:4: ip6_prefix:", "not supported"},
		{"ospf network_type", map[string]string{"fabrics.cfg": lines("ospf_fabric: o1", "\tarea 0", "\tip_prefix 10.20.0.0/24", "", "ospf_node: o1_pve1", "\tip 10.20.0.1", "\tinterfaces name=ens19,network_type=p2p")}, "fabrics.cfg:7: interfaces:", "network_type"},
		{"bgp internal node needs asn", map[string]string{"fabrics.cfg": lines("bgp_fabric: b1", "\tip_prefix 10.30.0.0/24", "", "bgp_node: b1_pve1", "\trole internal", "\tip 10.30.0.1")}, "fabrics.cfg:4: asn:", "missing"},
		{"bgp node role", map[string]string{"fabrics.cfg": lines("bgp_fabric: b1", "\tip_prefix 10.30.0.0/24", "", "bgp_node: b1_pve1", "\trole spine", "\tip 10.30.0.1")}, "fabrics.cfg:5: role:", "want internal or external"},
		{"bgp node ip6 twice", map[string]string{"fabrics.cfg": lines("bgp_fabric: b1", "\tip6_prefix fd30::/64", "", "bgp_node: b1_pve1", "\trole internal", "\tasn 1", "\tip6 fd30::1", "", "bgp_node: b1_pve2", "\trole internal", "\tasn 2", "\tip6 fd30::1")}, "fabrics.cfg:12: ip6:", "already used"},
		{"bgp redistribute source", map[string]string{"fabrics.cfg": lines("bgp_fabric: b1", "\tip_prefix 10.30.0.0/24", "\tredistribute source=bgp")}, "fabrics.cfg:3: redistribute:", "want one of"},
		{"wireguard peer interface", map[string]string{"fabrics.cfg": lines("wireguard_fabric: wg1", "", "wireguard_node: wg1_pve1", "\trole internal", "\tinterfaces name=wg0,listen_port=1,public_key="+testWGKey, "\tpeers type=internal,node=pve2,node_iface=wg9,iface=wg0")}, "fabrics.cfg:6: peers:", `non-existing interface "wg9" on node "pve2"`},
		{"wireguard external endpoint needs a port", map[string]string{"fabrics.cfg": lines("wireguard_fabric: wg1", "", "wireguard_node: wg1_x", "\trole external", "\tendpoint 192.0.2.1", "\tpublic_key "+testWGKey)}, "fabrics.cfg:5: endpoint:", "not host:port"},
		{"wireguard external needs key", map[string]string{"fabrics.cfg": lines("wireguard_fabric: wg1", "", "wireguard_node: wg1_x", "\trole external", "\tendpoint 192.0.2.1:1")}, "fabrics.cfg:3: public_key:", "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, tc.files)
			_, err := config.Load(dir, registry.Config())
			if err == nil {
				t.Fatalf("Proxmox refuses this; sdnlab accepted it")
			}
			var l config.ErrorList
			if !errors.As(err, &l) {
				t.Fatalf("want an ErrorList, got %T", err)
			}
			want := filepath.Join(dir, tc.prefix)
			for _, e := range l {
				if s := e.Error(); strings.HasPrefix(s, want+" ") && strings.Contains(s, tc.msg) {
					return
				}
			}
			t.Errorf("no error %q ... %q in:\n%v", want, tc.msg, err)
		})
	}
}

func TestBGPRouterIDFromIPv6(t *testing.T) {
	a, ok := config.BGPRouterID(&config.FabricNode{IP6: netip.MustParseAddr("fd30::1")})
	b, _ := config.BGPRouterID(&config.FabricNode{IP6: netip.MustParseAddr("fd30::2")})
	if !ok || !a.Is4() || a == b {
		t.Errorf("router ids %s %s: want distinct IPv4 hashes", a, b)
	}
	if c, _ := config.BGPRouterID(&config.FabricNode{IP: netip.MustParseAddr("10.0.0.1"), IP6: netip.MustParseAddr("fd30::1")}); c.String() != "10.0.0.1" {
		t.Errorf("router id with ip set = %s, want the ip", c)
	}
}

// A reference to an undefined route map or prefix list renders (FRR takes
// it as deny-all) but validate refuses it.
func TestPolicyReferencesStrict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"controller route-map-in", map[string]string{"controllers.cfg": lines("evpn: e1", "\tasn 65000", "\tpeers 10.0.0.1", "\troute-map-in nothere")}, `controllers.cfg:4: route-map-in: route map "nothere" is not defined`},
		{"fabric route_filter", map[string]string{"fabrics.cfg": lines("openfabric_fabric: of1", "\tip_prefix 10.0.0.0/24", "\troute_filter nothere")}, `fabrics.cfg:3: route_filter: prefix list "nothere" is not defined`},
		{"route map call", map[string]string{"route-maps.cfg": lines("route-map-entry: rm_1", "\taction permit", "\tcall nothere")}, `route-maps.cfg:1: call: route map "nothere" is not defined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, tc.files)
			c, err := config.Load(dir, registry.Config())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := c.Strict(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tc.want)) {
				t.Errorf("Strict() = %v, want %q", err, tc.want)
			}
		})
	}
	c, err := config.Load(writeDir(t, map[string]string{
		"controllers.cfg": lines("evpn: e1", "\tasn 65000", "\tpeers 10.0.0.1", "\troute-map-in rm"),
		"route-maps.cfg":  lines("route-map-entry: rm_1", "\taction permit"),
	}), registry.Config())
	if err != nil || c.Strict() != nil || c.Controllers["e1"].RouteMapIn != "rm" {
		t.Errorf("defined route map: err %v, strict %v", err, c.Strict())
	}
}

// priv/wg-keys.cfg holds secrets: a bad line is named, its key never echoed.
func TestWGKeys(t *testing.T) {
	good := "8eGVML3r4VizV/p91qjo9vlUYXr6wuzm/wt80726rtQ="
	dir := writeDir(t, map[string]string{"fabrics.cfg": lines("wireguard_fabric: wg")})
	if err := os.MkdirAll(filepath.Join(dir, "priv"), 0o700); err != nil {
		t.Fatal(err)
	}
	secret := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"
	if err := os.WriteFile(filepath.Join(dir, "priv", "wg-keys.cfg"), []byte(lines("node: pve1", "\tprivate_keys name=wg0,key="+good, "\tprivate_keys name=wg1,key="+secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(dir, registry.Config())
	if err == nil || !strings.Contains(err.Error(), "wg-keys.cfg:3: private_keys: the key of interface wg1 is not a WireGuard key") {
		t.Fatalf("want the bad key named by interface, got %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error echoes the key: %v", err)
	}
	if c.WGKeys["pve1"]["wg0"] != good {
		t.Errorf("good key not read: %v", c.WGKeys["pve1"] != nil)
	}
}
