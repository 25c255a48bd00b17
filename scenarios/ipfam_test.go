package scenarios

import (
	"net/netip"
	"testing"
)

func TestIPFam(t *testing.T) {
	g := Guest{IPv4: netip.MustParsePrefix("10.0.1.11/24"), GW6: netip.MustParseAddr("fd00:1::1")}
	v4, v6 := ipFams[0], ipFams[1]
	if v4.Num() != 4 || v6.Num() != 6 || v4.Tag() != "v4" || v6.Name() != "IPv6" || v6.Cache() != "neighbour cache" || v4.Resolver() != "ARP" {
		t.Errorf("names: %d %d %s %s %s %s", v4.Num(), v6.Num(), v4.Tag(), v6.Name(), v6.Cache(), v4.Resolver())
	}
	if v4.Default().String() != "0.0.0.0/0" || v6.Default().String() != "::/0" {
		t.Errorf("defaults: %s %s", v4.Default(), v6.Default())
	}
	if v4.Guest(g) != g.IPv4 || v6.Guest(g).IsValid() || v4.GW(g).IsValid() || v6.GW(g) != g.GW6 || v4.Routed(g) || v6.Routed(g) {
		t.Errorf("guest look-ups: %v %v %v %v", v4.Guest(g), v6.Guest(g), v4.GW(g), v6.GW(g))
	}
}
