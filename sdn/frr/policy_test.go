package frr

import (
	"net/netip"
	"testing"
)

func TestRouteMapDenies(t *testing.T) {
	c := &Config{
		PrefixLists: map[string][]PrefixListRule{
			"only_default": {{Seq: 1, Action: "permit", Network: netip.MustParsePrefix("0.0.0.0/0")}},
			"v6_default":   {{Seq: 1, Action: "permit", Network: netip.MustParsePrefix("::/0")}},
			"tens":         {{Seq: 5, Action: "deny", Network: netip.MustParsePrefix("10.1.0.0/16"), LE: 32}, {Seq: 10, Action: "permit", Network: netip.MustParsePrefix("10.0.0.0/8"), GE: 24}},
		},
		RouteMaps: map[string][]RouteMapEntry{
			"IN": {
				{Seq: 1, Action: "deny", Matches: []KV{{Key: "ip address prefix-list", Value: "only_default"}}},
				{Seq: 2, Action: "deny", Matches: []KV{{Key: "ipv6 address prefix-list", Value: "v6_default"}}},
				{Seq: 3, Action: "permit"},
			},
			"ONLY_TENS": {{Seq: 1, Action: "permit", Matches: []KV{{Key: "ip address prefix-list", Value: "tens"}}}},
			"UNKNOWN":   {{Seq: 1, Action: "deny", Matches: []KV{{Key: "evpn vni", Value: "10"}}}, {Seq: 2, Action: "permit"}},
		},
	}
	for _, tc := range []struct {
		rm, prefix string
		deny       bool
	}{
		{"IN", "0.0.0.0/0", true},
		{"IN", "::/0", true},
		{"IN", "10.0.1.0/24", false},
		{"IN", "2001:db8::/64", false},
		{"ONLY_TENS", "10.2.3.0/24", false}, // ge 24
		{"ONLY_TENS", "10.2.0.0/16", true},  // shorter than ge: implicit deny
		{"ONLY_TENS", "10.1.2.0/24", true},  // the deny rule first
		{"ONLY_TENS", "192.0.2.0/24", true}, // no rule
		{"UNKNOWN", "0.0.0.0/0", false},     // a match it does not know does not hold
		{"MISSING", "0.0.0.0/0", false},
	} {
		if got := c.RouteMapDenies(tc.rm, netip.MustParsePrefix(tc.prefix)); got != tc.deny {
			t.Errorf("route-map %s, %s: denies %v, want %v", tc.rm, tc.prefix, got, tc.deny)
		}
	}
}
