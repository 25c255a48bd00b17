package fabrics

import (
	"net/netip"
	"testing"
)

func TestNET(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"172.20.3.1", "49.0001.1720.2000.3001.00"},
		{"192.168.0.1", "49.0001.1921.6800.0001.00"},
		{"10.1.2.3", "49.0001.0100.0100.2003.00"},
		{"2001:db8::1234:5678:abcd", "49.0001.1234.5678.abcd.00"},
		{"fd00::1", "49.0001.0000.0000.0001.00"},
	} {
		if got := NET(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("NET(%s) = %s, want %s", c.ip, got, c.want)
		}
	}
}
