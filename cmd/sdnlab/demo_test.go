package main

import (
	"slices"
	"testing"

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
	// Every demo lab is an embedded example.
	for _, l := range demoLabs {
		if _, err := examples.FS.ReadFile(l.example + "/lab.yaml"); err != nil {
			t.Errorf("demo lab %s: %v", l.name, err)
		}
	}
}
