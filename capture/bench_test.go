package capture

import (
	"testing"
	"time"
)

// BenchmarkDecodeVXLANARP measures decoding of a VXLAN frame carrying an ARP
// request (outer and inner), the most common frame in lab captures.
func BenchmarkDecodeVXLANARP(b *testing.B) {
	frame := vxlanFrame(b, "192.0.2.1", "192.0.2.2", 1, DefaultVXLANPort, 100, arpFrame(b, macG1, "10.1.0.10", "10.1.0.20"))
	d := NewDecoder(DecodeOptions{})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if p := d.Decode("p", time.Time{}, DirIn, 0, frame); p.VXLAN == nil {
			b.Fatal("not decoded")
		}
	}
}

// BenchmarkDecodeBGPUpdate measures decoding a TCP segment holding one EVPN
// type-2 UPDATE (TCP, BGP parse, EVPN NLRI extraction).
func BenchmarkDecodeBGPUpdate(b *testing.B) {
	up := evpnUpdate(b, 1)
	d := NewDecoder(DecodeOptions{})
	seq := uint32(1)
	b.ReportAllocs()
	for b.Loop() {
		p := d.Decode("p", time.Time{}, DirIn, 0, tcpFrame(b, seq, false, up))
		seq += uint32(len(up))
		if len(p.BGP) != 1 || len(p.BGP[0].EVPN()) != 1 {
			b.Fatal("not decoded")
		}
	}
}
