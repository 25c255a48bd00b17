// Package registry lists the types sdnlab knows, one line per type. Adding
// a zone type is a package under sdn/zones and a line in Zones; a
// controller type is a file in sdn/controllers and a line in Controllers.
package registry

import (
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/controllers"
	"github.com/sdnlab/sdnlab/sdn/zones"
	"github.com/sdnlab/sdnlab/sdn/zones/evpn"
	"github.com/sdnlab/sdnlab/sdn/zones/qinq"
	"github.com/sdnlab/sdnlab/sdn/zones/simple"
	"github.com/sdnlab/sdnlab/sdn/zones/vlan"
	"github.com/sdnlab/sdnlab/sdn/zones/vxlan"
)

// Zones are the zone types, in the order messages list them.
func Zones() []zones.Type {
	return []zones.Type{
		simple.Type{},
		vlan.Type{},
		qinq.Type{},
		vxlan.Type{},
		evpn.Type{},
	}
}

// Controllers are the controller types, in the order messages list them.
func Controllers() []controllers.Type {
	return []controllers.Type{
		controllers.EVPN{},
		controllers.BGP{},
		controllers.ISIS{},
	}
}

// Zone returns the zone type called name.
func Zone(name string) (zones.Type, bool) {
	for _, t := range Zones() {
		if t.Name() == name {
			return t, true
		}
	}
	return nil, false
}

// ZoneNames are the names of the zone types.
func ZoneNames() []string {
	var out []string
	for _, t := range Zones() {
		out = append(out, t.Name())
	}
	return out
}

// Config are the section types for config.Load.
func Config() config.Types {
	var t config.Types
	for _, z := range Zones() {
		t.Zones = append(t.Zones, z)
	}
	for _, c := range Controllers() {
		t.Controllers = append(t.Controllers, c)
	}
	return t
}

// Traits returns the traits of zone type name (none for an unknown type).
func Traits(name string) zones.Traits {
	if t, ok := Zone(name); ok {
		return t.Traits()
	}
	return zones.Traits{}
}
