package config

import (
	"strings"
)

// Zone types sdnlab understands, with the keys Proxmox allows for each
// (Zones/*Plugin.pm options()).
var zoneKeys = map[string]map[string]keySpec{
	"simple": keys("nodes", "mtu", "dns", "reversedns", "dnszone", "ipam", "dhcp"),
	"vlan":   keys("nodes", "bridge", "bridge-disable-mac-learning", "mtu", "dns", "reversedns", "dnszone", "ipam"),
	"qinq": keys("nodes", "tag", "bridge", "bridge-disable-mac-learning", "mtu", "vlan-protocol",
		"dns", "reversedns", "dnszone", "ipam"),
	"vxlan": keys("nodes", "peers", "vxlan-port", "mtu", "dns", "reversedns", "dnszone", "ipam", "fabric"),
	"evpn": keys("nodes", "vrf-vxlan", "controller", "exitnodes", "exitnodes-local-routing",
		"exitnodes-primary", "advertise-subnets", "disable-arp-nd-suppression",
		"bridge-disable-mac-learning", "rt-import", "vxlan-port", "mtu", "mac",
		"dns", "reversedns", "dnszone", "ipam"),
}

// MTU bounds accepted for zones (the kernel's own limits for a bridge).
const (
	minMTU = 68
	maxMTU = 65535
)

// Reasons for settings kept but not acted on.
const (
	whyIPAM = "IPAM is not simulated (guest addresses come from the lab file)"
	whyDNS  = "DNS registration is not simulated"
)

func (c *Config) decodeZone(sec *Section, errs *ErrorList) {
	allowed, ok := typeKeys(sec, "zone", zoneKeys, "simple, vlan, qinq, vxlan or evpn", errs)
	if !ok {
		return
	}
	if !zoneIDRE.MatchString(sec.ID) || len(sec.ID) > 8 {
		errs.add(sec.Pos, "zone", "invalid zone id %q: 2-8 characters, letters and digits, starting with a letter", sec.ID)
	}
	d := newDecoder(sec, "zone", allowed, errs)
	z := &Zone{ID: sec.ID, Type: sec.Type, Pos: sec.Pos, Props: d.props}

	z.Nodes = d.nodes("nodes")
	z.MTU = int(d.int("mtu", minMTU, maxMTU))
	z.IPAM = d.str("ipam")
	z.DNS = d.str("dns")
	z.ReverseDNS = d.str("reversedns")
	z.DNSZone = d.str("dnszone")
	z.DHCP = d.str("dhcp")
	if p, ok := d.props["dnszone"]; ok && p.Value != "" && !dnsNameRE.MatchString(p.Value) {
		d.errf(p, "%q is not a DNS name", p.Value)
	}
	if p, ok := d.props["dhcp"]; ok && p.Value != "" && p.Value != "dnsmasq" {
		d.errf(p, "unknown DHCP backend %q (Proxmox has dnsmasq)", p.Value)
	}
	// With "dhcp", a lab does what the pve IPAM does for guests with
	// "ip: dhcp" (next free address of a dhcp-range); otherwise IPAM has
	// no effect.
	if p, ok := d.props["ipam"]; ok && z.DHCP == "" {
		c.ignore(p, whyIPAM)
	}
	for _, k := range []string{"dns", "reversedns", "dnszone"} {
		if p, ok := d.props[k]; ok {
			c.ignore(p, whyDNS)
		}
	}

	switch z.Type {
	case "vlan", "qinq":
		d.require("bridge", "")
		z.Bridge = d.str("bridge")
		z.BridgeDisableMacLearning = d.boolean("bridge-disable-mac-learning")
		if z.Type == "qinq" {
			if d.require("tag", "") {
				z.Tag = int(d.int("tag", 1, 4094))
			}
			z.VlanProtocol = d.str("vlan-protocol")
			if p, ok := d.props["vlan-protocol"]; ok && z.VlanProtocol != "802.1q" && z.VlanProtocol != "802.1ad" {
				d.errf(p, "%q is not a VLAN protocol (want 802.1q or 802.1ad)", p.Value)
			}
		}
	case "vxlan":
		z.Peers = d.ips("peers")
		z.VxlanPort = int(d.int("vxlan-port", 1, 65535))
		z.Fabric = d.str("fabric")
		if d.has("peers") == d.has("fabric") {
			errs.add(sec.Pos, "peers", "must have exactly one of peers / fabric")
		}
		if p, ok := d.props["fabric"]; ok && !fabricIDRE.MatchString(p.Value) {
			d.errf(p, "%q is not a valid fabric id", p.Value)
		}
	case "evpn":
		if d.require("vrf-vxlan", "") {
			z.VrfVxlan = int(d.int("vrf-vxlan", 1, 16777215))
		}
		if d.require("controller", "") {
			z.Controller = d.str("controller")
		}
		z.VxlanPort = int(d.int("vxlan-port", 1, 65535))
		z.BridgeDisableMacLearning = d.boolean("bridge-disable-mac-learning")
		if p, ok := d.props["mac"]; ok {
			if ok, why := validUnicastMAC(p.Value); !ok {
				d.errf(p, "%q %s", p.Value, why)
			} else {
				z.MAC = p.Value
			}
		}
		z.ExitNodes = d.nodes("exitnodes")
		if p, ok := d.props["exitnodes-primary"]; ok {
			switch {
			case !validNodeName(p.Value):
				d.errf(p, "%q is not a valid node name", p.Value)
			case !contains(z.ExitNodes, p.Value):
				// Proxmox renders it anyway (the primary is then never an exit).
				c.Warnings.add(p.Pos, p.Key, "%q is not one of the exitnodes (%s)", p.Value, strings.Join(z.ExitNodes, ","))
				z.ExitNodesPrimary = p.Value
			default:
				z.ExitNodesPrimary = p.Value
			}
		}
		z.ExitNodesLocalRouting = d.boolean("exitnodes-local-routing")
		z.AdvertiseSubnets = d.boolean("advertise-subnets")
		z.DisableArpNdSuppression = d.boolean("disable-arp-nd-suppression")
		p := d.props["rt-import"]
		for _, rt := range d.list("rt-import") {
			if !validRouteTarget(rt) {
				d.errf(p, "%q is not a BGP route target (want ASN:NN, both 0-4294967295)", rt)
				continue
			}
			z.RTImport = append(z.RTImport, rt)
		}
	}
	if _, dup := c.Zones[z.ID]; !dup {
		c.Zones[z.ID] = z
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
