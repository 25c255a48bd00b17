package fabrics

import (
	"errors"
	"fmt"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// OSPF compiles ospf fabrics (FRR ospfd, IPv4 only).
type OSPF struct{}

// Build adds the OSPF router (once, with the router IP of the node's first
// ospf fabric), the passive dummy interface, the fabric interfaces and
// the source route-map of fabric f.
func (OSPF) Build(b *Builder, f *config.Fabric, n *config.FabricNode) error {
	if !n.IP.IsValid() {
		return errors.New("an ospf fabric node needs an IPv4 router address (ip)")
	}
	if !b.ospfRouterID.IsValid() {
		b.ospfRouterID = n.IP
	}
	o := &b.Out.OSPF
	if o.Router == nil {
		// The first ospf fabric's redistribution settings apply to the one router.
		o.Router = &frr.OSPFRouter{RouterID: b.ospfRouterID}
		for _, r := range f.Redistribute {
			o.Router.Redistribute = append(o.Router.Redistribute, frr.OSPFRedistribution{Source: r.Source, Metric: r.Metric, HasMetric: r.HasMetric, RouteMap: r.RouteMap})
		}
	}
	if o.Interfaces == nil {
		o.Interfaces = map[string]*frr.OSPFInterface{}
	}
	dummy := DummyName(f.ID)
	if err := checkIfname(dummy); err != nil {
		return err
	}
	o.Interfaces[dummy] = &frr.OSPFInterface{Area: f.Area, Passive: true}
	for _, i := range n.Interfaces {
		if err := checkIfname(i.Name); err != nil {
			return err
		}
		oi := &frr.OSPFInterface{Area: f.Area, NetworkType: i.NetworkType}
		if oi.NetworkType == "" && !i.IP.IsValid() {
			// Unnumbered: only point-to-point works without a subnet.
			oi.NetworkType = "point-to-point"
		}
		o.Interfaces[i.Name] = oi
	}
	b.sourceRouteMap("ospf", "pve_ospf", b.fabricMatch(f, fmt.Sprintf("pve_ospf_%s_ips", f.ID), false), n.IP, false)
	return nil
}
