package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// keySpec says how often a key may appear in a section.
type keySpec struct {
	repeat bool // the key may appear on several lines (a list)
}

// decoder reads the typed values of one section and records every problem.
type decoder struct {
	sec   *Section
	kind  string // "zone", "vnet", ... for messages
	errs  *ErrorList
	props map[string]Prop   // first line of each key
	all   map[string][]Prop // every line of each key
	cfg   *Config           // for warnings and ignored settings (zones)
}

// typeKeys returns the keys a zone or controller section (kind) of its type
// may have, or reports the type as unsupported (faucet) or unknown (want
// lists the known ones).
func typeKeys(sec *Section, kind string, byType map[string]map[string]keySpec, want string, errs *ErrorList) (map[string]keySpec, bool) {
	if sec.Type == "faucet" {
		errs.add(sec.Pos, "type", "%s type \"faucet\" is not supported by sdnlab", kind)
		return nil, false
	}
	allowed, ok := byType[sec.Type]
	if !ok {
		errs.add(sec.Pos, "type", "unknown %s type %q (want %s)", kind, sec.Type, want)
		return nil, false
	}
	return allowed, true
}

// newDecoder indexes sec's properties, reporting keys not in allowed
// (naming the key) and repeated keys that are not lists.
func newDecoder(sec *Section, kind string, allowed map[string]keySpec, errs *ErrorList) *decoder {
	d := &decoder{sec: sec, kind: kind, errs: errs, props: map[string]Prop{}, all: map[string][]Prop{}}
	for _, p := range sec.Props {
		spec, ok := allowed[p.Key]
		if !ok {
			errs.add(p.Pos, p.Key, "unknown key for %s type %q (allowed: %s)", kind, sec.Type, keyNames(allowed))
			continue
		}
		if first, dup := d.props[p.Key]; dup && !spec.repeat {
			errs.add(p.Pos, p.Key, "repeated key (first set at line %d)", first.Pos.Line)
			continue
		}
		if _, dup := d.props[p.Key]; !dup {
			d.props[p.Key] = p
		}
		d.all[p.Key] = append(d.all[p.Key], p)
	}
	return d
}

func keyNames(m map[string]keySpec) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func keys(names ...string) map[string]keySpec {
	m := make(map[string]keySpec, len(names))
	for _, n := range names {
		m[n] = keySpec{}
	}
	return m
}

func (d *decoder) errf(p Prop, format string, a ...any) {
	d.errs.add(p.Pos, p.Key, format, a...)
}

// has reports whether key is set.
func (d *decoder) has(key string) bool { _, ok := d.props[key]; return ok }

// str returns key's value ("" when unset), reporting an empty value.
func (d *decoder) str(key string) string {
	p, ok := d.props[key]
	if !ok {
		return ""
	}
	if p.Value == "" {
		d.errf(p, "empty value")
	}
	return p.Value
}

// require reports key as missing (at the section header) when unset.
func (d *decoder) require(key, why string) bool {
	if d.has(key) {
		return true
	}
	msg := fmt.Sprintf("missing: required for %s type %q", d.kind, d.sec.Type)
	if why != "" {
		msg = "missing: " + why
	}
	d.errs.add(d.sec.Pos, key, "%s", msg)
	return false
}

var intRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

// int parses key as an integer within [min, max]; 0 when unset or bad.
func (d *decoder) int(key string, min, max int64) int64 {
	p, ok := d.props[key]
	if !ok {
		return 0
	}
	return parseIntProp(d.errs, p, p.Value, min, max)
}

func parseIntProp(errs *ErrorList, p Prop, s string, min, max int64) int64 {
	if !intRE.MatchString(s) {
		errs.add(p.Pos, p.Key, "%q is not an integer", s)
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		errs.add(p.Pos, p.Key, "%s is out of range %d-%d", s, min, max)
		return 0
	}
	return n
}

// boolean parses key the way Proxmox's JSON schema does (1/0, on/off,
// yes/no, true/false).
func (d *decoder) boolean(key string) bool {
	p, ok := d.props[key]
	if !ok {
		return false
	}
	switch strings.ToLower(p.Value) {
	case "1", "on", "yes", "true":
		return true
	case "0", "off", "no", "false":
		return false
	}
	d.errf(p, "%q is not a boolean (use 1 or 0)", p.Value)
	return false
}

