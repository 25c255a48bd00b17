package realize

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/realize/softvlan"
)

// VLAN devices (a vlan zone's "eno1.10" or "vmbr0.10", a qinq zone's
// "sv_<zone>" and "z_<zone>.100") are realized from the same plan in one of
// two ways: as kernel 802.1Q devices where the kernel has 8021q, else in
// software (package softvlan: a veth end with tc eBPF tagging), so the
// frames on the underlay carry the same tags either way. A VLAN-aware
// bridge gets vlan_filtering where the kernel has it; without it the bridge
// forwards tagged frames as they are, and VLANs stay apart because every
// tag is pushed and popped only by the VLAN devices at its edges.

// VLAN models, as `up` and `status` name them.
const (
	ModelKernel   = "kernel 802.1Q devices (8021q)"
	ModelSoftware = "software tagging (tc eBPF on clsact; no 8021q on this kernel)"
)

// vlanDev is one VLAN device the plan needs.
type vlanDev struct {
	name, lower, proto string
	vid                int
}

// vlanModel names how the VLAN devices of this node are realized ("" when
// neither way is available).
func (a *applier) vlanModel() string {
	switch {
	case a.caps.Vlan:
		return ModelKernel
	case a.caps.TCBPF:
		return ModelSoftware
	}
	return ""
}

// bridgeModel describes how a VLAN-aware bridge is realized.
func (a *applier) bridgeModel() string {
	if a.caps.VlanFiltering {
		return "VLAN-aware bridges with vlan_filtering"
	}
	return "VLAN-aware bridges without filtering (no vlan_filtering on this kernel: tags pass through them unchanged)"
}

// zoneModel is the line `up` and `status` print for a vlan or qinq zone.
func (a *applier) zoneModel(z *plan.ZonePlan) string {
	m := a.vlanModel()
	aware := z.ZoneBridge != "" || z.BridgeVlanAware
	for _, v := range z.VNets {
		aware = aware || v.VlanAware
	}
	if aware {
		m += "; " + a.bridgeModel()
	}
	return fmt.Sprintf("zone %s (%s): %s", z.ID, z.Type, m)
}

