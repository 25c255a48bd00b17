package scenarios

import (
	"net/netip"
)

// ipFam is one IP version a scenario probes. Scenarios that have a path per
// family run it once per family the lab offers and name their checks and
// figures with Tag ("v4", "v6"), so a dual-stack lab reports both apart.
type ipFam struct{ v6 bool }

// ipFams are IPv4 then IPv6.
var ipFams = []ipFam{{false}, {true}}

// Name is "IPv4" or "IPv6".
func (f ipFam) Name() string { return pick(f, "IPv4", "IPv6") }

// Tag is "v4" or "v6", for check and figure names.
func (f ipFam) Tag() string { return pick(f, "v4", "v6") }

// Num is 4 or 6, as ip(8) and netlink number the families.
func (f ipFam) Num() int { return pick(f, 4, 6) }

// Of tells whether a is of this family.
func (f ipFam) Of(a netip.Addr) bool { return a.IsValid() && a.Unmap().Is6() == f.v6 }

// Default is 0.0.0.0/0 or ::/0.
func (f ipFam) Default() netip.Prefix {
	return netip.PrefixFrom(pick(f, netip.IPv4Unspecified(), netip.IPv6Unspecified()), 0)
}

// Host is a host prefix (/32, /128) of a.
func (f ipFam) Host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// Guest is the guest's address of the family (invalid: none).
func (f ipFam) Guest(g Guest) netip.Prefix { return pick(f, g.IPv4, g.IPv6) }

// GW is the guest's gateway of the family (invalid: none).
func (f ipFam) GW(g Guest) netip.Addr { return pick(f, g.GW4, g.GW6) }

// Routed tells whether the guest has an address and a gateway of the family.
func (f ipFam) Routed(g Guest) bool { return f.Guest(g).IsValid() && f.GW(g).IsValid() }

// HostAddr is the host's first (global) address of the family.
func (f ipFam) HostAddr(h Host) (netip.Addr, bool) {
	if f.v6 {
		return h.Addr6()
	}
	return h.Addr4()
}

// NodeAddrs are the node's underlay addresses of the family.
func (f ipFam) NodeAddrs(n Node) []netip.Addr {
	var out []netip.Addr
	for _, a := range n.Addrs {
		if f.Of(a) && !a.IsLinkLocalUnicast() {
			out = append(out, a)
		}
	}
	return out
}

// famOf is the family of an address.
func famOf(a netip.Addr) ipFam { return ipFam{v6: a.Unmap().Is6()} }

// Cache is what a host keeps the family's address-to-MAC bindings in.
func (f ipFam) Cache() string { return pick(f, "ARP cache", "neighbour cache") }

// Resolver is the protocol that resolves the family's addresses to MACs.
func (f ipFam) Resolver() string { return pick(f, "ARP", "neighbour solicitations") }

// pick is v4 or v6, by family.
func pick[T any](f ipFam, v4, v6 T) T {
	if f.v6 {
		return v6
	}
	return v4
}
