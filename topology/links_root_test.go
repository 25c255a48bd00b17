package topology

import (
	"fmt"
	"os"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// The drop rules of failed thing-to-thing links follow the faults of
// their segment: one rule per direction, none once restored.
func TestSyncPathRules(t *testing.T) {
	needRoot(t)
	ns := fmt.Sprintf("sdnlab-t%d-pathrules", os.Getpid())
	if err := nsutil.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nsutil.Delete(ns) })
	seg := &Segment{Name: "lan", NS: ns}
	rules := func() int {
		t.Helper()
		n := 0
		err := nsutil.NFT(ns, func(c *nftables.Conn) error {
			tables, err := c.ListTablesOfFamily(nftables.TableFamilyBridge)
			if err != nil {
				return err
			}
			for _, tb := range tables {
				if tb.Name != pathTable {
					continue
				}
				r, err := c.GetRules(tb, &nftables.Chain{Name: "forward", Table: tb})
				if err != nil {
					return err
				}
				n += len(r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	faults := []LinkFault{
		{Segment: "lan", Ports: []string{"p1", "p2"}},
		{Segment: "other", Ports: []string{"p3", "p4"}},
	}
	if err := syncPathRules(seg, faults); err != nil {
		t.Fatal(err)
	}
	if n := rules(); n != 2 {
		t.Fatalf("one failed link on the segment: %d drop rules, want 2", n)
	}
	if err := syncPathRules(seg, faults[1:]); err != nil {
		t.Fatal(err)
	}
	if n := rules(); n != 0 {
		t.Fatalf("link restored: %d drop rules, want 0", n)
	}
}

// A switch port set down is reported down, one that is up is not.
func TestPortsDown(t *testing.T) {
	needRoot(t)
	ns := fmt.Sprintf("sdnlab-t%d-portsdown", os.Getpid())
	if err := nsutil.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nsutil.Delete(ns) })
	h, err := nsutil.Handle(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, name := range []string{"p1", "p2"} {
		la := netlink.NewLinkAttrs()
		la.Name = name
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nsutil.SetLinkUp(ns, "p1", true); err != nil {
		t.Fatal(err)
	}
	down := portsDown(ns)
	if down["p1"] || !down["p2"] {
		t.Fatalf("p1 up, p2 down: portsDown = %v", down)
	}
	if portsDown(fmt.Sprintf("sdnlab-t%d-nosuch", os.Getpid())) != nil {
		t.Fatal("a missing namespace has down ports")
	}
}