// vlanDevs lists the VLAN devices of the devices to realize: stanzas of
// kind vlan and the "<dev>.<id>" ports bridges list (ifupdown2 creates
// those on its own; they are 802.1Q).
func (a *applier) vlanDevs() []vlanDev {
	var out []vlanDev
	seen := map[string]bool{}
	for _, d := range a.devs {
		ifc := d.ifc
		if ifc.Kind == plan.KindVlan && !seen[ifc.Name] {
			seen[ifc.Name] = true
			raw, id := ifc.VlanRawDevice, ifc.VlanID
			if r, i, ok := plan.ImplicitVlan(ifc.Name); ok && (raw == "" || id == 0) {
				raw, id = r, i
			}
			out = append(out, vlanDev{name: ifc.Name, lower: raw, vid: id, proto: ifc.VlanProtocol})
		}
	}
	for _, d := range a.devs {
		if d.ifc.Kind != plan.KindBridge {
			continue
		}
		for _, p := range d.ifc.BridgePorts {
			if seen[p] || a.plan.Iface(p) != nil && a.plan.Iface(p).Kind != plan.KindVlan {
				continue
			}
			if raw, id, ok := plan.ImplicitVlan(p); ok {
				seen[p] = true
				out = append(out, vlanDev{name: p, lower: raw, vid: id})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// createVlans makes every VLAN device of the plan in the node namespace,
// after the bridges (a lower device may be one) and before the bridges get
// their ports.
func (a *applier) createVlans(node *nsutil.NS) error {
	devs := a.vlanDevs()
	if len(devs) == 0 {
		if a.caps.TCBPF && !a.caps.Vlan {
			// An earlier plan's programs would redirect to devices now gone.
			return softvlan.Clear(node.H)
		}
		return nil
	}
	if a.caps.Vlan {
		for _, d := range devs {
			if err := kernelVlan(node, d); err != nil {
				// A second device for one lower device and VLAN: the
				// kernel refuses it, as ifupdown2 would see.
				if errors.Is(err, unix.EEXIST) {
					a.skip("%s: not created: %v", d.name, err)
					continue
				}
				return err
			}
		}
		return nil
	}
	var soft []softvlan.Dev
	for _, d := range devs {
		sd := softvlan.Dev{Name: d.name, Lower: d.lower, VID: d.vid, Proto: d.proto}
		// The outermost tag goes on a host interface: there the underlay's
		// MTU bounds what follows the tag.
		if a.t.Keep != nil && a.t.Keep(d.lower) {
			if l, _ := node.Link(d.lower); l != nil {
				sd.MaxPayload = l.Attrs().MTU
			}
		}
		soft = append(soft, sd)
	}
	refused, err := softvlan.Apply(node.H, soft)
	for _, r := range refused {
		a.skip("%s", r)
	}
	if err != nil {
		return fmt.Errorf("%s: software VLAN devices: %w", node.Name, err)
	}
	return nil
}

// kernelVlan makes (or keeps) an 802.1Q/802.1ad device.
func kernelVlan(n *nsutil.NS, d vlanDev) error {
	proto := netlink.VLAN_PROTOCOL_8021Q
	if d.proto == "802.1ad" {
		proto = netlink.VLAN_PROTOCOL_8021AD
	}
	if l, _ := n.Link(d.name); l != nil {
		if v, ok := l.(*netlink.Vlan); ok && v.VlanId == d.vid && v.VlanProtocol == proto {
			return nil
		}
		if err := n.H.LinkDel(l); err != nil {
			return n.Errf(d.name, err)
		}
	}
	parent, err := n.H.LinkByName(d.lower)
	if err != nil {
		return n.Errf(d.name, fmt.Errorf("vlan-raw-device %s: %w", d.lower, err))
	}
	la := netlink.NewLinkAttrs()
	la.Name = d.name
	la.ParentIndex = parent.Attrs().Index
	if err := n.H.LinkAdd(&netlink.Vlan{LinkAttrs: la, VlanId: d.vid, VlanProtocol: proto}); err != nil {
		return n.Errf(d.name, fmt.Errorf("add vlan %d on %s: %w", d.vid, d.lower, err))
	}
	return n.Up(d.name)
}

// vlanFiltering turns a VLAN-aware bridge's filtering on where the kernel
// has it, with its protocol, and lets every VLAN through its ports and
// itself (bridge-vids 2-4094, as ifupdown2 does).
func (a *applier) vlanFiltering(n *nsutil.NS, ifc *plan.Iface) error {
	if !ifc.VlanAware || !a.caps.VlanFiltering {
		return nil
	}
	l, err := n.H.LinkByName(ifc.Name)
	if err != nil {
		return n.Errf(ifc.Name, err)
	}
	if err := n.H.BridgeSetVlanFiltering(l, true); err != nil {
		return n.Errf(ifc.Name, fmt.Errorf("vlan_filtering: %w", err))
	}
	if ifc.BridgeVlanProtocol == "802.1ad" {
		// vishvananda/netlink has no setter for IFLA_BR_VLAN_PROTOCOL.
		a.skip("%s: bridge-vlan-protocol 802.1ad not set: the bridge filters 802.1Q", ifc.Name)
	}
	targets := []netlink.Link{l}
	for _, p := range ifc.BridgePorts {
		if pl, _ := n.Link(p); pl != nil {
			targets = append(targets, pl)
		}
	}
	for _, t := range targets {
		self := t == l
		if err := n.H.BridgeVlanAddRange(t, 2, 4094, false, false, self, !self); err != nil {
			return n.Errf(t.Attrs().Name, fmt.Errorf("bridge vlan 2-4094: %w", err))
		}
	}
	return nil
}
