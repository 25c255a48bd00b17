package evpn

import (
	"fmt"
	"net/netip"
	"testing"
)

// BenchmarkPlanL2At300Nodes plans the kernel state and advertisements of
// a node of the 300-node lab (docs/SCALE.md 27): two VNIs, every other
// node's IMET and MAC/IP routes for both, 1,800 remote paths; no netlink
// (the VNIs' devices are taken as found, unicast is not configured).
func BenchmarkPlanL2At300Nodes(b *testing.B) {
	a, err := New(Config{RouterID: netip.MustParseAddr("10.10.0.2"), ASN: 65000, LocalVTEP: netip.MustParseAddr("10.10.0.2"),
		L2VNIs: []L2VNI{{VNI: 11000, Bridge: "v1", VxlanDev: "vxlan_v1"}, {VNI: 12000, Bridge: "v2", VxlanDev: "vxlan_v2"}}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i, v := range a.l2 {
		v.bridgeIdx, v.vxlanIdx = 10+i, 20+i
	}
	for n := 2; n <= 300; n++ {
		vtep := netip.AddrFrom4([4]byte{10, 10, byte(n / 250), byte(n%250 + 2)})
		for i, v := range a.l2 {
			rd := fmt.Sprintf("%s:%d", vtep, i+2) // an RD per VNI, as FRR derives them
			mac := fmt.Sprintf("bc:24:11:%02x:%02x:%02x", n>>8, n&0xff, v.VNI%256)
			ip := netip.AddrFrom4([4]byte{10, byte(v.VNI / 1000 % 10), byte(n / 250), byte(n%250 + 2)})
			for _, r := range []*Route{
				{Type: TypeIMET, RD: rd, IP: vtep, VNI: v.VNI, NextHop: vtep},
				{Type: TypeMACIP, RD: rd, MAC: mac, VNI: v.VNI, NextHop: vtep},
				{Type: TypeMACIP, RD: rd, MAC: mac, IP: ip, VNI: v.VNI, NextHop: vtep},
			} {
				r.RTs, r.Peer = v.ImportRTs, "10.10.0.1"
				nlri, err := r.nlri()
				if err != nil {
					b.Fatal(err)
				}
				r.Key = nlri.String()
				a.rib[r.Key] = r
			}
		}
	}
	// The steady state: what the first plan wants is installed.
	for k, o := range a.plan().kernel {
		a.installed[k] = &installed{obj: o}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d := a.plan()
		if len(d.kernel) < 1700 {
			b.Fatalf("planned %d kernel objects, want about 1,800", len(d.kernel))
		}
	}
}
