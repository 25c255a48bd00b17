package controllers

import "github.com/sdnlab/sdnlab/sdn/config"

// Decoding shared by the controller types.

// decodeASN reads the required asn of an evpn or bgp controller.
func decodeASN(d *config.Decoder, ct *config.Controller) {
	if d.Require("asn", "") {
		ct.ASN = uint32(d.Int("asn", 1, 4294967295))
	}
}

// decodeRouteMaps reads the route maps of route-maps.cfg an evpn or bgp
// controller applies to its peers.
func decodeRouteMaps(d *config.Decoder, ct *config.Controller) {
	ct.RouteMapIn = d.RouteMapName("route-map-in")
	ct.RouteMapOut = d.RouteMapName("route-map-out")
}

// decodeNode reads the node and loopback of a per-node controller (bgp,
// isis).
func decodeNode(d *config.Decoder, ct *config.Controller) {
	if d.Require("node", "") {
		p, _ := d.Prop("node")
		if !config.ValidNodeName(p.Value) {
			d.Errf(p, "%q is not a valid node name", p.Value)
		} else {
			ct.Node = p.Value
		}
	}
	ct.Loopback = d.Str("loopback")
	if p, ok := d.Prop("loopback"); ok && p.Value != "" && !config.ValidIfaceName(p.Value) {
		d.Errf(p, "%q is not a valid interface name", p.Value)
	}
}

// validateOnePerNode reports a second controller of ct's type on ct's node
// (Proxmox allows one bgp and one isis controller per node).
func validateOnePerNode(c *config.Config, ct *config.Controller, errs *config.ErrorList) {
	if ct.Node == "" {
		return
	}
	for _, o := range c.ControllersInFileOrder() {
		if o == ct {
			return
		}
		if o.Type == ct.Type && o.Node == ct.Node {
			errs.Errorf(config.PropPos(ct.Props, "node", ct.Pos), "node", "node %s already has a %s controller (%s)", ct.Node, ct.Type, o.ID)
			return
		}
	}
}
