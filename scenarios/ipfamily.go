package scenarios

import (
	"fmt"
	"net/netip"
)

// IP families: scenarios with an IPv4 and an IPv6 path run each family
// the lab has and name their figures and checks with famTag.
const (
	v4 = 4
	v6 = 6
)

// families are the IP families in the order scenarios run them.
var families = []int{v4, v6}

// famTag is the suffix of a figure or check name: "v4" or "v6".
func famTag(fam int) string { return fmt.Sprintf("v%d", fam) }

// Addr is the guest's address of an IP family (invalid: none).
func (g Guest) Addr(fam int) netip.Prefix {
	if fam == v6 {
		return g.IPv6
	}
	return g.IPv4
}

// Gateway is the guest's gateway of an IP family (invalid: none).
func (g Guest) Gateway(fam int) netip.Addr {
	if fam == v6 {
		return g.GW6
	}
	return g.GW4
}

// AddrOf returns the host's first address of an IP family (IPv6: a
// global one).
func (h Host) AddrOf(fam int) (netip.Addr, bool) {
	if fam == v6 {
		return h.Addr6()
	}
	return h.Addr4()
}

// familyOf is an address's IP family (4 or 6).
func familyOf(a netip.Addr) int {
	if a.Is4() {
		return v4
	}
	return v6
}

// cacheName is what a guest keeps an address's MAC in.
func cacheName(a netip.Addr) string {
	if a.Is4() {
		return "ARP cache"
	}
	return "neighbour cache"
}

// resolverName is the protocol that resolves an address to a MAC.
func resolverName(a netip.Addr) string {
	if a.Is4() {
		return "ARP"
	}
	return "neighbour solicitations"
}
