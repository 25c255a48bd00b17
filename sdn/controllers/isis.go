package controllers

import (
	"slices"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// ISIS is the isis controller: an IS-IS underlay on one node, announcing
// the node's connected networks at level 1.
type ISIS struct{}

// Generate adds the IS-IS router and its interfaces on the node the
// controller names.
func (ISIS) Generate(x *Context, c *config.Controller) error {
	if len(c.ISISIfaces) == 0 || c.ISISNet == "" || c.ISISDomain == "" || c.Node != x.In.Node {
		return nil
	}
	f := x.FRR
	if f.ISIS.Routers == nil {
		f.ISIS.Routers = map[string]*frr.ISISRouter{}
	}
	r := f.ISIS.Routers[c.ISISDomain]
	if r == nil {
		r = &frr.ISISRouter{}
		f.ISIS.Routers[c.ISISDomain] = r
	}
	r.NET = c.ISISNet
	r.LogAdjacencyChanges = true
	r.RedistributeIPv4Connected = "level-1"
	r.RedistributeIPv6Connected = "level-1"

	if f.ISIS.Interfaces == nil {
		f.ISIS.Interfaces = map[string]*frr.ISISInterface{}
	}
	// Proxmox maps interface altnames to names here; a lab has none.
	ifaces := slices.Clone(c.ISISIfaces)
	slices.Sort(ifaces)
	for _, name := range ifaces {
		i := f.ISIS.Interfaces[name]
		if i == nil {
			i = &frr.ISISInterface{}
			f.ISIS.Interfaces[name] = i
		}
		i.Domain = c.ISISDomain
		i.IPv4 = true
		i.IPv6 = false
	}
	return nil
}

// Zone adds nothing: the isis controller has no per-zone configuration.
func (ISIS) Zone(*Context, *config.Zone, *config.Controller) error { return nil }

// VNet adds nothing.
func (ISIS) VNet(*Context, *config.VNet, *config.Zone, *config.Controller) error { return nil }

// Name implements config.ControllerType.
func (ISIS) Name() string { return "isis" }

// Keys implements config.ControllerType (Controllers/IsisPlugin.pm options()).
func (ISIS) Keys() []string {
	return []string{"isis-domain", "isis-net", "isis-ifaces", "node", "loopback"}
}

// Decode implements config.ControllerType.
func (ISIS) Decode(d *config.Decoder, ct *config.Controller) {
	if d.Require("isis-domain", "") {
		ct.ISISDomain = d.Str("isis-domain")
	}
	if d.Require("isis-net", "") {
		p, _ := d.Prop("isis-net")
		if !config.ValidISISNet(p.Value) {
			d.Errf(p, "%q does not look like an IS-IS NET (e.g. 49.0001.1921.6800.0001.00)", p.Value)
		} else {
			ct.ISISNet = p.Value
		}
	}
	if d.Require("isis-ifaces", "") {
		p, _ := d.Prop("isis-ifaces")
		for _, ifc := range d.List("isis-ifaces") {
			if !config.ValidIfaceName(ifc) {
				d.Errf(p, "%q is not a valid interface name", ifc)
				continue
			}
			ct.ISISIfaces = append(ct.ISISIfaces, ifc)
		}
	}
	decodeNode(d, ct)
}

// Validate implements config.ControllerType: one isis controller per node.
func (ISIS) Validate(c *config.Config, ct *config.Controller, errs *config.ErrorList) {
	validateOnePerNode(c, ct, errs)
}
