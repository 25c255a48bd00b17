package nsutil

import (
	"fmt"
	"net"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Caps are the kernel features the realizer may need. They are detected by
// trying, in a scratch namespace, since module autoloading and kernel
// configs vary and /proc/modules says nothing about built-ins.
type Caps struct {
	Bridge        bool `json:"bridge"`
	Veth          bool `json:"veth"`
	Vxlan         bool `json:"vxlan"`
	VRF           bool `json:"vrf"`
	Dummy         bool `json:"dummy"`
	WireGuard     bool `json:"wireguard"`
	Vlan          bool `json:"8021q"`
	VlanFiltering bool `json:"vlanFiltering"`
	Netem         bool `json:"netem"`
	// TCBPF is clsact with eBPF programs: software VLAN tagging.
	TCBPF bool `json:"tcBPF"`
}

// Missing names the features the kernel lacks and what that means here.
func (c Caps) Missing() []string {
	var out []string
	add := func(ok bool, what string) {
		if !ok {
			out = append(out, what)
		}
	}
	add(c.Bridge, "bridge (nothing can be realized)")
	add(c.Veth, "veth (no lab can be built)")
	add(c.Vxlan, "vxlan (vxlan and evpn zones are not realized)")
	add(c.VRF, "vrf (not needed: VRFs are namespaces)")
	add(c.Dummy, "dummy (fabric loopbacks are bridges without ports)")
	add(c.WireGuard, "wireguard (WireGuard fabrics run in userspace: wireguard-go)")
	switch {
	case !c.Vlan && c.TCBPF:
		out = append(out, "8021q (vlan and qinq zones are realized by software tagging: tc eBPF)")
	case !c.Vlan:
		out = append(out, "8021q (vlan and qinq zones are not realized)")
	}
	add(c.VlanFiltering, "bridge vlan_filtering (VLAN-aware bridges forward every tag unfiltered)")
	add(c.TCBPF, "tc eBPF (no software VLAN tagging)")
	add(c.Netem, "netem (no delay or loss emulation)")
	return out
}

// String is a one-line summary ("bridge veth vxlan; missing: vrf dummy ...").
func (c Caps) String() string {
	var have, miss []string
	for _, f := range []struct {
		ok   bool
		name string
	}{{c.Bridge, "bridge"}, {c.Veth, "veth"}, {c.Vxlan, "vxlan"}, {c.VRF, "vrf"}, {c.Dummy, "dummy"}, {c.WireGuard, "wireguard"},
		{c.Vlan, "8021q"}, {c.VlanFiltering, "vlan_filtering"}, {c.Netem, "netem"}, {c.TCBPF, "tc-ebpf"}} {
		if f.ok {
			have = append(have, f.name)
		} else {
			miss = append(miss, f.name)
		}
	}
	s := strings.Join(have, " ")
	if len(miss) > 0 {
		s += "; missing: " + strings.Join(miss, " ")
	}
	return s
}

// DetectCaps tries each feature in the namespace ns, which it creates and
// deletes (use a name of the lab, e.g. "sdnlab-<lab>-caps").
func DetectCaps(ns string) (Caps, error) {
	var c Caps
	if err := Create(ns); err != nil {
		return c, err
	}
	defer Delete(ns)
	h, err := Handle(ns)
	if err != nil {
		return c, err
	}
	defer h.Close()
	try := func(l netlink.Link) bool { return h.LinkAdd(l) == nil }
	attrs := func(name string) netlink.LinkAttrs {
		la := netlink.NewLinkAttrs()
		la.Name = name
		return la
	}
	c.Bridge = try(&netlink.Bridge{LinkAttrs: attrs("cbr0")})
	c.Veth = try(&netlink.Veth{LinkAttrs: attrs("cveth0"), PeerName: "cveth1"})
	c.Vxlan = try(&netlink.Vxlan{LinkAttrs: attrs("cvx0"), VxlanId: 1, Port: 4789, SrcAddr: net.IPv4(127, 0, 0, 1)})
	c.VRF = try(&netlink.Vrf{LinkAttrs: attrs("cvrf0"), Table: 100})
	c.Dummy = try(&netlink.Dummy{LinkAttrs: attrs("cdummy0")})
	c.WireGuard = try(&netlink.Wireguard{LinkAttrs: attrs("cwg0")})
	if c.Bridge {
		if br, err := h.LinkByName("cbr0"); err == nil {
			la := attrs("cbr0.10")
			la.ParentIndex = br.Attrs().Index
			c.Vlan = try(&netlink.Vlan{LinkAttrs: la, VlanId: 10})
			// Some kernels accept the attribute and ignore it: read it back.
			on := true
			if try(&netlink.Bridge{LinkAttrs: attrs("cbr1"), VlanFiltering: &on}) {
				if l, err := h.LinkByName("cbr1"); err == nil {
					if b, ok := l.(*netlink.Bridge); ok && b.VlanFiltering != nil && *b.VlanFiltering {
						c.VlanFiltering = true
					}
				}
			}
		}
	}
	if c.Veth {
		if l, err := h.LinkByName("cveth1"); err == nil {
			c.TCBPF = probeTCBPF(h, l) == nil
		}
		if l, err := h.LinkByName("cveth0"); err == nil {
			q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
				netlink.NetemQdiscAttrs{Latency: 1000})
			c.Netem = h.QdiscAdd(q) == nil
		}
	}
	if !c.Bridge || !c.Veth {
		return c, fmt.Errorf("kernel lacks %s: no lab can be built", strings.Join(c.Missing()[:1], ""))
	}
	return c, nil
}

// probeTCBPF loads a tc program that calls the VLAN push helper and attaches
// it to l's ingress through a clsact qdisc: what software VLAN tagging needs.
func probeTCBPF(h *netlink.Handle, l netlink.Link) error {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R2, 0x0081), // htons(0x8100)
			asm.Mov.Imm(asm.R3, 10),
			asm.FnSkbVlanPush.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	})
	if err != nil {
		return err
	}
	defer p.Close()
	q := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	if err := h.QdiscAdd(q); err != nil {
		return err
	}
	return h.FilterAdd(&netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS, Handle: 1, Protocol: unix.ETH_P_ALL, Priority: 1},
		Fd:          p.FD(), Name: "probe", DirectAction: true,
	})
}
