package impair

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNoNetem says the kernel has no netem qdisc (the eBPF path is used).
var ErrNoNetem = errors.New("no netem on this kernel")

// ApplyNetem replaces the root qdisc of ifname with netem carrying spec,
// through a netlink handle bound to the interface's namespace. It returns
// ErrNoNetem when the kernel lacks netem.
func ApplyNetem(h *netlink.Handle, ifname string, spec Spec) error {
	ln, err := h.LinkByName(ifname)
	if err != nil {
		return err
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: ln.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: netlink.MakeHandle(0x5d1a, 0)},
		netlink.NetemQdiscAttrs{
			Latency: uint32(spec.Delay.Microseconds()),
			Jitter:  uint32(spec.Jitter.Microseconds()),
			Loss:    float32(spec.Loss),
			Rate64:  spec.Rate / 8, // netem's rate is in bytes per second
			Limit:   queueLimit,
		})
	if err := h.QdiscReplace(q); err != nil {
		// The kernel answers an unknown qdisc kind with ENOENT.
		if errors.Is(err, unix.ENOENT) {
			return ErrNoNetem
		}
		return fmt.Errorf("netem on %s: %w", ifname, err)
	}
	return nil
}

// ClearNetem removes a netem root qdisc put there by ApplyNetem.
func ClearNetem(h *netlink.Handle, ifname string) error {
	ln, err := h.LinkByName(ifname)
	if err != nil {
		return err
	}
	qs, err := h.QdiscList(ln)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if q.Type() == "netem" && q.Attrs().Parent == netlink.HANDLE_ROOT {
			return h.QdiscDel(q)
		}
	}
	return nil
}
