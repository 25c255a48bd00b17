package config

import (
	"net/netip"
	"sort"
)

func sortedValues[T any](m map[string]*T) []*T {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*T, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

// SortedZones returns the zones ordered by ID.
func (c *Config) SortedZones() []*Zone { return sortedValues(c.Zones) }

// SortedVNets returns the VNets ordered by ID.
func (c *Config) SortedVNets() []*VNet { return sortedValues(c.VNets) }

// SortedSubnets returns the subnets ordered by ID.
func (c *Config) SortedSubnets() []*Subnet { return sortedValues(c.Subnets) }

// SortedControllers returns the controllers ordered by ID.
func (c *Config) SortedControllers() []*Controller { return sortedValues(c.Controllers) }

// SortedFabrics returns the fabrics ordered by ID.
func (c *Config) SortedFabrics() []*Fabric { return sortedValues(c.Fabrics) }

// SortedNodes returns a fabric's node memberships ordered by node name.
func (f *Fabric) SortedNodes() []*FabricNode { return sortedValues(f.Nodes) }

// NodeIPs returns the IPv4 router IPs of the fabric's cluster nodes
// ordered by node name (nodes without one, and external bgp/wireguard
// nodes, are left out): the VTEPs of a VXLAN or EVPN underlay built on the
// fabric.
func (f *Fabric) NodeIPs() []netip.Addr {
	var out []netip.Addr
	for _, n := range f.SortedNodes() {
		if n.IP.IsValid() && n.Internal() {
			out = append(out, n.IP)
		}
	}
	return out
}

// VNetsOfZone returns the VNets of a zone ordered by ID.
func (c *Config) VNetsOfZone(zone string) []*VNet {
	var out []*VNet
	for _, v := range c.SortedVNets() {
		if v.Zone == zone {
			out = append(out, v)
		}
	}
	return out
}

// SubnetsOfVNet returns the subnets of a VNet ordered by ID.
func (c *Config) SubnetsOfVNet(vnet string) []*Subnet {
	var out []*Subnet
	for _, s := range c.SortedSubnets() {
		if s.VNet == vnet {
			out = append(out, s)
		}
	}
	return out
}
