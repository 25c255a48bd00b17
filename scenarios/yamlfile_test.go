package scenarios

import (
	"github.com/sdnlab/sdnlab/reports"

	"strings"
	"testing"
)

func TestParseExample(t *testing.T) {
	f, err := LoadFile("testdata/migrate-and-check.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "migrate-and-check" || len(f.Steps) != 8 {
		t.Fatalf("name %q steps %d", f.Name(), len(f.Steps))
	}
	if f.Require.ZoneType != "evpn" || f.Require.MinNodes != 3 {
		t.Fatalf("lab requirement %+v", f.Require)
	}
	m, ok := f.Steps[1].Args.(*migrateStep)
	if !ok || m.Guest != "vm1" || m.Pause != "${pause}" || f.Steps[1].Line != 12 {
		t.Fatalf("step 2: %+v line %d", f.Steps[1].Args, f.Steps[1].Line)
	}
	if got := expand(m.Pause, map[string]string{"pause": "80ms"}); got != "80ms" {
		t.Fatalf("expand: %q", got)
	}
	if s, ok := f.Steps[7].Args.(*scenarioStep); !ok || s.Name != "bum-replication" {
		t.Fatalf("short scenario step: %+v", f.Steps[7].Args)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"no name", "steps:\n  - sleep: 1s\n", `x.yaml:1: field "name": required`},
		{"bad name", "name: Bad Name\nsteps: []\n", `x.yaml:1: field "name"`},
		{"unknown top", "name: a\nsteps:\n  - sleep: 1s\nfoo: 1\n", `x.yaml:4: unknown field "foo"`},
		{"unknown kind", "name: a\nsteps:\n  - sleep: 1s\n  - jump: {}\n", `x.yaml:4: step 2: unknown step kind "jump"`},
		{"unknown field", "name: a\nsteps:\n  - ping:\n      from: vm1\n      too: vm2\n", `x.yaml:5: step 1 (ping): unknown field "too"`},
		{"missing field", "name: a\nsteps:\n  - ping: {from: vm1}\n", `x.yaml:3: step 1 (ping): field "to": required`},
		{"bad duration", "name: a\nsteps:\n  - migrate: {guest: vm1, to: n2, pause: fast}\n", `field "pause": "fast" is not a duration`},
		{"bad type", "name: a\nsteps:\n  - ping: {from: a, to: b, count: many}\n", `x.yaml:3: step 1 (ping): field cannot unmarshal`},
		{"bad expect", "name: a\nsteps:\n  - fdb: {node: n, mac-of: g, expect: elsewhere}\n", `field "expect": "elsewhere" is not local`},
		{"route prefix", "name: a\nsteps:\n  - route: {in: node1, to: 10.0.0.1/8, via: node2, expect: absent}\n", `x.yaml:3: step 1 (route): field "to": "10.0.0.1/8" is not a prefix without host bits`},
		{"route expect", "name: a\nsteps:\n  - route: {in: node1, to: default, via: node2, expect: gone}\n", `field "expect": "gone" is not present or absent`},
		{"undeclared param", "name: a\nsteps:\n  - sleep: ${t}\n", `x.yaml:3: step sleep: ${t} is not declared`},
		{"two keys", "name: a\nsteps:\n  - sleep: 1s\n    ping: {}\n", `x.yaml:3: step 1: must be a mapping with exactly one key`},
		{"syntax", "name: a\nsteps: [\n", `x.yaml:`},
		{"zone type", "name: a\nlab: {zone-type: ospf}\nsteps:\n  - sleep: 1s\n", `x.yaml:2: lab: field "zone-type"`},
		{"lab field", "name: a\nlab:\n  nodes: 3\nsteps:\n  - sleep: 1s\n", `x.yaml:3: field "lab": unknown field "nodes"`},
		{"no steps", "name: a\n", `field "steps": at least one`},
		{"empty file", "", `x.yaml: empty scenario file`},
		{"sub-scenario", "name: a\nsteps:\n  - scenario: no-such\n", `x.yaml:3: step scenario: unknown scenario "no-such"`},
		{"sub-scenario value", "name: a\nsteps:\n  - scenario: {name: urpf, params: {routers-strict: maybe}}\n", `x.yaml:3: step scenario: scenario urpf: parameter routers-strict: "maybe" is not true or false`},
		{"only a comment", "# nothing yet\n", `x.yaml: empty scenario file`},
		{"name rule", "name: a.b\nsteps:\n  - sleep: 1s\n", `"a.b" must be lower-case letters, digits, dashes and underscores`},
	}
	for _, c := range cases {
		_, err := ParseFile("x.yaml", []byte(c.yaml))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
		if fe, ok := err.(*FileError); !ok || !fe.BadInput() {
			t.Errorf("%s: not a FileError: %T", c.name, err)
		}
	}
}

func TestResultVerdict(t *testing.T) {
	r := NewResult("x").Finish()
	if r.Verdict != reports.Error {
		t.Fatalf("no checks must be an error, got %s", r.Verdict)
	}
	r = NewResult("x")
	r.Expect("a", true, "1", "1", "")
	r.Expect("b", false, "2", "3", "because")
	r.Finish()
	if r.Verdict != reports.Fail || !strings.Contains(r.Explain(), "likely cause: because") {
		t.Fatalf("verdict %s explain %q", r.Verdict, r.Explain())
	}
}
