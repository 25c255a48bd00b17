package sdn_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn"
)

// BenchmarkCompileLarge compiles a plan of 20 EVPN zones with 25 VNets
// (and one SNAT subnet) each: 500 VNets, 1,060 stanzas.
func BenchmarkCompileLarge(b *testing.B) {
	var zones, vnets, subnets strings.Builder
	for z := range 20 {
		fmt.Fprintf(&zones, "evpn: z%d\n\tcontroller ctl\n\tvrf-vxlan %d\n\texitnodes n1\n\n", z, 10000+z)
		for v := range 25 {
			id := fmt.Sprintf("v%dx%d", z, v)
			fmt.Fprintf(&vnets, "vnet: %s\n\tzone z%d\n\ttag %d\n\n", id, z, 20000+z*100+v)
			fmt.Fprintf(&subnets, "subnet: z%d-10.%d.%d.0-24\n\tvnet %s\n\tgateway 10.%d.%d.1\n\tsnat 1\n\n", z, z, v, id, z, v)
		}
	}
	cfg := load(b, map[string]string{
		"controllers.cfg": "evpn: ctl\n\tasn 65000\n\tpeers 10.10.10.11,10.10.10.12,10.10.10.13\n",
		"zones.cfg":       zones.String(),
		"vnets.cfg":       vnets.String(),
		"subnets.cfg":     subnets.String(),
	})
	facts := hostFacts(b, "n1", linuxHost)
	b.ResetTimer()
	for b.Loop() {
		p, err := sdn.Compile(cfg, facts)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Ifaces) != 1060 {
			b.Fatalf("only %d stanzas", len(p.Ifaces))
		}
	}
}
