package config

import (
	"net/netip"
	"regexp"
	"strconv"
)

// prefixListIDRE is Proxmox's prefix list and route map name syntax.
var prefixListIDRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,30}[a-zA-Z0-9]?$`)

// reservedPrefixLists are the names the evpn and bgp controllers generate;
// Proxmox refuses them for user prefix lists.
var reservedPrefixLists = map[string]bool{"only_default": true, "only_default_v6": true, "loopbacks_ips": true}

// decodePrefixLists reads prefix-lists.cfg: "prefix-list: NAME" sections
// with "entries action=permit|deny,prefix=CIDR,seq=N[,le=N][,ge=N]" lines.
func (c *Config) decodePrefixLists(secs []Section, errs *ErrorList) {
	for i := range secs {
		sec := &secs[i]
		if sec.Type != "prefix-list" {
			errs.add(sec.Pos, "type", "unknown section type %q in prefix-lists.cfg (want prefix-list)", sec.Type)
			continue
		}
		switch {
		case !prefixListIDRE.MatchString(sec.ID):
			errs.add(sec.Pos, "id", "invalid prefix list name %q: up to 32 letters, digits, '-' and '_', starting and ending with a letter or digit", sec.ID)
			continue
		case reservedPrefixLists[sec.ID]:
			errs.add(sec.Pos, "id", "prefix list name %q is reserved (Proxmox generates it)", sec.ID)
			continue
		}
		d := newDecoder(sec, "prefix list", map[string]keySpec{"entries": {repeat: true}}, errs)
		pl := &PrefixList{ID: sec.ID, Pos: sec.Pos}
		seqs := map[int]int{}
		for _, p := range d.all["entries"] {
			e, ok := parsePrefixListEntry(d, p)
			if !ok {
				continue
			}
			if first, dup := seqs[e.Seq]; dup {
				d.errf(p, "sequence number %d already used (line %d)", e.Seq, first)
				continue
			}
			seqs[e.Seq] = p.Pos.Line
			pl.Entries = append(pl.Entries, e)
		}
		c.PrefixLists[pl.ID] = pl
	}
}

func parsePrefixListEntry(d *decoder, p Prop) (PrefixListEntry, bool) {
	var e PrefixListEntry
	ps, err := parsePropertyString(p.Value, "", "action", "prefix", "le", "ge", "seq")
	if err != nil {
		d.errf(p, "%v", err)
		return e, false
	}
	for _, k := range []string{"action", "prefix", "seq"} {
		if !ps.has(k) {
			d.errf(p, "%q: missing %s=", p.Value, k)
			return e, false
		}
	}
	e.Action = ps.get("action")
	if e.Action != "permit" && e.Action != "deny" {
		d.errf(p, "action %q: want permit or deny", e.Action)
		return e, false
	}
	pf, err := netip.ParsePrefix(ps.get("prefix"))
	if err != nil || pf.Addr().Zone() != "" {
		d.errf(p, "prefix %q is not a CIDR", ps.get("prefix"))
		return e, false
	}
	e.Prefix = pf
	num := func(k string, max uint64) (int, bool) {
		if !ps.has(k) {
			return 0, true
		}
		n, err := strconv.ParseUint(ps.get(k), 10, 32)
		if err != nil || n > max {
			d.errf(p, "%s %q is not an integer in 0-%d", k, ps.get(k), max)
			return 0, false
		}
		return int(n), true
	}
	var ok1, ok2, ok3 bool
	e.Seq, ok1 = num("seq", 1<<32-1)
	e.LE, ok2 = num("le", 1<<32-1)
	e.GE, ok3 = num("ge", 1<<32-1)
	if !ok1 || !ok2 || !ok3 {
		return e, false
	}
	// As Proxmox checks: prefix length <= ge <= le <= address length.
	bits, mask := pf.Addr().BitLen(), pf.Bits()
	if ps.has("le") {
		switch {
		case e.LE > bits:
			d.errf(p, "le %d is greater than %d", e.LE, bits)
			return e, false
		case mask > e.LE:
			d.errf(p, "le %d is less than the prefix length %d", e.LE, mask)
			return e, false
		case ps.has("ge") && e.GE > e.LE:
			d.errf(p, "ge %d is greater than le %d", e.GE, e.LE)
			return e, false
		}
	}
	if ps.has("ge") {
		switch {
		case e.GE > bits:
			d.errf(p, "ge %d is greater than %d", e.GE, bits)
			return e, false
		case mask > e.GE:
			d.errf(p, "ge %d is less than the prefix length %d", e.GE, mask)
			return e, false
		}
	}
	return e, true
}
