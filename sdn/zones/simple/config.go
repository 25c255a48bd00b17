package simple

import "github.com/sdnlab/sdnlab/sdn/config"

// Keys implements config.ZoneType (Zones/SimplePlugin.pm options()).
func (Type) Keys() []string {
	return []string{"nodes", "mtu", "dns", "reversedns", "dnszone", "ipam", "dhcp"}
}

// Decode implements config.ZoneType: a simple zone has no keys of its own.
func (Type) Decode(*config.Decoder, *config.Zone) {}

// Validate implements config.ZoneType.
func (Type) Validate(*config.Config, *config.Zone, *config.ErrorList) {}

// VNets implements config.ZoneType: no tag; subnets may SNAT.
func (Type) VNets() config.VNetRules { return config.VNetRules{Tag: config.TagNone, SNAT: true} }
