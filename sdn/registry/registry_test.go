package registry

import (
	"slices"
	"testing"
)

// Every type is listed once, under a name config.Load finds it by, and
// allows the keys every zone shares (config decodes those itself).
func TestTypes(t *testing.T) {
	seen := map[string]bool{}
	for _, z := range Zones() {
		if z.Name() == "" || seen[z.Name()] {
			t.Errorf("zone type %q: empty or listed twice", z.Name())
		}
		seen[z.Name()] = true
		if got, ok := Zone(z.Name()); !ok || got.Name() != z.Name() {
			t.Errorf("Zone(%q) does not find it", z.Name())
		}
		for _, k := range []string{"nodes", "mtu", "ipam", "dns", "reversedns", "dnszone"} {
			if !slices.Contains(z.Keys(), k) {
				t.Errorf("zone type %s: common key %q missing from Keys", z.Name(), k)
			}
		}
	}
	if _, ok := Zone("faucet"); ok {
		t.Error("faucet is not a zone type of sdnlab")
	}
	seen = map[string]bool{}
	for _, c := range Controllers() {
		if c.Name() == "" || seen[c.Name()] {
			t.Errorf("controller type %q: empty or listed twice", c.Name())
		}
		seen[c.Name()] = true
	}
	cfg := Config()
	if len(cfg.Zones) != len(Zones()) || len(cfg.Controllers) != len(Controllers()) {
		t.Errorf("Config() has %d zone and %d controller types, want %d and %d",
			len(cfg.Zones), len(cfg.Controllers), len(Zones()), len(Controllers()))
	}
}
