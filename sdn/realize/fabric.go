package realize

import (
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Fabric stanzas: a fabric's loopback (dummy_<fabric>, holding the node's
// router IP) and its interfaces (host NICs the stanza gives addresses:
// the router IP again when unnumbered). Proxmox writes one stanza per
// address family of the same interface; they are merged into one device.

// fabricDevice adds a fabric stanza to the devices to realize. A fabric
// NIC is the host's (the lab's point-to-point link): it is configured,
// never created, and skipped when the lab has no link there.
func (a *applier) fabricDevice(ifc *plan.Iface) {
	key := a.t.NS + "/" + ifc.Name
	if d := a.byName[key]; d != nil {
		for _, p := range ifc.Addresses {
			if !slices.Contains(d.ifc.Addresses, p) {
				d.ifc.Addresses = append(d.ifc.Addresses, p)
			}
		}
		d.ifc.IPForward = d.ifc.IPForward || ifc.IPForward
		d.ifc.IP6Forward = d.ifc.IP6Forward || ifc.IP6Forward
		return
	}
	if ifc.Kind == plan.KindPhysical {
		n, err := a.ns(a.t.NS, false)
		if err != nil {
			a.skip("%s (fabric interface): %v", ifc.Name, err)
			return
		}
		if l, _ := n.Link(ifc.Name); l == nil {
			a.skip("%s (fabric interface): not realized: the lab has no link there (lab file underlay.links)", ifc.Name)
			return
		}
	}
	c := *ifc
	c.Addresses = slices.Clone(ifc.Addresses)
	d := &device{ifc: &c, ns: a.t.NS}
	a.devs = append(a.devs, d)
	a.byName[key] = d
	// A fabric node routes for the others (transit in a mesh).
	a.ipfwd = true
	if ifc.Kind == plan.KindDummy && !a.caps.Dummy {
		a.rep.Models = append(a.rep.Models, fmt.Sprintf("%s: fabric loopback as a bridge without ports (no dummy devices on this kernel)", ifc.Name))
	}
}

// createLoopback makes a fabric loopback: a dummy device, or where the
// kernel has none a bridge without ports, which is as good a loopback (up,
// with carrier, holds addresses, never forwards a frame).
func (a *applier) createLoopback(n *nsutil.NS, name string) error {
	l, err := n.Link(name)
	if err != nil {
		return err
	}
	if a.caps.Dummy {
		if l != nil && l.Type() == "dummy" {
			return nil
		}
		if l != nil {
			if err := n.H.LinkDel(l); err != nil {
				return n.Errf(name, err)
			}
		}
		la := netlink.NewLinkAttrs()
		la.Name = name
		if err := n.H.LinkAdd(&netlink.Dummy{LinkAttrs: la}); err != nil {
			return n.Errf(name, fmt.Errorf("add dummy: %w", err))
		}
		return nil
	}
	_, err = n.EnsureBridge(name, 0, "")
	return err
}
