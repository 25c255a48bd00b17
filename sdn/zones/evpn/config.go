package evpn

import (
	"strings"

	"github.com/sdnlab/sdnlab/sdn/config"
)

// Keys implements config.ZoneType (Zones/EvpnPlugin.pm options()).
func (Type) Keys() []string {
	return []string{"nodes", "vrf-vxlan", "controller", "exitnodes", "exitnodes-local-routing",
		"exitnodes-primary", "advertise-subnets", "disable-arp-nd-suppression",
		"bridge-disable-mac-learning", "rt-import", "vxlan-port", "mtu", "mac",
		"dns", "reversedns", "dnszone", "ipam"}
}

// Decode implements config.ZoneType.
func (Type) Decode(d *config.Decoder, z *config.Zone) {
	if d.Require("vrf-vxlan", "") {
		z.VrfVxlan = int(d.Int("vrf-vxlan", 1, 16777215))
	}
	if d.Require("controller", "") {
		z.Controller = d.Str("controller")
	}
	z.VxlanPort = int(d.Int("vxlan-port", 1, 65535))
	z.BridgeDisableMacLearning = d.Bool("bridge-disable-mac-learning")
	if p, ok := d.Prop("mac"); ok {
		if ok, why := config.ValidUnicastMAC(p.Value); !ok {
			d.Errf(p, "%q %s", p.Value, why)
		} else {
			z.MAC = p.Value
		}
	}
	z.ExitNodes = d.Nodes("exitnodes")
	if p, ok := d.Prop("exitnodes-primary"); ok {
		switch {
		case !config.ValidNodeName(p.Value):
			d.Errf(p, "%q is not a valid node name", p.Value)
		case !contains(z.ExitNodes, p.Value):
			// Proxmox renders it anyway (the primary is then never an exit).
			d.Warnf(p, "%q is not one of the exitnodes (%s)", p.Value, strings.Join(z.ExitNodes, ","))
			z.ExitNodesPrimary = p.Value
		default:
			z.ExitNodesPrimary = p.Value
		}
	}
	z.ExitNodesLocalRouting = d.Bool("exitnodes-local-routing")
	z.AdvertiseSubnets = d.Bool("advertise-subnets")
	z.DisableArpNdSuppression = d.Bool("disable-arp-nd-suppression")
	p, _ := d.Prop("rt-import")
	for _, rt := range d.List("rt-import") {
		if !config.ValidRouteTarget(rt) {
			d.Errf(p, "%q is not a BGP route target (want ASN:NN, both 0-4294967295)", rt)
			continue
		}
		z.RTImport = append(z.RTImport, rt)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Validate implements config.ZoneType: the controller must be an evpn
// controller, and the L3VNI must be unique among the zones' and the
// VNets' VNIs.
func (Type) Validate(c *config.Config, z *config.Zone, errs *config.ErrorList) {
	if z.Controller != "" {
		cpos := config.PropPos(z.Props, "controller", z.Pos)
		switch ct := c.Controllers[z.Controller]; {
		case ct == nil:
			errs.Errorf(cpos, "controller", "controller %q is not defined in controllers.cfg", z.Controller)
		case ct.Type != "evpn":
			errs.Errorf(cpos, "controller", "controller %s is of type %s, an evpn zone needs an evpn controller", ct.ID, ct.Type)
		}
	}
	if z.VrfVxlan == 0 {
		return
	}
	ppos := config.PropPos(z.Props, "vrf-vxlan", z.Pos)
	for _, o := range c.ZonesInFileOrder() {
		if o == z {
			break
		}
		if o.Type == z.Type && o.VrfVxlan == z.VrfVxlan {
			errs.Errorf(ppos, "vrf-vxlan", "vrf-vxlan %d is already used by zone %s", z.VrfVxlan, o.ID)
			break
		}
	}
	if v := c.VNIOwner(z.VrfVxlan); v != nil {
		errs.Errorf(ppos, "vrf-vxlan", "vrf-vxlan %d is already the VNI of vnet %s (zone %s)", z.VrfVxlan, v.ID, v.Zone)
	}
}

// VNets implements config.ZoneType: every VNet has a VNI, none is
// vlan-aware, subnets may SNAT (on the exit nodes).
func (Type) VNets() config.VNetRules {
	return config.VNetRules{Tag: config.TagVNI, NoVlanAware: true, SNAT: true}
}