// list splits a comma-separated value (spaces and ';' also separate, as
// Proxmox's split_list does), reporting an empty list.
func (d *decoder) list(key string) []string {
	p, ok := d.props[key]
	if !ok {
		return nil
	}
	l := splitList(p.Value)
	if len(l) == 0 {
		d.errf(p, "empty list")
	}
	return l
}

func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == 0
	})
	return f
}

// ips parses a comma-separated list of IP addresses.
func (d *decoder) ips(key string) []netip.Addr {
	var out []netip.Addr
	p := d.props[key]
	for _, s := range d.list(key) {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			d.errf(p, "%q is not an IP address", s)
			continue
		}
		out = append(out, a)
	}
	return out
}

// addr parses key as one IP address (of family 4 or 6 when fam is set).
func (d *decoder) addr(key string, fam int) netip.Addr {
	p, ok := d.props[key]
	if !ok {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(p.Value)
	if err != nil || a.Zone() != "" {
		d.errf(p, "%q is not an IP address", p.Value)
		return netip.Addr{}
	}
	if (fam == 4 && !a.Is4()) || (fam == 6 && !a.Is6()) {
		d.errf(p, "%q is not an IPv%d address", p.Value, fam)
		return netip.Addr{}
	}
	return a
}

// prefix parses key as a network in CIDR form with no host bits set.
func (d *decoder) prefix(key string) netip.Prefix {
	p, ok := d.props[key]
	if !ok {
		return netip.Prefix{}
	}
	pf, err := netip.ParsePrefix(p.Value)
	if err != nil {
		d.errf(p, "%q is not a CIDR network", p.Value)
		return netip.Prefix{}
	}
	if pf.Masked() != pf {
		d.errf(p, "%s has host bits set (network is %s)", p.Value, pf.Masked())
		return netip.Prefix{}
	}
	return pf
}

// ignore records a setting kept but not acted on.
func (c *Config) ignore(p Prop, reason string) {
	c.Ignored = append(c.Ignored, Ignored{Pos: p.Pos, Field: p.Key, Reason: reason})
}

// Identifier formats (Proxmox JSON-schema patterns).
var (
	configIDRE   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]+$`)
	zoneIDRE     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]$`)
	ctrlIDRE     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]$`)
	nodeNameRE   = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)
	ifaceRE      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.][0-9]+)?$`)
	isisNetRE    = regexp.MustCompile(`^[a-fA-F0-9]{2}(\.[a-fA-F0-9]{4}){3,9}\.[a-fA-F0-9]{2}$`)
	routeTarget  = regexp.MustCompile(`^([0-9]+):([0-9]+)$`)
	dnsNameRE    = regexp.MustCompile(`^([a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?\.)*[a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?$`)
	maxNodeNameL = 63
)

// validNodeName reports whether s is a Proxmox node name.
func validNodeName(s string) bool {
	return len(s) <= maxNodeNameL && nodeNameRE.MatchString(s)
}

// nodes parses a node list, reporting bad names and duplicates.
func (d *decoder) nodes(key string) []string {
	p := d.props[key]
	var out []string
	seen := map[string]bool{}
	for _, n := range d.list(key) {
		if !validNodeName(n) {
			d.errf(p, "%q is not a valid node name", n)
			continue
		}
		if seen[n] {
			d.errf(p, "node %q listed twice", n)
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// validRouteTarget checks an "ASN:NN" BGP route target (both 32-bit).
func validRouteTarget(s string) bool {
	m := routeTarget.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	for _, part := range m[1:] {
		if _, err := strconv.ParseUint(part, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// validUnicastMAC checks a 6-byte colon-separated MAC that is not
// multicast/broadcast and not all zero.
func validUnicastMAC(s string) (ok bool, why string) {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return false, "not a MAC address (expected xx:xx:xx:xx:xx:xx)"
	}
	var b [6]byte
	for i, h := range parts {
		if len(h) != 2 {
			return false, "not a MAC address (expected xx:xx:xx:xx:xx:xx)"
		}
		v, err := strconv.ParseUint(h, 16, 8)
		if err != nil {
			return false, "not a MAC address (expected xx:xx:xx:xx:xx:xx)"
		}
		b[i] = byte(v)
	}
	if b[0]&1 != 0 {
		return false, "is a multicast/broadcast MAC, need a unicast one"
	}
	if b == [6]byte{} {
		return false, "is the all-zero MAC"
	}
	return true, ""
}
