package evpn

import (
	"context"
	"testing"

	"github.com/sdnlab/sdnlab/capture"
)

// tunnelFrames captures on an underlay interface while it runs; stop
// returns how many VXLAN frames crossed it and how many of those carried
// an ARP frame. A caller asserting "no ARP" must also see vxlan > 0, or the
// capture observed nothing at all.
func (l *lab) tunnelFrames(t testing.TB, ns, dev string) (stop func() (vxlan, arp int)) {
	t.Helper()
	s, err := capture.Start(context.Background(), []capture.Point{{Netns: ns, Ifname: dev}}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return func() (vxlan, arp int) {
		res, err := s.Stop()
		if err != nil {
			t.Errorf("capture on %s/%s: %v", ns, dev, err)
		}
		if res == nil {
			return 0, 0
		}
		for _, p := range res.Packets {
			if p.VXLAN == nil || p.VXLAN.Inner == nil {
				continue
			}
			vxlan++
			if p.VXLAN.Inner.ARP != nil {
				arp++
			}
		}
		return vxlan, arp
	}
}
