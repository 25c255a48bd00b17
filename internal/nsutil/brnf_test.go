package nsutil

import (
	"os"
	"strings"
	"testing"
)

func TestReleaseAtLeast(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want bool
	}{
		{"6.18.44-fc-v1147", true},
		{"5.3.0", true},
		{"5.2.21-generic", false},
		{"4.19.0-27-amd64", false},
		{"5.10", true},
		{"garbage", false},
		{"", false},
	} {
		if got := releaseAtLeast(c.rel, 5, 3); got != c.want {
			t.Errorf("releaseAtLeast(%q, 5, 3) = %v, want %v", c.rel, got, c.want)
		}
	}
}

// TestBridgeNetfilterOff: the switch namespace stops calling the IP hooks
// and the host's own setting stays as it was.
func TestBridgeNetfilterOff(t *testing.T) {
	needRoot(t)
	host, err := os.ReadFile(bridgeNetfilterKeys[0])
	if err != nil {
		t.Skipf("br_netfilter is not loaded on this host: %v", err)
	}
	ns := testNS(t, "brnf")
	off, err := BridgeNetfilterOff(ns)
	if err != nil {
		t.Fatal(err)
	}
	if !off {
		t.Skip("kernel older than 5.3: the switches are not per namespace")
	}
	for _, k := range bridgeNetfilterKeys {
		var got []byte
		if err := Do(ns, func() (err error) { got, err = os.ReadFile(k); return }); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(got)) != "0" {
			t.Errorf("%s in %s = %q, want 0", k, ns, got)
		}
	}
	after, err := os.ReadFile(bridgeNetfilterKeys[0])
	if err != nil || string(after) != string(host) {
		t.Errorf("host's %s changed: %q -> %q (%v)", bridgeNetfilterKeys[0], host, after, err)
	}
}
