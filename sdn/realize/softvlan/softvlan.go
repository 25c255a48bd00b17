package softvlan

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Dev is one VLAN device to realize in software.
type Dev struct {
	Name  string // the device the plan names ("eno1.10", "sv_zone", "z_zone.100")
	Lower string // the device whose frames carry the tag
	VID   int
	Proto string // "802.1q" (or "") or "802.1ad"
	// MaxPayload > 0 drops frames whose payload after the outer tag exceeds
	// it (the underlay NIC's MTU: what a switch port of that MTU carries).
	MaxPayload int
}

// PeerName is the hidden end of name's veth pair.
func PeerName(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("vt%08x", h.Sum32())
}

// progName is the name programs are loaded and attached under.
const progName = "sdnlab_vlan"

// Apply creates (or keeps) every device of devs in the namespace of h and
// (re)attaches the tagging programs. A lower device that is a bridge is put
// in promiscuous mode, so it passes frames for the guests behind the VLAN
// device up to its ingress, as a kernel VLAN device on a bridge makes it do.
//
// As the kernel refuses a second VLAN device with the lower device, TPID
// and VLAN of an existing one, such a device is not created: refused names
// each with the reason.
func Apply(h *netlink.Handle, devs []Dev) (refused []string, err error) {
	byLower := map[string][]popEntry{}
	owner := map[string]string{} // lower/tpid/vid -> device
	for _, d := range devs {
		tpid, err := TPID(d.Proto)
		if err != nil {
			return refused, fmt.Errorf("%s: %w", d.Name, err)
		}
		if d.VID < 1 || d.VID > 4094 {
			return refused, fmt.Errorf("%s: vlan id %d out of range", d.Name, d.VID)
		}
		key := fmt.Sprintf("%s/%#04x/%d", d.Lower, tpid, d.VID)
		if o, ok := owner[key]; ok {
			refused = append(refused, fmt.Sprintf("%s: not created: VLAN %d (TPID %#04x) on %s is already %s", d.Name, d.VID, tpid, d.Lower, o))
			continue
		}
		owner[key] = d.Name
		lower, err := h.LinkByName(d.Lower)
		if err != nil {
			return refused, fmt.Errorf("%s: lower device %s: %w", d.Name, d.Lower, err)
		}
		peer, err := ensurePair(h, d.Name, lower.Attrs().MTU)
		if err != nil {
			return refused, err
		}
		prog, err := load(progName, pushProg(tpid, d.VID, lower.Attrs().Index, d.MaxPayload))
		if err != nil {
			return refused, fmt.Errorf("%s: %w", d.Name, err)
		}
		err = attachIngress(h, peer, prog)
		prog.Close() // the filter holds its own reference
		if err != nil {
			return refused, fmt.Errorf("%s: %w", d.Name, err)
		}
		byLower[d.Lower] = append(byLower[d.Lower], popEntry{tpid: tpid, vid: d.VID, peer: peer.Attrs().Index})
		if _, ok := lower.(*netlink.Bridge); ok && lower.Attrs().Promisc == 0 {
			if err := h.SetPromiscOn(lower); err != nil {
				return refused, fmt.Errorf("%s: promiscuous: %w", d.Lower, err)
			}
		}
	}
	lowers := make([]string, 0, len(byLower))
	for l := range byLower {
		lowers = append(lowers, l)
	}
	sort.Strings(lowers)
	for _, name := range lowers {
		l, err := h.LinkByName(name)
		if err != nil {
			return refused, fmt.Errorf("%s: %w", name, err)
		}
		prog, err := load(progName, popProg(byLower[name]))
		if err != nil {
			return refused, fmt.Errorf("%s: %w", name, err)
		}
		err = attachIngress(h, l, prog)
		prog.Close()
		if err != nil {
			return refused, fmt.Errorf("%s: %w", name, err)
		}
	}
	// Lower devices that no longer carry any VLAN device lose their program
	// (it would redirect to hidden ends that are gone).
	keep := map[string]bool{}
	for l := range byLower {
		keep[l] = true
	}
	for _, d := range devs {
		keep[PeerName(d.Name)] = true
	}
	if err := detachExcept(h, keep); err != nil {
		return refused, err
	}
	return refused, nil
}

// Clear removes sdnlab's tagging programs from every device of h's
// namespace: the plan has no VLAN device left.
func Clear(h *netlink.Handle) error { return detachExcept(h, nil) }

