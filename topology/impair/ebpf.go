package impair

import (
	"errors"
	"fmt"
	"math"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// Mark is the skb mark the pacer puts on the packets it sends back out, so
// the egress program lets them pass instead of taking them again.
const Mark = 0x5d1a0001

// TC return code pass (TCX uses the same value).
const (
	tcActOK       = 0
	skbMarkOffset = 8 // offsetof(struct __sk_buff, mark)
)

// lossThreshold maps a loss percentage to a bound on a uniform u32: a
// packet is dropped when bpf_get_prandom_u32() < threshold.
func lossThreshold(percent float64) uint64 {
	if percent <= 0 {
		return 0
	}
	t := percent / 100 * float64(math.MaxUint32+1)
	return uint64(min(t, float64(math.MaxUint32+1)))
}

// program assembles the egress program: pass packets carrying Mark (the
// pacer's own); drop a random share; hand the rest to the pacer's tap
// (tapIndex > 0) or pass them.
func program(lossPercent float64, tapIndex int) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R0, asm.R6, skbMarkOffset, asm.Word),
		asm.JEq.Imm(asm.R0, Mark, "pass"),
	}
	if t := lossThreshold(lossPercent); t > 0 {
		insns = append(insns,
			asm.FnGetPrandomU32.Call(),
			asm.LoadImm(asm.R1, int64(t), asm.DWord),
			asm.JLT.Reg(asm.R0, asm.R1, "drop"),
		)
	}
	if tapIndex > 0 {
		insns = append(insns,
			asm.Mov.Imm(asm.R1, int32(tapIndex)),
			asm.Mov.Imm(asm.R2, 0), // to the tap's egress: the pacer reads it
			asm.FnRedirect.Call(),
			asm.Return(),
		)
	}
	insns = append(insns,
		asm.Mov.Imm(asm.R0, tcActOK).WithSymbol("pass"),
		asm.Return(),
	)
	if lossThreshold(lossPercent) > 0 {
		// A lost packet must vanish as on a wire: TC_ACT_SHOT would make
		// the sender's own send fail with ENOBUFS (ping then resends), so
		// it is redirected to ifindex 0, which never exists; the kernel
		// frees it and reports the send as done. (The verifier refuses
		// unreachable code: no drop block without loss.)
		insns = append(insns,
			asm.Mov.Imm(asm.R1, 0).WithSymbol("drop"),
			asm.Mov.Imm(asm.R2, 0),
			asm.FnRedirect.Call(),
			asm.Return(),
		)
	}
	return insns
}

// attachEgress loads the program and attaches it to ifindex's egress with
// TCX (Linux 6.6+). The attachment lasts as long as the returned link is
// open: closing it, or the process ending, removes the impairment.
func attachEgress(ifindex int, lossPercent float64, tapIndex int) (link.Link, error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	_ = rlimit.RemoveMemlock()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "sdnlab_impair",
		Type:         ebpf.SchedCLS,
		Instructions: program(lossPercent, tapIndex),
		License:      "GPL", // bpf_redirect is GPL-only
	})
	if err != nil {
		return nil, fmt.Errorf("load the egress program: %w", err)
	}
	defer prog.Close() // the link holds its own reference
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: ebpf.AttachTCXEgress})
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("attach to egress: this kernel has no TCX (Linux 6.6+) and no netem: %w", err)
		}
		return nil, fmt.Errorf("attach to egress: %w", err)
	}
	return l, nil
}
