package config

import (
	"fmt"
	"net/netip"
	"strings"
)

var subnetKeys = map[string]keySpec{
	"vnet": {}, "gateway": {}, "snat": {}, "dnszoneprefix": {},
	"dhcp-range": {repeat: true}, "dhcp-dns-server": {},
}

func (c *Config) decodeSubnet(sec *Section, errs *ErrorList) {
	if sec.Type != "subnet" {
		errs.add(sec.Pos, "type", "unknown section type %q in subnets.cfg (want subnet)", sec.Type)
		return
	}
	d := newDecoder(sec, "subnet", subnetKeys, errs)
	s := &Subnet{ID: sec.ID, Pos: sec.Pos, Props: d.props}
	zone, pf, err := parseSubnetID(sec.ID)
	if err != nil {
		errs.add(sec.Pos, "subnet", "invalid subnet id %q: %v", sec.ID, err)
	} else {
		// The prefix is kept as written: Proxmox renders it that way.
		s.Zone, s.Prefix = zone, pf
		if pf.Masked() != pf {
			c.Warnings.add(sec.Pos, "subnet", "subnet id %q: %s has host bits set (network is %s)", sec.ID, pf, pf.Masked())
		}
	}
	if d.require("vnet", "every subnet needs a vnet") {
		s.VNet = d.str("vnet")
	}
	s.Gateway = d.addr("gateway", 0)
	s.SNAT = d.boolean("snat")
	s.DNSZonePrefix = d.str("dnszoneprefix")
	if p, ok := d.props["dnszoneprefix"]; ok {
		if p.Value != "" && !dnsNameRE.MatchString(p.Value) {
			d.errf(p, "%q is not a DNS name", p.Value)
		}
		c.ignore(p, whyDNS)
	}
	// dhcp-dns-server and dhcp-range are acted on: a lab runs dnsmasq for
	// zones with "dhcp dnsmasq" and gives guests with "ip: dhcp" addresses
	// from the ranges.
	s.DHCPDNSServer = d.addr("dhcp-dns-server", 0)
	var rangePos []Prop // line of each parsed range
	for _, p := range d.all["dhcp-range"] {
		r, err := parseDHCPRange(p.Value)
		if err != nil {
			d.errf(p, "%v", err)
			continue
		}
		s.DHCPRanges = append(s.DHCPRanges, r)
		rangePos = append(rangePos, p)
	}
	if s.Prefix.IsValid() {
		checkSubnetAddrs(s, d, rangePos, &c.Warnings)
	}
	if _, dup := c.Subnets[s.ID]; !dup {
		c.Subnets[s.ID] = s
	}
}

// parseSubnetID splits "<zone>-<address>-<prefixlen>" (IPv6 addresses
// contain no '-', so the zone is before the first '-' and the length
// after the last).
func parseSubnetID(id string) (zone string, pf netip.Prefix, err error) {
	first, last := strings.IndexByte(id, '-'), strings.LastIndexByte(id, '-')
	if first <= 0 || last == first {
		return "", pf, fmt.Errorf("want <zone>-<address>-<prefixlen>")
	}
	zone = id[:first]
	cidr := id[first+1:last] + "/" + id[last+1:]
	pf, err = netip.ParsePrefix(cidr)
	if err != nil || pf.Addr().Zone() != "" {
		return "", netip.Prefix{}, fmt.Errorf("%q is not a CIDR network", cidr)
	}
	if !zoneIDRE.MatchString(zone) || len(zone) > 8 {
		return "", netip.Prefix{}, fmt.Errorf("%q is not a valid zone id", zone)
	}
	return zone, pf, nil
}

// parseDHCPRange reads "start-address=A,end-address=B" (a Proxmox
// property string: a trailing comma is fine).
func parseDHCPRange(v string) (DHCPRange, error) {
	var r DHCPRange
	ps, err := parsePropertyString(v, "", "start-address", "end-address")
	if err != nil {
		return r, fmt.Errorf("%v: want start-address=IP,end-address=IP", err)
	}
	for _, k := range ps.keys {
		a, err := netip.ParseAddr(ps.get(k))
		if err != nil || a.Zone() != "" {
			return r, fmt.Errorf("%s %q is not an IP address", k, ps.get(k))
		}
		if k == "start-address" {
			r.Start = a
		} else {
			r.End = a
		}
	}
	if !r.Start.IsValid() || !r.End.IsValid() {
		return r, fmt.Errorf("%q: want start-address=IP,end-address=IP", v)
	}
	return r, nil
}

// checkSubnetAddrs checks the gateway and DHCP ranges against the prefix.
func checkSubnetAddrs(s *Subnet, d *decoder, rangePos []Prop, warns *ErrorList) {
	pf := s.Prefix.Masked()
	if p, ok := d.props["gateway"]; ok && s.Gateway.IsValid() {
		// Proxmox allows an IPv4 /32 with an outside gateway (point-to-point).
		ptp := pf.Addr().Is4() && pf.Bits() == 32
		switch {
		case s.Gateway.Is4() != pf.Addr().Is4():
			d.errf(p, "%s is not in subnet %s (address family differs)", s.Gateway, pf)
		case ptp:
		case !pf.Contains(s.Gateway):
			// Proxmox's API refuses this, but renders it from a file.
			warns.add(p.Pos, p.Key, "%s is not in subnet %s", s.Gateway, pf)
		case s.Gateway == pf.Addr() && pf.Bits() < pf.Addr().BitLen()-1:
			d.errf(p, "%s is the network address of %s", s.Gateway, pf)
		case pf.Addr().Is4() && pf.Bits() < 31 && s.Gateway == lastAddr(pf):
			d.errf(p, "%s is the broadcast address of %s", s.Gateway, pf)
		}
	}
	var prev []DHCPRange
	for i, r := range s.DHCPRanges {
		p := rangePos[i]
		switch {
		case !pf.Contains(r.Start):
			d.errf(p, "start-address %s is not in subnet %s", r.Start, pf)
		case !pf.Contains(r.End):
			d.errf(p, "end-address %s is not in subnet %s", r.End, pf)
		case r.End.Less(r.Start):
			d.errf(p, "start-address %s must be smaller than end-address %s", r.Start, r.End)
		default:
			for _, o := range prev {
				if !(r.End.Less(o.Start) || o.End.Less(r.Start)) {
					d.errf(p, "dhcp ranges must not overlap (%s-%s overlaps %s-%s)", r.Start, r.End, o.Start, o.End)
				}
			}
			prev = append(prev, r)
		}
	}
}

// lastAddr is the highest address of pf (the IPv4 broadcast address).
func lastAddr(pf netip.Prefix) netip.Addr {
	b := pf.Addr().AsSlice()
	bits := pf.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
