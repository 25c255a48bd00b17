package config

import (
	"fmt"
	"strings"
)

// propString is one parsed Proxmox property string ("k=v,k2=v2").
type propString struct {
	raw  string
	kv   map[string]string
	keys []string // in the order written
}

// parsePropertyString splits a property string as Proxmox does: parts
// separated by ',', empty parts skipped (so "name=ens19," is valid), a part
// without '=' taken as the value of defaultKey ("" when the format has
// none), a repeated key refused. allowed lists the keys the format has.
func parsePropertyString(v, defaultKey string, allowed ...string) (*propString, error) {
	ps := &propString{raw: v, kv: map[string]string{}}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			if defaultKey == "" {
				return nil, fmt.Errorf("%q: %q is not key=value", v, part)
			}
			k, val = defaultKey, part
		}
		if k == "" {
			return nil, fmt.Errorf("%q: %q has no key", v, part)
		}
		if !contains(allowed, k) {
			return nil, fmt.Errorf("%q: unknown key %q (allowed: %s)", v, k, strings.Join(allowed, ", "))
		}
		if _, dup := ps.kv[k]; dup {
			return nil, fmt.Errorf("%q: key %q given twice", v, k)
		}
		ps.kv[k] = val
		ps.keys = append(ps.keys, k)
	}
	return ps, nil
}

func (p *propString) has(k string) bool { _, ok := p.kv[k]; return ok }

func (p *propString) get(k string) string { return p.kv[k] }

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
