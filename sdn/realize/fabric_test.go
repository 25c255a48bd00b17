package realize

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// A fabric node: its dummy_<fabric> loopback is a bridge without ports
// on a kernel without dummy devices, holding both router IPs (two
// stanzas, one device); a fabric interface the lab has (a veth here) gets
// the unnumbered router IP; one it lacks is named as not realized.
func TestApplyFabricLoopbackAndInterfaces(t *testing.T) {
	p := compile(t, map[string]string{
		"fabrics.cfg": "openfabric_fabric: mesh\n\tip_prefix 10.10.10.0/24\n\tip6_prefix fd00:10::/64\n\n" +
			"openfabric_node: mesh_node1\n\tinterfaces name=ens19\n\tinterfaces name=ens20\n\tip 10.10.10.1\n\tip6 fd00:10::1\n\n" +
			"openfabric_node: mesh_node2\n\tinterfaces name=ens19\n\tip 10.10.10.2\n\tip6 fd00:10::2\n",
	})
	tg, n := node(t, "fab")
	// The lab's cable on ens19 (its other end in the same namespace: only
	// this end matters here); no cable on ens20.
	if err := n.EnsureVeth("ens19", "", 1500, n, "peer19", ""); err != nil {
		t.Fatal(err)
	}
	keep := tg.Keep
	tg.Keep = func(d string) bool { return keep(d) || d == "ens19" || d == "peer19" }
	rep, err := Apply(context.Background(), tg, p, refCaps)
	if err != nil {
		t.Fatal(err)
	}
	lo, err := n.Link("dummy_mesh")
	if err != nil || lo == nil || lo.Type() != "bridge" {
		t.Fatalf("dummy_mesh: %v %v", lo, err)
	}
	addrs := func(dev string) []string {
		l, _ := n.Link(dev)
		as, _ := n.H.AddrList(l, 0)
		var out []string
		for _, a := range as {
			if p, ok := netip.AddrFromSlice(a.IP); ok && !p.IsLinkLocalUnicast() {
				ones, _ := a.Mask.Size()
				out = append(out, netip.PrefixFrom(p.Unmap(), ones).String())
			}
		}
		slices.Sort(out)
		return out
	}
	if got := addrs("dummy_mesh"); !slices.Equal(got, []string{"10.10.10.1/32", "fd00:10::1/128"}) {
		t.Errorf("dummy_mesh addresses %v", got)
	}
	if got := addrs("ens19"); !slices.Equal(got, []string{"10.10.10.1/32"}) {
		t.Errorf("ens19 addresses %v", got)
	}
	joined := strings.Join(append(rep.Skipped, rep.Models...), "\n")
	if !strings.Contains(joined, "ens20 (fabric interface): not realized: the lab has no link there") ||
		!strings.Contains(joined, "dummy_mesh: fabric loopback as a bridge without ports") {
		t.Errorf("report: %s", joined)
	}
	// Applied again it converges (the veth and the loopback stay).
	if _, err := Apply(context.Background(), tg, p, refCaps); err != nil {
		t.Fatal(err)
	}
	if l, _ := n.Link("ens19"); l == nil {
		t.Error("ens19 removed by a second apply")
	}
}
