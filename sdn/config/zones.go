package config

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
	allowed, ok := typeKeys(sec, "zone", keyTable(c.types.Zones), c.types.zoneNames(nil, "or"), errs)
	if !ok {
		return
	}
	zt, _ := c.types.zone(sec.Type)
	if !zoneIDRE.MatchString(sec.ID) || len(sec.ID) > 8 {
		errs.add(sec.Pos, "zone", "invalid zone id %q: 2-8 characters, letters and digits, starting with a letter", sec.ID)
	}
	d := newDecoder(sec, "zone", allowed, errs)
	d.cfg = c
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

	zt.Decode(d, z)
	if _, dup := c.Zones[z.ID]; !dup {
		c.Zones[z.ID] = z
	}
}
