package config

import (
	"sort"
)

// Section types Proxmox accepts in the files sdnlab keeps but does not act
// on, with why they have no effect in a lab.
var otherTypes = map[string]map[string]string{
	"ipams.cfg": {
		"pve":     whyIPAM,
		"netbox":  whyIPAM,
		"phpipam": whyIPAM,
	},
	"dns.cfg": {
		"powerdns": whyDNS,
	},
}

// decodeOther records the sections of ipams.cfg and dns.cfg as ignored. Only section types and ids are reported,
// never values: these files hold API tokens and passwords.
func (c *Config) decodeOther(file string, secs []Section, errs *ErrorList) {
	for _, s := range secs {
		if !configIDRE.MatchString(s.Type) {
			errs.add(s.Pos, "type", "invalid section type %q", s.Type)
			continue
		}
		reason, ok := otherTypes[file][s.Type]
		if !ok {
			errs.add(s.Pos, "type", "unknown section type %q in %s", s.Type, file)
			continue
		}
		c.Ignored = append(c.Ignored, Ignored{Pos: s.Pos, Field: s.Type + " " + s.ID, Reason: reason})
	}
}

func (c *Config) sortIgnored() {
	sort.SliceStable(c.Ignored, func(i, j int) bool {
		a, b := c.Ignored[i].Pos, c.Ignored[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}
