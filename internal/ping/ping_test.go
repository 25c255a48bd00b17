package ping

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestParsePing(t *testing.T) {
	out := `PING 10.1.0.11 (10.1.0.11) 1422(1450) bytes of data.
1430 bytes from 10.1.0.11: icmp_seq=1 ttl=64 time=0.101 ms
From 10.1.0.1 icmp_seq=2 Frag needed and DF set (mtu = 1400)
1430 bytes from 10.1.0.11: icmp_seq=4 ttl=64 time=0.090 ms

--- 10.1.0.11 ping statistics ---
4 packets transmitted, 2 received, +1 errors, 50% packet loss, time 3ms
`
	r := Parse(out)
	if r.Transmitted != 4 || r.Received != 2 {
		t.Fatalf("counts: %+v", r)
	}
	if len(r.Seqs) != 2 || r.Seqs[1] != 4 {
		t.Fatalf("seqs: %v", r.Seqs)
	}
	if r.MTU != 1400 || len(r.Errors) != 1 {
		t.Fatalf("mtu %d errors %v", r.MTU, r.Errors)
	}
	if g := r.LongestGap(10 * time.Millisecond); g != 30*time.Millisecond {
		t.Fatalf("gap %v", g)
	}
	local := Parse("PING 10.0.0.1 (10.0.0.1) 2000(2028) bytes of data.\nping: local error: message too long, mtu=1450\n\n--- 10.0.0.1 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n")
	if local.MTU != 1450 || local.OK() {
		t.Fatalf("local error: %+v", local)
	}
}

// busybox (a VM guest's ping) numbers its replies seq= from 0 and says
// "packets received".
func TestParseBusybox(t *testing.T) {
	r := Parse(`PING 10.0.1.12 (10.0.1.12): 56 data bytes
64 bytes from 10.0.1.12: seq=0 ttl=64 time=0.412 ms
64 bytes from 10.0.1.12: seq=2 ttl=64 time=0.380 ms

--- 10.0.1.12 ping statistics ---
3 packets transmitted, 2 packets received, 33% packet loss
round-trip min/avg/max = 0.380/0.396/0.412 ms
`)
	if r.Transmitted != 3 || r.Received != 2 {
		t.Fatalf("counts: %+v", r)
	}
	if len(r.Seqs) != 2 || r.Seqs[0] != 0 || r.Seqs[1] != 2 {
		t.Fatalf("seqs: %v", r.Seqs)
	}
}

// Only the errors that mean "too big" tell the sender the path MTU.
func TestParsePingTooBig(t *testing.T) {
	for _, c := range []struct {
		out  string
		want int
	}{
		{"From 10.1.0.1 icmp_seq=2 Frag needed and DF set (mtu = 1400)\n", 1400},
		{"From fd00::1 icmp_seq=1 Packet too big: mtu=1380\n", 1380},
		{"ping: local error: message too long, mtu=1450\n", 1450},
		{"From 10.1.0.1 icmp_seq=1 Destination Host Unreachable\n", 0},
		{"From 10.1.0.1 icmp_seq=1 Destination Net Prohibited\n", 0},
		{"From 10.1.0.1 icmp_seq=1 Time to live exceeded\n", 0},
	} {
		if r := Parse(c.out); r.TooBig != c.want {
			t.Errorf("%q: too big %d, want %d", c.out, r.TooBig, c.want)
		}
	}
}

// A probe that cannot run (its namespace is gone) is an error, never "0
// received".
func TestPingCannotRun(t *testing.T) {
	r, err := Run(context.Background(), "sdnlab-no-such-namespace-x", netip.MustParseAddr("192.0.2.1"), Opts{Count: 1})
	if err == nil {
		t.Fatalf("ping from a missing namespace: no error, result %+v", r)
	}
}
