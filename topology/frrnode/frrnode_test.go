package frrnode

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/evpn"
)

// A trimmed `show bgp l2vpn evpn route detail json` of FRR 8.4: a local
// type 2 with both labels, a received type 3 (its VNI only in the PMSI
// label) and a received type 5 with a router MAC and a MAC mobility
// sequence.
const detailJSON = `{
  "numPrefix": 3,
  "192.0.2.1:5": {
    "rd": "192.0.2.1:5",
    "[2]:[0]:[48]:[bc:24:11:00:00:01]:[32]:[10.0.1.11]": {
      "paths": [[{"VNI": "11000/10000", "vni": "11000/10000", "valid": true, "local": true,
        "bestpath": {"overall": true},
        "extendedCommunity": {"string": "ET:8 RT:65000:11000 RT:65000:10000 Rmac:02:00:00:00:00:01"},
        "nexthops": [{"ip": "192.0.2.1"}], "peer": {"peerId": "0.0.0.0"}}]]
    }
  },
  "192.0.2.2:4": {
    "rd": "192.0.2.2:4",
    "[3]:[0]:[32]:[192.0.2.2]": {
      "paths": [[{"valid": true, "bestpath": {"overall": true},
        "extendedCommunity": {"string": "RT:65000:11000 ET:8"},
        "pmsi": {"tunnelType": "Ingress Replication", "label": 11000},
        "nexthops": [{"ip": "192.0.2.2"}], "peer": {"peerId": "192.0.2.2"}}]]
    },
    "[5]:[0]:[24]:[10.0.9.0]": {
      "paths": [[{"vni": "10000", "valid": true,
        "extendedCommunity": {"string": "RT:60904:10000 ET:8 MM:3, sticky MAC Rmac:02:00:00:00:00:02"},
        "nexthops": [{"ip": "192.0.2.2"}], "peer": {"peerId": "192.0.2.2"}}]]
    }
  }
}`

func TestRoutesOf(t *testing.T) {
	var table map[string]json.RawMessage
	if err := json.Unmarshal([]byte(detailJSON), &table); err != nil {
		t.Fatal(err)
	}
	rs, err := routesOf(table)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d routes, want 3: %+v", len(rs), rs)
	}
	t2, t3, t5 := rs[0], rs[1], rs[2]
	if t2.Type != evpn.TypeMACIP || t2.MAC != "bc:24:11:00:00:01" || t2.IP != netip.MustParseAddr("10.0.1.11") ||
		t2.VNI != 11000 || t2.L3VNI != 10000 || t2.Peer != "" || !t2.Best || t2.RouterMAC != "02:00:00:00:00:01" ||
		strings.Join(t2.RTs, ",") != "65000:11000,65000:10000" {
		t.Errorf("type 2: %+v", t2)
	}
	if t3.Type != evpn.TypeIMET || t3.VNI != 11000 || t3.Peer != "192.0.2.2" || t3.IP != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("type 3 (VNI from the PMSI label): %+v", t3)
	}
	if t5.Type != evpn.TypePrefix || t5.Prefix != netip.MustParsePrefix("10.0.9.0/24") || t5.VNI != 10000 ||
		t5.Seq != 3 || !t5.HasSeq || !t5.Sticky || t5.Best || t5.NextHop != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("type 5: %+v", t5)
	}
	if _, err := parsePrefix("[9]"); err == nil {
		t.Error("a malformed prefix was accepted")
	}
}

func TestLeakFilter(t *testing.T) {
	in := &Instance{VRFs: map[string]string{"vrf_z": "ns"}, Leaked: []netip.Prefix{
		netip.MustParsePrefix("10.0.1.0/24"), netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("fd00:1::/64"), netip.MustParsePrefix("::/0"), netip.MustParsePrefix("10.0.1.0/24")}}
	got := strings.Join(in.LeakFilter(), "\n")
	for _, want := range []string{
		"ip prefix-list SDNLAB_NETNS_VRF_LEAK seq 1 permit 10.0.1.0/24 le 32",
		"ip prefix-list SDNLAB_NETNS_VRF_LEAK seq 2 permit 0.0.0.0/0\n", // the default alone, not every route
		"ipv6 prefix-list SDNLAB_NETNS_VRF_LEAK_V6 seq 1 permit fd00:1::/64 le 128",
		"ipv6 prefix-list SDNLAB_NETNS_VRF_LEAK_V6 seq 2 permit ::/0\n",
		"ip protocol bgp route-map SDNLAB_NETNS_VRF_LEAK",
	} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Count(got, "10.0.1.0/24") != 1 {
		t.Errorf("duplicate prefix:\n%s", got)
	}
	if (&Instance{Leaked: in.Leaked}).LeakFilter() != nil {
		t.Error("a filter without namespace VRFs")
	}
	// A BGP fabric's frr.conf has its own zebra route-map for IPv4: the
	// deny entry goes in front of it; IPv6 keeps the lab's own map.
	in.Conf = "route-map pve_bgp permit 100\nexit\n!\nip protocol bgp route-map pve_bgp\n"
	got = strings.Join(in.LeakFilter(), "\n") + "\n"
	for _, want := range []string{"route-map pve_bgp deny 1\n match ip address prefix-list SDNLAB_NETNS_VRF_LEAK\n",
		"route-map SDNLAB_NETNS_VRF_LEAK deny 2\n", "ipv6 protocol bgp route-map SDNLAB_NETNS_VRF_LEAK\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "ip protocol bgp route-map SDNLAB") && !strings.Contains(got, "ipv6 protocol bgp route-map SDNLAB") {
		t.Errorf("a second IPv4 protocol route-map:\n%s", got)
	}
	if strings.Contains(got, "\nip protocol bgp route-map SDNLAB") {
		t.Errorf("a second IPv4 protocol route-map:\n%s", got)
	}
}

func TestDaemonsFor(t *testing.T) {
	got := strings.Join(DaemonsFor("router bgp 65000\n!\nrouter openfabric f1\n"), ",")
	if got != "bgpd,bfdd,fabricd" {
		t.Errorf("daemons %s", got)
	}
	d := (&Instance{Daemons: []string{"bgpd", "bfdd"}, VRFs: map[string]string{"vrf_z": "x"}}).daemonsFile()
	for _, want := range []string{"bgpd=yes", `frr_profile="datacenter"`, " -n --log file:/var/run/frr/zebra.log", "staticd_options="} {
		if !strings.Contains(d, want) {
			t.Errorf("daemons file lacks %q:\n%s", want, d)
		}
	}
}
