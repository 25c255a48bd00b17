package softvlan

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

func TestPrograms(t *testing.T) {
	// The assembler resolves every label (a missing one is an error here,
	// without root or a kernel).
	for _, ins := range []asm.Instructions{
		pushProg(0x8100, 10, 3, 0), pushProg(0x88a8, 20, 3, 1500),
		popProg(nil), popProg([]popEntry{{0x8100, 10, 4}, {0x88a8, 20, 5}}),
		accessInProg(5), accessOutProg(5),
	} {
		if err := ins.Marshal(io.Discard, binary.LittleEndian); err != nil {
			t.Fatal(err)
		}
	}
	if PeerName("z_qinqzon1.100") == PeerName("z_qinqzon2.100") || len(PeerName("x")) > 15 {
		t.Fatal("peer names must be distinct and short")
	}
}

// pairNS makes two namespaces joined by a veth "eno1" on both sides.
func pairNS(t *testing.T) (a, b string, ha, hb *netlink.Handle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	a, b = fmt.Sprintf("sdnlab-t%dsv-a", os.Getpid()), fmt.Sprintf("sdnlab-t%dsv-b", os.Getpid())
	for _, n := range []string{a, b} {
		if err := nsutil.Create(n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nsutil.Delete(n) })
	}
	var err error
	if ha, err = nsutil.Handle(a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ha.Close)
	if hb, err = nsutil.Handle(b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hb.Close)
	fb, err := nsutil.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	la := netlink.NewLinkAttrs()
	la.Name = "eno1"
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "tmpb", PeerNamespace: netlink.NsFd(int(fb))}); err != nil {
		t.Fatal(err)
	}
	lb, err := hb.LinkByName("tmpb")
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.LinkSetName(lb, "eno1"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*netlink.Handle{ha, hb} {
		l, _ := h.LinkByName("eno1")
		lo, _ := h.LinkByName("lo")
		h.LinkSetUp(l)
		h.LinkSetUp(lo)
	}
	return a, b, ha, hb
}

func addr(t *testing.T, h *netlink.Handle, dev, cidr string) {
	t.Helper()
	l, err := h.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := netlink.ParseAddr(cidr)
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

func ping(ns, dst string, size int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := nsutil.Output(ctx, ns, "ping", "-c2", "-i0.2", "-W1", "-M", "do", "-s", fmt.Sprint(size), dst)
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// Two stacked software VLAN devices on each side (S-tag 802.1ad 20 on
// eno1, C-tag 100 on it) reach each other; a side with another S-tag does
// not; the payload limit drops what does not fit after the outer tag.
func TestQinQRoundTrip(t *testing.T) {
	a, b, ha, hb := pairNS(t)
	refused, err := Apply(ha, []Dev{{Name: "sv", Lower: "eno1", VID: 20, Proto: "802.1ad", MaxPayload: 1500}, {Name: "sv.100", Lower: "sv", VID: 100},
		{Name: "sv2", Lower: "eno1", VID: 20, Proto: "802.1ad"}})
	if err != nil {
		t.Fatal(err)
	}
	// As the kernel does: one device per lower device, TPID and VLAN.
	if len(refused) != 1 || !strings.Contains(refused[0], "already sv") {
		t.Fatalf("refused %v, want sv2 refused", refused)
	}
	if _, err := Apply(hb, []Dev{{Name: "sv", Lower: "eno1", VID: 20, Proto: "802.1ad", MaxPayload: 1500}, {Name: "sv.100", Lower: "sv", VID: 100}}); err != nil {
		t.Fatal(err)
	}
	addr(t, ha, "sv.100", "10.9.0.1/24")
	addr(t, hb, "sv.100", "10.9.0.2/24")
	if err := ping(a, "10.9.0.2", 56); err != nil {
		t.Fatalf("same S-tag and C-tag: %v", err)
	}
	if err := ping(a, "10.9.0.2", 1468); err != nil {
		t.Fatalf("1496-byte packet in QinQ over a 1500 underlay: %v", err)
	}
	if err := ping(a, "10.9.0.2", 1472); err == nil {
		t.Fatal("a 1500-byte packet with two tags went over a 1500-byte underlay")
	}
	// Re-apply with another service VLAN on b: no longer reachable.
	if _, err := Apply(hb, []Dev{{Name: "sv", Lower: "eno1", VID: 30, Proto: "802.1ad"}, {Name: "sv.100", Lower: "sv", VID: 100}}); err != nil {
		t.Fatal(err)
	}
	if err := ping(a, "10.9.0.2", 56); err == nil {
		t.Fatal("different S-tags reached each other")
	}
	// Same service VLAN, other TPID (802.1Q): not the same network either.
	if _, err := Apply(hb, []Dev{{Name: "sv", Lower: "eno1", VID: 20, Proto: "802.1q"}, {Name: "sv.100", Lower: "sv", VID: 100}}); err != nil {
		t.Fatal(err)
	}
	if err := ping(a, "10.9.0.2", 56); err == nil {
		t.Fatal("802.1ad and 802.1Q service tags of one VLAN reached each other")
	}
	l, _ := ha.LinkByName("eno1")
	if !Attached(ha, l) {
		t.Fatal("program not reported on eno1")
	}
	_ = b
}

// A lower device whose VLAN devices are all gone loses its program, so
// tagged frames reach its bridge again instead of a vanished hidden end.
func TestDetachStale(t *testing.T) {
	_, _, ha, _ := pairNS(t)
	if _, err := Apply(ha, []Dev{{Name: "sv", Lower: "eno1", VID: 20}}); err != nil {
		t.Fatal(err)
	}
	eno1, _ := ha.LinkByName("eno1")
	if !Attached(ha, eno1) {
		t.Fatal("no program on eno1")
	}
	if err := Clear(ha); err != nil {
		t.Fatal(err)
	}
	if Attached(ha, eno1) {
		t.Fatal("program left on eno1 after Clear")
	}
}
