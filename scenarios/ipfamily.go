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