func detachExcept(h *netlink.Handle, keep map[string]bool) error {
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if keep[l.Attrs().Name] {
			continue
		}
		fs, err := h.FilterList(l, netlink.HANDLE_MIN_INGRESS)
		if err != nil {
			continue
		}
		for _, f := range fs {
			if b, ok := f.(*netlink.BpfFilter); ok && b.Name == progName {
				if err := h.FilterDel(f); err != nil {
					return fmt.Errorf("remove tagging program from %s: %w", l.Attrs().Name, err)
				}
			}
		}
	}
	return nil
}

// ensurePair makes the veth pair name <-> PeerName(name), both up, and
// returns the hidden end.
func ensurePair(h *netlink.Handle, name string, mtu int) (netlink.Link, error) {
	peerName := PeerName(name)
	l, _ := h.LinkByName(name)
	if l != nil {
		if _, ok := l.(*netlink.Veth); !ok {
			return nil, fmt.Errorf("%s exists and is a %s, not a software VLAN device", name, l.Type())
		}
	} else {
		la := netlink.NewLinkAttrs()
		la.Name = name
		la.MTU = mtu
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: peerName}); err != nil {
			return nil, fmt.Errorf("add %s: %w", name, err)
		}
	}
	peer, err := h.LinkByName(peerName)
	if err != nil {
		return nil, fmt.Errorf("%s: hidden end %s: %w", name, peerName, err)
	}
	// The hidden end carries tagged frames: 4 bytes more than the device.
	if peer.Attrs().MTU < mtu+4 && mtu > 0 {
		if err := h.LinkSetMTU(peer, mtu+4); err != nil {
			return nil, fmt.Errorf("%s: mtu: %w", peerName, err)
		}
	}
	// Up, as ifupdown2 brings up an "auto" VLAN device.
	for _, n := range []string{peerName, name} {
		if err := h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: n}}); err != nil {
			return nil, fmt.Errorf("%s up: %w", n, err)
		}
	}
	return peer, nil
}

// AccessPort makes l (a guest's tap on a VLAN-aware VNet bridge without
// vlan_filtering) an access port of VLAN vid: frames from the guest enter
// the bridge tagged vid, frames of vid leave to the guest untagged, all
// others are dropped. It is what "tag=<vid>" on a VM's NIC does on a
// filtering bridge (PVID vid, untagged).
func AccessPort(h *netlink.Handle, l netlink.Link, vid int) error {
	if vid < 1 || vid > 4094 {
		return fmt.Errorf("%s: vlan id %d out of range", l.Attrs().Name, vid)
	}
	in, err := load(progName, accessInProg(vid))
	if err != nil {
		return err
	}
	err = attachIngress(h, l, in)
	in.Close()
	if err != nil {
		return err
	}
	out, err := load(progName, accessOutProg(vid))
	if err != nil {
		return err
	}
	defer out.Close()
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_MIN_EGRESS,
			Handle: 1, Protocol: unix.ETH_P_ALL, Priority: 1,
		},
		Fd: out.FD(), Name: progName, DirectAction: true,
	}
	if err := h.FilterReplace(f); err != nil {
		return fmt.Errorf("tc egress filter on %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// attachIngress attaches prog to the ingress hook of l (a clsact qdisc is
// added when missing), replacing an earlier sdnlab program.
func attachIngress(h *netlink.Handle, l netlink.Link, prog *ebpf.Program) error {
	q := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	if err := h.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("clsact on %s: %w", l.Attrs().Name, err)
	}
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS,
			Handle: 1, Protocol: unix.ETH_P_ALL, Priority: 1,
		},
		Fd: prog.FD(), Name: progName, DirectAction: true,
	}
	if err := h.FilterReplace(f); err != nil {
		return fmt.Errorf("tc ingress filter on %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// Attached reports whether l has sdnlab's tagging program on its ingress.
func Attached(h *netlink.Handle, l netlink.Link) bool {
	fs, err := h.FilterList(l, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return false
	}
	for _, f := range fs {
		if b, ok := f.(*netlink.BpfFilter); ok && b.Name == progName {
			return true
		}
	}
	return false
}

// Probe says whether this kernel can run the software VLAN devices: it
// loads both programs and attaches one to l's ingress, then removes it.
func Probe(h *netlink.Handle, l netlink.Link) error {
	prog, err := load(progName, pushProg(0x8100, 10, l.Attrs().Index, 1500))
	if err != nil {
		return err
	}
	defer prog.Close()
	pop, err := load(progName, popProg([]popEntry{{tpid: 0x88a8, vid: 20, peer: l.Attrs().Index}}))
	if err != nil {
		return err
	}
	pop.Close()
	return attachIngress(h, l, prog)
}
