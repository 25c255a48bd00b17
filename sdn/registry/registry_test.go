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
	seen = map[string]bool{}
	for _, f := range Fabrics() {
		if f.Name() == "" || seen[f.Name()] {
			t.Errorf("fabric type %q: empty or listed twice", f.Name())
		}
		seen[f.Name()] = true
		// config reads these itself, under these names.
		for _, k := range []string{"ip_prefix", "ip6_prefix"} {
			if !slices.Contains(f.FabricKeys(), k) {
				t.Errorf("fabric type %s: common key %q missing from FabricKeys", f.Name(), k)
			}
		}
		for _, k := range []string{"ip", "ip6", "interfaces"} {
			if !slices.Contains(f.NodeKeys(), k) {
				t.Errorf("fabric type %s: common key %q missing from NodeKeys", f.Name(), k)
			}
		}
		if !slices.Contains(f.Lists(), "interfaces") {
			t.Errorf("fabric type %s: interfaces is not a list", f.Name())
		}
	}
	cfg := Config()
	if len(cfg.Zones) != len(Zones()) || len(cfg.Controllers) != len(Controllers()) || len(cfg.Fabrics) != len(Fabrics()) {
		t.Errorf("Config() has %d zone, %d controller and %d fabric types, want %d, %d and %d",
			len(cfg.Zones), len(cfg.Controllers), len(cfg.Fabrics), len(Zones()), len(Controllers()), len(Fabrics()))
	}
}
