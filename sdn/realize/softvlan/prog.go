// Package softvlan realizes 802.1Q and 802.1ad VLAN devices without the
// kernel's 8021q module: a device "eno1.10" becomes one end of a veth pair
// whose hidden other end has a tc (clsact) eBPF program that pushes the tag
// and sends the frame out of the lower device; a program on the lower
// device's ingress pops matching tags and hands the frame to the hidden end,
// so it comes out of "eno1.10". Frames on the lower device carry real tags
// (the outer one in the skb's VLAN metadata, as a NIC with VLAN offload
// holds it; capture puts it back inline as libpcap does).
//
// The programs are assembled here with cilium/ebpf's asm package (no clang,
// no object files) and stay attached after the loading process exits.
package softvlan

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// __sk_buff field offsets (include/uapi/linux/bpf.h; a stable ABI).
const (
	skbLen         = 0
	skbVlanPresent = 20
	skbVlanTCI     = 24
	skbVlanProto   = 28
)

// tc actions.
const (
	actOK   = 0
	actShot = 2
)

// TPID returns the tag protocol identifier of a vlan-protocol value
// ("802.1q", "" or "802.1ad").
func TPID(proto string) (uint16, error) {
	switch proto {
	case "", "802.1q":
		return 0x8100, nil
	case "802.1ad":
		return 0x88a8, nil
	}
	return 0, fmt.Errorf("unknown vlan protocol %q", proto)
}

// be16 is v as the kernel stores a __be16 read into a register on a
// little-endian machine.
func be16(v uint16) int32 { return int32(v>>8 | (v&0xff)<<8) }

// pushProg pushes (tpid, vid) and redirects to the egress of lower. When
// maxPayload > 0, a frame whose payload after the outer tag would exceed it
// is dropped, as a switch port of that MTU does.
func pushProg(tpid uint16, vid, lower, maxPayload int) asm.Instructions {
	ins := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	if maxPayload > 0 {
		// A tag already in the metadata is written into the frame by the push.
		ins = append(ins,
			asm.LoadMem(asm.R2, asm.R6, skbLen, asm.Word),
			asm.LoadMem(asm.R3, asm.R6, skbVlanPresent, asm.Word),
			asm.JEq.Imm(asm.R3, 0, "len"),
			asm.Add.Imm(asm.R2, 4),
			asm.Sub.Imm(asm.R2, 14).WithSymbol("len"),
			asm.JGT.Imm(asm.R2, int32(maxPayload), "drop"),
		)
	}
	ins = append(ins,
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, be16(tpid)),
		asm.Mov.Imm(asm.R3, int32(vid)),
		asm.FnSkbVlanPush.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.Mov.Imm(asm.R1, int32(lower)),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRedirect.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, actShot).WithSymbol("drop"),
		asm.Return(),
	)
	return ins
}

// popEntry is one VLAN a lower device hands to a software VLAN device.
type popEntry struct {
	tpid uint16
	vid  int
	peer int // ifindex of the hidden end
}

// popProg runs on a lower device's ingress: a frame whose outer tag matches
// an entry loses the tag and goes to that entry's hidden end; every other
// frame goes on (to the bridge the lower device is a port of, or the stack).
func popProg(entries []popEntry) asm.Instructions {
	ins := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, skbVlanPresent, asm.Word),
		asm.JEq.Imm(asm.R2, 0, "pass"),
		asm.LoadMem(asm.R7, asm.R6, skbVlanTCI, asm.Word),
		asm.And.Imm(asm.R7, 0x0fff),
		asm.LoadMem(asm.R8, asm.R6, skbVlanProto, asm.Word),
	}
	for i, e := range entries {
		next := fmt.Sprintf("next%d", i)
		ins = append(ins,
			asm.JNE.Imm(asm.R8, be16(e.tpid), next),
			asm.JNE.Imm(asm.R7, int32(e.vid), next),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.FnSkbVlanPop.Call(),
			asm.JNE.Imm(asm.R0, 0, "drop"),
			asm.Mov.Imm(asm.R1, int32(e.peer)),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnRedirect.Call(),
			asm.Return(),
		)
		// The next entry's first instruction carries the label.
		ins = append(ins, asm.Mov.Imm(asm.R0, 0).WithSymbol(next))
	}
	ins = append(ins,
		asm.Mov.Imm(asm.R0, actOK).WithSymbol("pass"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, actShot).WithSymbol("drop"),
		asm.Return(),
	)
	return ins
}

// load verifies and loads a tc program.
func load(name string, ins asm.Instructions) (*ebpf.Program, error) {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: name, Type: ebpf.SchedCLS, Instructions: ins, License: "GPL",
	})
	if err != nil {
		return nil, fmt.Errorf("load eBPF program %s: %w", name, err)
	}
	return p, nil
}

// accessInProg runs on the ingress of a guest's tap (frames from the
// guest): an untagged frame gets the port's VLAN, a tagged one is dropped,
// as on a VLAN-aware bridge port with that PVID untagged and no other VLAN.
func accessInProg(vid int) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, skbVlanPresent, asm.Word),
		asm.JNE.Imm(asm.R2, 0, "drop"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, be16(0x8100)),
		asm.Mov.Imm(asm.R3, int32(vid)),
		asm.FnSkbVlanPush.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.Mov.Imm(asm.R0, actOK),
		asm.Return(),
		asm.Mov.Imm(asm.R0, actShot).WithSymbol("drop"),
		asm.Return(),
	}
}

// accessOutProg runs on the egress of a guest's tap (frames to the guest):
// a frame of the port's VLAN leaves untagged, every other frame is dropped.
func accessOutProg(vid int) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, skbVlanPresent, asm.Word),
		asm.JEq.Imm(asm.R2, 0, "drop"),
		asm.LoadMem(asm.R7, asm.R6, skbVlanTCI, asm.Word),
		asm.And.Imm(asm.R7, 0x0fff),
		asm.JNE.Imm(asm.R7, int32(vid), "drop"),
		asm.LoadMem(asm.R8, asm.R6, skbVlanProto, asm.Word),
		asm.JNE.Imm(asm.R8, be16(0x8100), "drop"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnSkbVlanPop.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
		asm.Mov.Imm(asm.R0, actOK),
		asm.Return(),
		asm.Mov.Imm(asm.R0, actShot).WithSymbol("drop"),
		asm.Return(),
	}
}
