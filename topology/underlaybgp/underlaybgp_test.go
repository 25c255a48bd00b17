package underlaybgp

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// A learned path decodes to its prefix and next hop (IPv4: NEXT_HOP,
// IPv6: MP_REACH); our own announcement (next hop unspecified) is not a
// route to install.
func TestDecode(t *testing.T) {
	v4 := bgp.NewIPAddrPrefix(24, "192.168.30.0")
	p4, err := apiutil.NewPath(v4, false, []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeNextHop("192.168.20.254")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v6 := bgp.NewIPv6AddrPrefix(64, "fd10:3::")
	p6, err := apiutil.NewPath(v6, false, []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeMpReachNLRI("fd10:2::fe", []bgp.AddrPrefixInterface{v6})}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pf, nh, _, ok := decode(p4)
	if !ok || pf != netip.MustParsePrefix("192.168.30.0/24") || nh != netip.MustParseAddr("192.168.20.254") {
		t.Errorf("v4: %s via %s %v", pf, nh, ok)
	}
	pf, nh, _, ok = decode(p6)
	if !ok || pf != netip.MustParsePrefix("fd10:3::/64") || nh != netip.MustParseAddr("fd10:2::fe") {
		t.Errorf("v6: %s via %s %v", pf, nh, ok)
	}
	for _, own := range []string{"192.168.10.0/24", "fd10:1::/64"} {
		lp, err := localPath(netip.MustParsePrefix(own))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, ok := decode(lp); ok {
			t.Errorf("own announcement %s decodes as a learned route", own)
		}
	}
}

func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bgp.json")
	os.WriteFile(p, []byte(`{"router":"r1","asn":65001,"routerID":"192.168.0.254","neighbors":[{"addr":"192.168.1.2","asn":65002,"local":"192.168.1.1"}],"networks":["192.168.0.0/24"]}`), 0o644)
	c, err := ReadConfig(p)
	if err != nil || c.ASN != 65001 || len(c.Neighbors) != 1 || c.Neighbors[0].Local.String() != "192.168.1.1" {
		t.Errorf("%+v %v", c, err)
	}
	os.WriteFile(p, []byte(`{"router":"r1","asn":0}`), 0o644)
	if _, err := ReadConfig(p); err == nil {
		t.Error("asn 0 accepted")
	}
}
