package plan_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

func facts(t *testing.T, text string) plan.NodeFacts {
	t.Helper()
	hi, err := config.ParseInterfacesReader("interfaces", strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse interfaces: %v", err)
	}
	return plan.NodeFacts{Node: "n1", Interfaces: hi}
}

const host = `auto lo
iface lo inet loopback

auto eno1
iface eno1 inet manual

auto vmbr0
iface vmbr0 inet static
	address 10.1.0.5/24
	gateway 10.1.0.1
	bridge-ports eno1 tap100i0 eno2.30
	bridge-stp off
	bridge-fd 0

auto storage
iface storage inet static
	address 10.2.0.5/16

auto lo7
iface lo7 inet static
	address 10.9.9.5/32
	link-type dummy

auto noaddr
iface noaddr inet manual
`

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, addr(s))
	}
	return out
}

func TestLocalIP(t *testing.T) {
	f := facts(t, host)
	for _, tc := range []struct {
		name      string
		peers     []netip.Addr
		iface     string
		wantIP    string
		wantIface string
	}{
		{"named iface wins", addrs("10.1.0.6"), "lo7", "10.9.9.5", "lo7"},
		{"named iface without address falls through", addrs("10.9.9.5", "10.9.9.6"), "noaddr", "10.9.9.5", "lo7"},
		{"own address among peers (not the first)", addrs("10.9.9.4", "10.9.9.5"), "", "10.9.9.5", "lo7"},
		{"connected prefix", addrs("10.2.33.1"), "", "10.2.0.5", "storage"},
		{"default route", addrs("192.0.2.1", "10.2.0.9"), "", "10.1.0.5", "vmbr0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip, dev, err := f.LocalIP(tc.peers, tc.iface)
			if err != nil {
				t.Fatal(err)
			}
			if ip.String() != tc.wantIP || dev != tc.wantIface {
				t.Errorf("got %s on %s, want %s on %s", ip, dev, tc.wantIP, tc.wantIface)
			}
		})
	}
}

func TestLocalIPNone(t *testing.T) {
	f := facts(t, "auto eno1\niface eno1 inet manual\n")
	_, _, err := f.LocalIP(addrs("10.0.0.1"), "")
	if !errors.Is(err, plan.ErrNoLocalIP) {
		t.Fatalf("err = %v, want ErrNoLocalIP", err)
	}
	var empty plan.NodeFacts
	if _, _, err := empty.LocalIP(addrs("10.0.0.1"), "vmbr0"); !errors.Is(err, plan.ErrNoLocalIP) {
		t.Fatalf("no interfaces: err = %v, want ErrNoLocalIP", err)
	}
}

func TestRouteGetFamilies(t *testing.T) {
	dual := facts(t, host+`
iface vmbr0 inet6 static
	address 2001:db8:1::5/64
	gateway 2001:db8:1::1
`)
	src, dev, err := dual.RouteGet(addr("2001:4860:4860::8888"))
	if err != nil || src != addr("2001:db8:1::5") || dev != "vmbr0" {
		t.Fatalf("v6 default: got %s %s %v", src, dev, err)
	}
	if dual.RouteGetIsGuess(addr("2001:4860:4860::8888")) {
		t.Error("a real IPv6 default route is not a guess")
	}

	// IPv4-only host: pve-network's harness answers with vmbr0's address.
	v4 := facts(t, host)
	src, dev, err = v4.RouteGet(addr("2001:4860:4860::8888"))
	if err != nil || src != addr("10.1.0.5") || dev != "vmbr0" {
		t.Fatalf("v6 on v4-only host: got %s %s %v", src, dev, err)
	}
	if !v4.RouteGetIsGuess(addr("2001:4860:4860::8888")) {
		t.Error("want the harness fallback to be flagged as a guess")
	}
	if v4.RouteGetIsGuess(addr("8.8.8.8")) {
		t.Error("IPv4 default route is not a guess")
	}
}

func TestBridgeFacts(t *testing.T) {
	f := facts(t, host+`
auto vmbr1
iface vmbr1 inet manual
	bridge-ports bond0
	bridge-vlan-aware yes
	bridge-vids 2-4094

auto eno3
iface eno3 inet manual
	ovs_type OVSPort
	ovs_bridge vmbr2

auto vmbr2
iface vmbr2 inet manual
	ovs_type OVSBridge
	ovs_ports eno3
`)
	if got := f.BridgePhysicalPorts("vmbr0"); !slices.Equal(got, []string{"eno1"}) {
		t.Errorf("vmbr0 physical ports = %v, want [eno1]", got)
	}
	if got := f.BridgePhysicalPorts("vmbr2"); !slices.Equal(got, []string{"eno3"}) {
		t.Errorf("vmbr2 physical ports = %v, want [eno3]", got)
	}
	if f.IsVlanAware("vmbr0") || !f.IsVlanAware("vmbr1") {
		t.Error("vlan-aware detection wrong")
	}
	if f.IsOVSBridge("vmbr0") || !f.IsOVSBridge("vmbr2") {
		t.Error("OVS detection wrong")
	}
	if !f.HasBridge("vmbr1") || f.HasBridge("vmbr9") {
		t.Error("HasBridge wrong")
	}
}
