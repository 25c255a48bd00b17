package nsutil

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestRPF6: the IPv6 reverse path check drops (and counts) a packet whose
// source the router would not route back out of the interface it came in
// on, lets a proper one through, and goes away when cleared.
func TestRPF6(t *testing.T) {
	needRoot(t)
	rname, hname := testNS(t, "rpfr"), testNS(t, "rpfh")
	r, err := OpenNS(rname, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h, err := OpenNS(hname, false)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := r.EnsureVeth("r0", "", 0, h, "h0", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAddrs("r0", []netip.Prefix{netip.MustParsePrefix("fd00:a::1/64")}); err != nil {
		t.Fatal(err)
	}
	// fd00:b::2 is not routed back through r0: a spoofed source.
	if err := h.SetAddrs("h0", []netip.Prefix{netip.MustParsePrefix("fd00:a::2/64"), netip.MustParsePrefix("fd00:b::2/128")}); err != nil {
		t.Fatal(err)
	}
	if err := r.Up("r0"); err != nil {
		t.Fatal(err)
	}
	if err := h.Up("h0"); err != nil {
		t.Fatal(err)
	}
	// No neighbour discovery in the way (a loaded machine, or a
	// solicitation from the spoofed source that the check itself drops):
	// the host knows the router's MAC, and both links have carrier.
	rl, err := r.H.LinkByName("r0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := h.H.LinkByName("h0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.H.NeighSet(&netlink.Neigh{LinkIndex: hl.Attrs().Index, Family: netlink.FAMILY_V6, State: netlink.NUD_PERMANENT,
		IP: net.ParseIP("fd00:a::1"), HardwareAddr: rl.Attrs().HardwareAddr}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		a, _ := r.H.LinkByName("r0")
		b, _ := h.H.LinkByName("h0")
		if a != nil && b != nil && a.Attrs().OperState == netlink.OperUp && b.Attrs().OperState == netlink.OperUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("veth without carrier after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := SetRPF6(rname, []string{"r0"}); err != nil {
		t.Fatal(err)
	}
	strict, drops, present, err := RPF6(rname)
	if err != nil || !present || !slices.Equal(strict, []string{"r0"}) || drops != 0 {
		t.Fatalf("RPF6 = %v %d %v %v", strict, drops, present, err)
	}
	// send sends UDP datagrams from src to the router and returns how many
	// the router received.
	send := func(src string) int {
		var ln *net.UDPConn
		if err := Do(rname, func() error {
			var err error
			ln, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP("fd00:a::1"), Port: 9999})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if err := Do(hname, func() error {
			c, err := net.DialUDP("udp6", &net.UDPAddr{IP: net.ParseIP(src)}, &net.UDPAddr{IP: net.ParseIP("fd00:a::1"), Port: 9999})
			if err != nil {
				return err
			}
			defer c.Close()
			for range 5 {
				if _, err := c.Write([]byte("x")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got := 0
		buf := make([]byte, 16)
		for {
			_ = ln.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, err := ln.Read(buf); err != nil {
				return got
			}
			got++
		}
	}
	if n := send("fd00:a::2"); n != 5 {
		t.Errorf("from a routed-back source: %d of 5 datagrams arrived", n)
	}
	if n := send("fd00:b::2"); n != 0 {
		t.Errorf("from a spoofed source: %d of 5 datagrams arrived", n)
	}
	if _, drops, _, _ = RPF6(rname); drops != 5 {
		t.Errorf("drops counted: %d, want 5", drops)
	}
	if err := SetRPF6(rname, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, present, err := RPF6(rname); present || err != nil {
		t.Errorf("after clearing: present %v, %v", present, err)
	}
	if n := send("fd00:b::2"); n != 5 {
		t.Errorf("without the check, from a spoofed source: %d of 5 datagrams arrived", n)
	}
}
