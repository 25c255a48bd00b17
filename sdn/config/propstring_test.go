package config

import "testing"

// Property strings as proxmox-schema's iterator reads them, both sides.
func TestParsePropertyString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		name string
	}{
		{"name=ens19", true, "ens19"},
		{"name=ens19,", true, "ens19"},
		{"name=ens19,ip=10.0.0.1/31,", true, "ens19"},
		{`name="ens19"`, true, "ens19"},
		{`name="a\"b",ip=x`, true, `a"b`},
		{"name=ens19,,", false, ""},
		{"name=ens19,,ip=x", false, ""},
		{",name=ens19", false, ""},
		{"name=ens19, ip=x", false, ""}, // key " ip": nothing is trimmed
		{"ens19", false, ""},            // no default key
		{"name=a,name=b", false, ""},
		{`name="open`, false, ""},
		{`name="a"b`, false, ""},
	} {
		ps, err := parsePropertyString(tc.in, "", "name", "ip")
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && ps.get("name") != tc.name {
			t.Errorf("%q: name %q, want %q", tc.in, ps.get("name"), tc.name)
		}
	}
	if ps, err := parsePropertyString("ens19", "name", "name"); err != nil || ps.get("name") != "ens19" {
		t.Errorf("default key: %v", err)
	}
}
