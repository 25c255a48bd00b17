package config

// Controller types sdnlab understands, with the keys Proxmox allows for
// each (Controllers/*Plugin.pm options()).
var controllerKeys = map[string]map[string]keySpec{
	"evpn": keys("asn", "peers", "fabric", "route-map-in", "route-map-out"),
	"bgp":  keys("node", "asn", "peers", "bgp-multipath-as-path-relax", "ebgp", "ebgp-multihop", "loopback", "route-map-in", "route-map-out"),
	"isis": keys("isis-domain", "isis-net", "isis-ifaces", "node", "loopback"),
}

func (c *Config) decodeController(sec *Section, errs *ErrorList) {
	allowed, ok := typeKeys(sec, "controller", controllerKeys, "evpn, bgp or isis", errs)
	if !ok {
		return
	}
	if !ctrlIDRE.MatchString(sec.ID) || len(sec.ID) > 64 {
		errs.add(sec.Pos, "controller", "invalid controller id %q: 2-64 characters, letters, digits, '-' and '_', starting with a letter", sec.ID)
	}
	d := newDecoder(sec, "controller", allowed, errs)
	ct := &Controller{ID: sec.ID, Type: sec.Type, Pos: sec.Pos, Props: d.props}
	switch ct.Type {
	case "evpn", "bgp":
		if d.require("asn", "") {
			ct.ASN = uint32(d.int("asn", 1, 4294967295))
		}
	}
	if ct.Type == "evpn" || ct.Type == "bgp" {
		ct.RouteMapIn = d.name("route-map-in", "route map")
		ct.RouteMapOut = d.name("route-map-out", "route map")
	}
	switch ct.Type {
	case "evpn":
		ct.Peers = d.ips("peers")
		ct.Fabric = d.str("fabric")
		if d.has("peers") == d.has("fabric") {
			errs.add(sec.Pos, "peers", "must have exactly one of peers / fabric")
		}
		if p, ok := d.props["fabric"]; ok && !fabricIDRE.MatchString(p.Value) {
			d.errf(p, "%q is not a valid fabric id", p.Value)
		}
	case "bgp":
		d.require("peers", "")
		ct.Peers = d.ips("peers")
		ct.EBGP = d.boolean("ebgp")
		ct.EBGPMultihop = int(d.int("ebgp-multihop", 1, 255))
		ct.BGPMultipathAsPathRelax = d.boolean("bgp-multipath-as-path-relax")
	case "isis":
		if d.require("isis-domain", "") {
			ct.ISISDomain = d.str("isis-domain")
		}
		if d.require("isis-net", "") {
			p := d.props["isis-net"]
			if len(p.Value) < 20 || len(p.Value) > 50 || !isisNetRE.MatchString(p.Value) {
				d.errf(p, "%q does not look like an IS-IS NET (e.g. 49.0001.1921.6800.0001.00)", p.Value)
			} else {
				ct.ISISNet = p.Value
			}
		}
		if d.require("isis-ifaces", "") {
			p := d.props["isis-ifaces"]
			for _, ifc := range d.list("isis-ifaces") {
				if !ifaceRE.MatchString(ifc) {
					d.errf(p, "%q is not a valid interface name", ifc)
					continue
				}
				ct.ISISIfaces = append(ct.ISISIfaces, ifc)
			}
		}
	}
	if ct.Type == "bgp" || ct.Type == "isis" {
		if d.require("node", "") {
			p := d.props["node"]
			if !validNodeName(p.Value) {
				d.errf(p, "%q is not a valid node name", p.Value)
			} else {
				ct.Node = p.Value
			}
		}
		ct.Loopback = d.str("loopback")
		if p, ok := d.props["loopback"]; ok && p.Value != "" && !ifaceRE.MatchString(p.Value) {
			d.errf(p, "%q is not a valid interface name", p.Value)
		}
	}
	if _, dup := c.Controllers[ct.ID]; !dup {
		c.Controllers[ct.ID] = ct
	}
}
