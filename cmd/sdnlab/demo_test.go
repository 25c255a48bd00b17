package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/examples"
	"github.com/sdnlab/sdnlab/scenarios"
)

// Each scenario runs on the lab that takes it; the IPv6 paths of the EVPN
// checks run on the IPv6-only cluster too.
func TestDemoPairs(t *testing.T) {
	sel, err := scenarios.Select(nil)
	if err != nil {
		t.Fatal(err)
	}
	labs := map[string][]string{}
	for _, p := range demoPairs(sel) {
		labs[p.Sel.Scenario.Name()] = append(labs[p.Sel.Scenario.Name()], p.Lab)
	}
	for name, want := range map[string][]string{
		"vm-live-migration":    {demoLab, demoV6Lab},
		"bum-replication":      {demoLab, demoV6Lab},
		"cross-rack-migration": {demoRacksLab},
		"dhcp":                 {"demodhcp"},
		"snat":                 {demoLab},
		"wireguard-fabric":     {"demowg"},
	} {
		if !slices.Equal(labs[name], want) {
			t.Errorf("%s runs on %v, want %v", name, labs[name], want)
		}
	}
	for _, s := range scenarios.All() {
		if len(labs[s.Name()]) == 0 {
			t.Errorf("the demo never runs %s", s.Name())
		}
	}
	// Every demo lab is an embedded example, copied with every example
	// its lab file refers to (../NAME/...).
	copied := demoExamples()
	for _, l := range demoLabs {
		b, err := examples.FS.ReadFile(l.example + "/lab.yaml")
		if err != nil {
			t.Errorf("demo lab %s: %v", l.name, err)
		}
		if !slices.Contains(copied, l.example) {
			t.Errorf("demo lab %s: example %s is not copied (%v)", l.name, l.example, copied)
		}
		for _, m := range regexp.MustCompile(`\.\./([\w.-]+)/`).FindAllSubmatch(b, -1) {
			if !slices.Contains(copied, string(m[1])) {
				t.Errorf("demo lab %s refers to example %s, which is not copied (%v)", l.name, m[1], copied)
			}
		}
	}
}

// Figures named per family come out side by side; others are left out.
func TestWriteFamilies(t *testing.T) {
	r := scenarios.NewResult("vm-live-migration [agent]")
	r.Ms("longest gap from vm12 v4", 140*time.Millisecond)
	r.Ms("longest gap from vm12 v6", 106*time.Millisecond)
	r.Figure("copies sent v6", 2, "")
	r.Finding("as deployed (v6 inside)", "EXPOSED")
	r.Figure("remote VTEPs", 2, "")
	var b strings.Builder
	writeFamilies(&b, []*scenarios.Result{r})
	out := b.String()
	for _, want := range []string{"longest gap from vm12 vN  140 ms  106 ms", "copies sent vN", "as deployed (vN inside)", "EXPOSED"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "remote VTEPs") {
		t.Errorf("a figure of no family is listed:\n%s", out)
	}
}
