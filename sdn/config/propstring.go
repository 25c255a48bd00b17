package config

import (
	"errors"
	"fmt"
	"strings"
)

// propString is one parsed Proxmox property string ("k=v,k2=v2").
type propString struct {
	raw  string
	kv   map[string]string
	keys []string // in the order written
}

// parsePropertyString reads a property string the way proxmox-schema's
// property iterator does: "key=value" parts separated by ','; the text
// after the last ',' may be empty (so "name=ens19," is valid, a second
// trailing comma or an empty part in the middle is not); a value may be
// double-quoted with \", \\ and \n escapes; a part without '=' is the value
// of defaultKey ("" when the format has none: an error). Nothing is
// trimmed, a repeated key is refused, allowed lists the format's keys (nil:
// any key, for formats that allow additional properties).
func parsePropertyString(v, defaultKey string, allowed ...string) (*propString, error) {
	ps := &propString{raw: v, kv: map[string]string{}}
	data := v
	for data != "" {
		var key string
		hasKey := false
		if !strings.HasPrefix(data, `"`) {
			if i := strings.IndexAny(data, ",="); i >= 0 && data[i] == '=' {
				key, data, hasKey = data[:i], data[i+1:], true
			}
		}
		var val string
		if strings.HasPrefix(data, `"`) {
			q, rest, err := unquote(data)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", v, err)
			}
			if rest != "" && rest[0] != ',' {
				return nil, fmt.Errorf("%q: garbage after quoted string", v)
			}
			val, data = q, strings.TrimPrefix(rest, ",")
		} else if i := strings.IndexByte(data, ','); i >= 0 {
			val, data = data[:i], data[i+1:]
		} else {
			val, data = data, ""
		}
		if !hasKey {
			if defaultKey == "" {
				return nil, fmt.Errorf("%q: %q is not key=value", v, val)
			}
			key = defaultKey
		}
		if allowed != nil && !contains(allowed, key) {
			return nil, fmt.Errorf("%q: unknown key %q (allowed: %s)", v, key, strings.Join(allowed, ", "))
		}
		if _, dup := ps.kv[key]; dup {
			return nil, fmt.Errorf("%q: key %q given twice", v, key)
		}
		ps.kv[key] = val
		ps.keys = append(ps.keys, key)
	}
	return ps, nil
}

// unquote reads a double-quoted string at the start of s and returns it
// with the rest of s after the closing quote.
func unquote(s string) (val, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", errors.New("unexpected end of string")
			}
			i++
			switch s[i] {
			case '"', '\\':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			default:
				return "", "", errors.New("unsupported escape sequence")
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unexpected end of string")
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
