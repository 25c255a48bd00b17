package ping

import (
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
	r := parsePing(out)
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
	local := parsePing("PING 10.0.0.1 (10.0.0.1) 2000(2028) bytes of data.\nping: local error: message too long, mtu=1450\n\n--- 10.0.0.1 ping statistics ---\n1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n")
	if local.MTU != 1450 || local.OK() {
		t.Fatalf("local error: %+v", local)
	}
}
