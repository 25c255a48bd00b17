package frr

import "net/netip"

// EVPNRefusesDefault tells whether this node refuses the default routes
// (type 5 0.0.0.0/0 or ::/0) its EVPN peers announce: the inbound
// route-map of the default instance's l2vpn evpn neighbors denies them.
// Proxmox's exit nodes deny them so as to keep their own way out
// (MAP_VTEP_IN); the route-map applies to every VRF of the node, not to
// the exit node's zone alone. FRR 8.4 does not apply `match ip address
// prefix-list` to type 5 routes; FRR 10 does, and this answers as it does.
func (c *Config) EVPNRefusesDefault() bool {
	r := c.DefaultRouter()
	if r == nil || r.L2VPNEVPN == nil {
		return false
	}
	for _, n := range r.L2VPNEVPN.Neighbors {
		if n.RouteMapIn == "" {
			continue
		}
		if c.RouteMapDenies(n.RouteMapIn, netip.MustParsePrefix("0.0.0.0/0")) ||
			c.RouteMapDenies(n.RouteMapIn, netip.MustParsePrefix("::/0")) {
			return true
		}
	}
	return false
}

// RouteMapDenies evaluates route-map name for a route to p as FRR does:
// the first entry whose matches all hold decides. Only prefix-list matches
// are understood; an entry with any other match is taken not to hold (so
// the answer errs towards permitting). A route-map with no entry that
// holds denies (FRR's implicit deny); one that does not exist permits, as
// the lab never applies one it has not rendered.
func (c *Config) RouteMapDenies(name string, p netip.Prefix) bool {
	entries, ok := c.RouteMaps[name]
	if !ok {
		return false
	}
	for _, e := range entries {
		if c.entryHolds(e, p) {
			return e.Action == "deny"
		}
	}
	return true
}

func (c *Config) entryHolds(e RouteMapEntry, p netip.Prefix) bool {
	for _, m := range e.Matches {
		switch m.Key {
		case "ip address prefix-list":
			if !p.Addr().Is4() || !c.PrefixListPermits(m.Value, p) {
				return false
			}
		case "ipv6 address prefix-list":
			if !p.Addr().Is6() || !c.PrefixListPermits(m.Value, p) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// PrefixListPermits evaluates prefix-list name for p: the first rule whose
// network covers p, with p's length within its ge/le bounds (exactly the
// rule's length when neither is set), decides; no rule that matches, or no
// such list, denies.
func (c *Config) PrefixListPermits(name string, p netip.Prefix) bool {
	for _, r := range c.PrefixLists[name] {
		n := r.Network
		if n.Addr().Is4() != p.Addr().Is4() || p.Bits() < n.Bits() || !n.Contains(p.Addr()) {
			continue
		}
		lo, hi := n.Bits(), n.Bits()
		if r.GE > 0 {
			lo, hi = r.GE, p.Addr().BitLen()
		}
		if r.LE > 0 {
			hi = r.LE
		}
		if p.Bits() >= lo && p.Bits() <= hi {
			return r.Action == "permit"
		}
	}
	return false
}
