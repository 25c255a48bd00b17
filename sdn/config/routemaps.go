package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// reservedRouteMaps are the route maps the controllers generate; Proxmox
// refuses them (and every "pve_" name, the fabrics' prefix) for user route maps.
var reservedRouteMaps = map[string]bool{"MAP_VTEP_IN": true, "MAP_VTEP_OUT": true, "correct_src": true}

// reservedRouteMap reports whether a user route map may not be called name.
func reservedRouteMap(name string) bool {
	return reservedRouteMaps[name] || strings.HasPrefix(name, "pve_")
}

var routeMapOrderRE = regexp.MustCompile(`^[0-9]+$`)

// decodeRouteMaps reads route-maps.cfg: one "route-map-entry: NAME_ORDER"
// section per entry with action, match, set, call and exit-action keys.
func (c *Config) decodeRouteMaps(secs []Section, errs *ErrorList) {
	keys := map[string]keySpec{"action": {}, "match": {repeat: true}, "set": {repeat: true}, "call": {}, "exit-action": {}}
	for i := range secs {
		sec := &secs[i]
		if sec.Type != "route-map-entry" {
			errs.add(sec.Pos, "type", "unknown section type %q in route-maps.cfg (want route-map-entry)", sec.Type)
			continue
		}
		name, order, ok := strings.Cut(reverse(sec.ID), "_")
		name, order = reverse(order), reverse(name) // split at the last '_'
		if !ok || !prefixListIDRE.MatchString(name) || !routeMapOrderRE.MatchString(order) {
			errs.add(sec.Pos, "id", "invalid route map entry id %q: want NAME_ORDER (NAME up to 32 letters, digits, '-' and '_'; ORDER a number)", sec.ID)
			continue
		}
		n, err := strconv.ParseUint(order, 10, 16)
		if err != nil {
			errs.add(sec.Pos, "id", "route map entry order %s is not in 0-65535", order)
			continue
		}
		if reservedRouteMap(name) {
			errs.add(sec.Pos, "id", "route map name %q is reserved (Proxmox generates it)", name)
			continue
		}
		d := newDecoder(sec, "route map entry", keys, errs)
		e := &RouteMapEntry{Name: name, Order: int(n), Pos: sec.Pos}
		if d.require("action", "") {
			e.Action = d.props["action"].Value
			if e.Action != "permit" && e.Action != "deny" {
				d.errf(d.props["action"], "%q: want permit or deny", e.Action)
			}
		}
		for _, p := range d.all["match"] {
			if s, err := routeMapStatement(p.Value, matchKeys); err != nil {
				d.errf(p, "%v", err)
			} else {
				e.Match = append(e.Match, s)
			}
		}
		for _, p := range d.all["set"] {
			if s, err := routeMapStatement(p.Value, setKeys); err != nil {
				d.errf(p, "%v", err)
			} else {
				e.Set = append(e.Set, s)
			}
		}
		if p, ok := d.props["call"]; ok {
			if !prefixListIDRE.MatchString(p.Value) {
				d.errf(p, "%q is not a route map name", p.Value)
			} else {
				e.Call = p.Value
			}
		}
		if p, ok := d.props["exit-action"]; ok {
			if s, err := routeMapStatement(p.Value, exitKeys); err != nil {
				d.errf(p, "%v", err)
			} else {
				e.ExitAction = s.String()
			}
		}
		c.RouteMaps[name] = append(c.RouteMaps[name], e)
	}
	for _, es := range c.RouteMaps {
		sort.SliceStable(es, func(i, j int) bool { return es[i].Order < es[j].Order })
	}
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// rmKey is one key of a route map match/set/exit-action property string:
// the FRR statement it becomes and how its value is checked ("" kind: no
// value).
type rmKey struct {
	frr  string
	kind string
}

var matchKeys = map[string]rmKey{
	"route-type":               {"evpn route-type", "routetype"},
	"vni":                      {"evpn vni", "vni"},
	"ip-address-prefix-list":   {"ip address prefix-list", "name"},
	"ip6-address-prefix-list":  {"ipv6 address prefix-list", "name"},
	"ip-next-hop-prefix-list":  {"ip next-hop prefix-list", "name"},
	"ip6-next-hop-prefix-list": {"ipv6 next-hop prefix-list", "name"},
	"ip-next-hop-address":      {"ip next-hop address", "ip4"},
	"ip6-next-hop-address":     {"ipv6 next-hop address", "ip6"},
	"metric":                   {"metric", "u32"},
	"local-preference":         {"local-preference", "u32"},
	"tag":                      {"tag", "tag"},
	"peer":                     {"peer", "word"},
}

var setKeys = map[string]rmKey{
	"ip-next-hop-peer-address":   {"ip next-hop peer-address", ""},
	"ip-next-hop-unchanged":      {"ip next-hop unchanged", ""},
	"ip-next-hop":                {"ip next-hop", "ip4"},
	"ip6-next-hop-peer-address":  {"ipv6 next-hop peer-address", ""},
	"ip6-next-hop-prefer-global": {"ipv6 next-hop prefer-global", ""},
	"ip6-next-hop":               {"ipv6 next-hop global", "ip6"},
	"weight":                     {"weight", "u32"},
	"tag":                        {"tag", "tag"},
	"metric":                     {"metric", "metric"},
	"local-preference":           {"local-preference", "modify"},
	"src":                        {"src", "ip"},
}

var exitKeys = map[string]rmKey{
	"on-match-next": {"on-match next", ""},
	"on-match-goto": {"on-match goto", "u16"},
	"continue":      {"continue", "u16"},
}

var modifyNumberRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

// RouteMapStatement is an FRR match, set or exit statement split into its
// keyword(s) and its value ("" none).
type RouteMapStatement struct {
	Key, Value string
}

func (s RouteMapStatement) String() string {
	if s.Value == "" {
		return s.Key
	}
	return s.Key + " " + s.Value
}

// routeMapStatement turns "key=K[,value=V]" into the FRR statement.
func routeMapStatement(v string, table map[string]rmKey) (RouteMapStatement, error) {
	ps, err := parsePropertyString(v, "", "key", "value")
	if err != nil {
		return RouteMapStatement{}, err
	}
	k, ok := table[ps.get("key")]
	if !ps.has("key") || !ok {
		names := make([]string, 0, len(table))
		for n := range table {
			names = append(names, n)
		}
		sort.Strings(names)
		return RouteMapStatement{}, fmt.Errorf("%q: key must be one of %s", v, strings.Join(names, ", "))
	}
	val, hasVal := ps.get("value"), ps.has("value")
	if k.kind == "" {
		if hasVal {
			return RouteMapStatement{}, fmt.Errorf("%q: key %s takes no value", v, ps.get("key"))
		}
		return RouteMapStatement{Key: k.frr}, nil
	}
	if !hasVal {
		return RouteMapStatement{}, fmt.Errorf("%q: key %s needs a value", v, ps.get("key"))
	}
	if err := checkRouteMapValue(k.kind, val); err != nil {
		return RouteMapStatement{}, fmt.Errorf("%q: %s: %v", v, ps.get("key"), err)
	}
	return RouteMapStatement{Key: k.frr, Value: val}, nil
}

func checkRouteMapValue(kind, val string) error {
	u := func(bits int) error {
		if _, err := strconv.ParseUint(val, 10, bits); err != nil {
			return fmt.Errorf("%q is not an unsigned %d-bit integer", val, bits)
		}
		return nil
	}
	addr := func(fam int) error {
		a, err := netip.ParseAddr(val)
		if err != nil || a.Zone() != "" || (fam == 4 && !a.Is4()) || (fam == 6 && !a.Is6()) {
			return fmt.Errorf("%q is not an IPv%d address", val, fam)
		}
		return nil
	}
	modify := func() error {
		if !modifyNumberRE.MatchString(val) {
			return fmt.Errorf("%q is not a number or a +N/-N change", val)
		}
		bits := 32
		if val[0] == '+' || val[0] == '-' {
			_, err := strconv.ParseInt(val, 10, 32)
			if err != nil {
				return fmt.Errorf("%q is out of range", val)
			}
			return nil
		}
		return u(bits)
	}
	switch kind {
	case "routetype":
		switch val {
		case "ead", "macip", "multicast", "es", "prefix":
			return nil
		}
		return fmt.Errorf("%q: want ead, macip, multicast, es or prefix", val)
	case "vni":
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil || n < 1 || n > 16777215 {
			return fmt.Errorf("%q is not a VNI (1-16777215)", val)
		}
	case "name":
		if !prefixListIDRE.MatchString(val) {
			return fmt.Errorf("%q is not a prefix list name", val)
		}
	case "ip4":
		return addr(4)
	case "ip6":
		return addr(6)
	case "ip":
		a, err := netip.ParseAddr(val)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("%q is not an IP address", val)
		}
	case "u32":
		return u(32)
	case "u16":
		return u(16)
	case "tag":
		if val == "untagged" {
			return nil
		}
		return u(32)
	case "metric":
		switch val {
		case "rtt", "+rtt", "-rtt", "igp", "aigp":
			return nil
		}
		return modify()
	case "modify":
		return modify()
	case "word":
		if val == "" || strings.ContainsAny(val, " \t") {
			return fmt.Errorf("%q is not one word", val)
		}
	}
	return nil
}
