package topology

import (
	"net/netip"
	"testing"
)

// Routers and hosts on a segment are stations too: 300 nodes and two
// reflectors need 1,200 node-reflector entries, beyond the kernel's 1,024
// dynamic ones.
func TestUnderlayStations(t *testing.T) {
	lab := &Lab{
		Nodes: []*Node{
			{Name: "n1", NS: "ns-n1", Link: Link{Segment: "lan", MAC: "02:00:00:00:01:01"}, UnderlayMAC: "02:00:00:00:00:01", Addr: netip.MustParsePrefix("10.0.0.1/24")},
			{Name: "n2", NS: "ns-n2", Link: Link{Segment: "lan", MAC: "02:00:00:00:01:02", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64")}}, UnderlayMAC: "02:00:00:00:00:02"},
		},
		Routers: []*Router{{Name: "rr1", NS: "ns-rr1", Links: []Link{
			{Segment: "lan", MAC: "02:00:00:00:00:aa", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.254/24")}},
			{Segment: "wan", MAC: "02:00:00:00:00:ab", Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}},
		}}},
		Hosts: []*Host{{Name: "h1", NS: "ns-h1", Link: Link{Segment: "wan", MAC: "02:00:00:00:00:bb", Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}}}},
	}
	st, err := underlayStations(lab)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 5 {
		t.Fatalf("%d stations, want 5 (2 nodes, 2 router links, 1 host): %+v", len(st), st)
	}
	if st[0].mac.String() != "02:00:00:00:00:01" || st[0].addrs[0] != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("node n1 station %+v: want its bridge MAC and primary address", st[0])
	}
	if len(st[1].addrs) != 2 {
		t.Errorf("node n2 station has %d addresses, want both families", len(st[1].addrs))
	}
	// lan: 3 stations (6 entries), wan: 2 (2 entries).
	if got := underlayPairs(st); got != 8 {
		t.Errorf("underlayPairs = %d, want 8", got)
	}
	lab.Routers[0].Links[0].MAC = "bogus"
	if _, err := underlayStations(lab); err == nil {
		t.Error("a bad MAC was accepted")
	}
}
