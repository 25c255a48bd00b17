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
)

func TestParseInterfacesReader(t *testing.T) {
	in := lines(
		"# host network",
		"auto lo",
		"iface lo inet loopback",
		"",
		"iface eno1 inet manual",
		"",
		"auto vmbr0",
		"iface vmbr0 inet static",
		"\taddress 198.51.100.7/24",
		"        gateway 198.51.100.1",
		"\tbridge-ports eno1 eno2",
		"\tbridge-stp off",
		"\tbridge-vlan-aware yes",
		"\tbridge-vids 2-4094",
		"\tmtu 9000",
		"",
		"iface vmbr0 inet6 static",
		"\taddress fd00:7::7/64",
		"\tgateway fd00:7::1",
		"",
		"allow-hotplug vmbr1",
		"iface vmbr1",
		"\taddress 203.0.113.9",
		"\tnetmask 255.255.255.128",
		"\tbridge_ports none",
		"\tpost-up echo \\",
		"\t  hello",
	)
	hi, err := config.ParseInterfacesReader("/nonexistent/interfaces", strings.NewReader(strings.ReplaceAll(in, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"lo", "eno1", "vmbr0", "vmbr1"}; !reflect.DeepEqual(hi.Order, want) {
		t.Errorf("order %v, want %v", hi.Order, want)
	}
	v := hi.Ifaces["vmbr0"]
	if !v.Auto || v.Method4 != "static" || v.Method6 != "static" || v.MTU != 9000 || !v.BridgeVlanAware ||
		!reflect.DeepEqual(v.BridgePorts, []string{"eno1", "eno2"}) ||
		!reflect.DeepEqual(v.Addresses, []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24"), netip.MustParsePrefix("fd00:7::7/64")}) ||
		v.Gateway != netip.MustParseAddr("198.51.100.1") || v.Gateway6 != netip.MustParseAddr("fd00:7::1") ||
		v.Pos.Line != 8 {
		t.Errorf("vmbr0: %+v", v)
	}
	if got := v.Other["bridge-vids"]; !reflect.DeepEqual(got, []string{"2-4094"}) {
		t.Errorf("Other[bridge-vids] = %v", got)
	}
	b1 := hi.Ifaces["vmbr1"]
	if !b1.Auto || b1.Method4 != "" || len(b1.BridgePorts) != 0 ||
		!reflect.DeepEqual(b1.Addresses, []netip.Prefix{netip.MustParsePrefix("203.0.113.9/25")}) {
		t.Errorf("vmbr1: %+v", b1)
	}
	if got := b1.Other["post-up"]; !reflect.DeepEqual(got, []string{"echo hello"}) {
		t.Errorf("continuation line: %q", got)
	}
	if _, ok := hi.Bridge("vmbr1"); !ok {
		t.Error("vmbr1 (bridge_ports none) must count as a Linux bridge")
	}
	if _, ok := hi.Bridge("eno1"); ok {
		t.Error("eno1 is not a bridge")
	}
	if hi.Ifaces["lo"].Method4 != "loopback" || hi.Ifaces["eno1"].Auto {
		t.Errorf("lo/eno1 wrong: %+v %+v", hi.Ifaces["lo"], hi.Ifaces["eno1"])
	}
}

func TestParseInterfacesOVS(t *testing.T) {
	hi, err := config.ParseInterfacesReader("i", strings.NewReader(lines(
		"auto ens18",
		"iface ens18 inet manual",
		"    ovs_type OVSPort",
		"    ovs_bridge vmbr9",
		"",
		"auto vmbr9",
		"iface vmbr9 inet manual",
		"    ovs_type OVSBridge",
		"    ovs_ports ens18 mgmt",
	)))
	if err != nil {
		t.Fatal(err)
	}
	b := hi.Ifaces["vmbr9"]
	if b.OVSType != "OVSBridge" || !reflect.DeepEqual(b.OVSPorts, []string{"ens18", "mgmt"}) {
		t.Errorf("vmbr9: %+v", b)
	}
	if p := hi.Ifaces["ens18"]; p.OVSType != "OVSPort" || p.OVSBridge != "vmbr9" {
		t.Errorf("ens18: %+v", p)
	}
	if ovs, ok := hi.Bridge("vmbr9"); !ovs || !ok {
		t.Error("vmbr9 must be an OVS bridge")
	}
}

func TestParseInterfacesSource(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "interfaces.d"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "more"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "interfaces"), []byte(lines(
		"auto vmbr0",
		"iface vmbr0 inet manual",
		"\tbridge-ports eth0",
		"",
		"source interfaces.d/*",
		"source-directory more",
	)), 0o644))
	must(os.WriteFile(filepath.Join(dir, "interfaces.d", "b"), []byte(lines("iface vmbr2 inet manual", "\tbridge-ports none")), 0o644))
	must(os.WriteFile(filepath.Join(dir, "interfaces.d", "a"), []byte(lines("auto vmbr1", "iface vmbr1 inet manual", "\tbridge-ports none")), 0o644))
	must(os.WriteFile(filepath.Join(dir, "more", "c"), []byte(lines("iface vmbr3 inet manual")), 0o644))
	must(os.WriteFile(filepath.Join(dir, "more", "skip.bak"), []byte(lines("iface skipped inet manual")), 0o644))
	hi, err := config.ParseInterfaces(filepath.Join(dir, "interfaces"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"vmbr0", "vmbr1", "vmbr2", "vmbr3"}; !reflect.DeepEqual(hi.Order, want) {
		t.Errorf("order %v, want %v (globs sorted, run-parts names only)", hi.Order, want)
	}
	if p := hi.Ifaces["vmbr2"].Pos; p.File != filepath.Join(dir, "interfaces.d", "b") || p.Line != 1 {
		t.Errorf("vmbr2 pos %v", p)
	}

	// A missing plain include and an include cycle are errors naming the line.
	must(os.WriteFile(filepath.Join(dir, "loop"), []byte(lines("source loop", "source nothere")), 0o644))
	_, err = config.ParseInterfaces(filepath.Join(dir, "loop"))
	want := []string{
		filepath.Join(dir, "loop") + ":1: source: " + filepath.Join(dir, "loop") + " is included twice",
		filepath.Join(dir, "loop") + ":2: source: " + filepath.Join(dir, "nothere") + " does not exist",
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in %v", w, err)
		}
	}
}

func TestParseInterfacesErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{lines("  address 10.0.0.1/24"), "i:1: address: option line outside an iface stanza"},
		{lines("iface a inet static", "\taddress 10.0.0.1/33"), "i:2: address: \"10.0.0.1/33\" is not an address/prefixlen"},
		{lines("iface a inet static", "\taddress 10.0.0.1", "\tnetmask 255.0.255.0"), "i:3: netmask: \"255.0.255.0\" is not a netmask"},
		{lines("iface a inet static", "\tgateway nope"), "i:2: gateway: \"nope\" is not an IP address"},
		{lines("iface a inet static", "\tmtu 20"), "i:2: mtu: \"20\" is not an MTU in 68-65535"},
		{lines("iface a inet manual", "\tbridge-vlan-aware maybe"), "i:2: bridge-vlan-aware: \"maybe\" is not yes or no"},
		{lines("iface a ipx static"), "i:1: iface: unknown address family \"ipx\""},
		{lines("iface a inet sometimes"), "i:1: iface: unknown method \"sometimes\""},
		{lines("iface a inet manual", "", "iface a inet static"), "i:3: iface: second inet stanza for a"},
		{lines("mapping eth0"), "i:1: mapping: \"mapping\" stanzas are not supported"},
	}
	for _, tc := range cases {
		_, err := config.ParseInterfacesReader("i", strings.NewReader(tc.in))
		var l config.ErrorList
		if !errors.As(err, &l) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
	// ifupdown2 tolerates an IPv6 address in an inet stanza: a warning only.
	hi, err := config.ParseInterfacesReader("i", strings.NewReader(lines("iface a inet static", "\taddress fd00::2/64", "\tgateway fd00::1")))
	if err != nil || len(hi.Warnings) != 2 || hi.Ifaces["a"].Gateway6 != netip.MustParseAddr("fd00::1") {
		t.Errorf("family mismatch: %v, warnings %v", err, hi.Warnings)
	}
}

func TestParseInterfacesUpRoutes(t *testing.T) {
	hi, err := config.ParseInterfacesReader("i", strings.NewReader(lines(
		"iface vmbr0 inet static",
		"\taddress 192.168.0.1/24",
		"\tgateway 192.168.0.254",
		"\tup ip route add 192.168.1.0/24 via 192.168.0.254",
		"\tpost-up ip -6 route replace fd00:20::/64 via fd00:10::fe dev vmbr0",
		"\tpost-up ip route add 10.9.9.9 via 192.168.0.253",
		"\tpost-up echo hello",
		"\tup ip link set eno1 mtu 9000",
	)))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ dst, via string }{
		{"192.168.1.0/24", "192.168.0.254"}, {"fd00:20::/64", "fd00:10::fe"}, {"10.9.9.9/32", "192.168.0.253"},
	}
	got := hi.Ifaces["vmbr0"].Routes
	if len(got) != len(want) {
		t.Fatalf("routes %+v, want %v", got, want)
	}
	for i, w := range want {
		if got[i].Dst.String() != w.dst || got[i].Via.String() != w.via || got[i].Pos.Line != 4+i {
			t.Errorf("route %d: %+v, want %s via %s at line %d", i, got[i], w.dst, w.via, 4+i)
		}
	}

	for in, msg := range map[string]string{
		"up ip route add 192.168.1.0/24 dev eno1":          `want "ip route add PREFIX via ADDRESS"`,
		"up ip route add 192.168.1.0/24 via gw":            `"gw" is not an IP address`,
		"up ip route add 192.168.1.1/24 via 192.168.0.254": "has host bits set",
		"up ip route add fd00:20::/64 via 192.168.0.254":   "different address families",
		"up ip -6 route add default via 192.168.0.254":     "different address families",
		"up ip route add 192.168.1.0/33 via 192.168.0.254": "is not a prefix",
	} {
		_, err := config.ParseInterfacesReader("i", strings.NewReader(lines("iface vmbr0 inet static", "\t"+in)))
		if err == nil || !strings.Contains(err.Error(), "i:2: ") || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want i:2: ... %s", in, err, msg)
		}
	}
}
