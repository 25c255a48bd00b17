package config

import "regexp"

var vnetKeys = keys("zone", "tag", "alias", "vlanaware", "isolate-ports", "type")

var aliasRE = regexp.MustCompile(`^[()\-_.\w\s]{0,256}$`)

func (c *Config) decodeVNet(sec *Section, errs *ErrorList) {
	if sec.Type != "vnet" {
		errs.add(sec.Pos, "type", "unknown section type %q in vnets.cfg (want vnet)", sec.Type)
		return
	}
	if !zoneIDRE.MatchString(sec.ID) || len(sec.ID) > 8 {
		errs.add(sec.Pos, "vnet", "invalid vnet id %q: 2-8 characters, letters and digits, starting with a letter", sec.ID)
	}
	d := newDecoder(sec, "vnet", vnetKeys, errs)
	v := &VNet{ID: sec.ID, Pos: sec.Pos, Props: d.props}
	if d.require("zone", "every vnet needs a zone") {
		v.Zone = d.str("zone")
	}
	v.Tag = int(d.int("tag", 1, 16777215))
	v.Alias = d.props["alias"].Value
	if p, ok := d.props["alias"]; ok && !aliasRE.MatchString(p.Value) {
		d.errf(p, "alias must be at most 256 letters, digits, spaces or ()-_.")
	}
	v.VlanAware = d.boolean("vlanaware")
	v.IsolatePorts = d.boolean("isolate-ports")
	if p, ok := d.props["type"]; ok && p.Value != "vnet" {
		d.errf(p, "%q is not a vnet type (want vnet)", p.Value)
	}
	if _, dup := c.VNets[v.ID]; !dup {
		c.VNets[v.ID] = v
	}
}
