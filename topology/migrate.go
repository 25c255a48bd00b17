package topology

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/topology/vm"
)

// Move is what a migration did, and when: the times a timeline marks and
// from which the lab's own cost of moving the tap is told apart from what
// the overlay adds.
type Move struct {
	// PauseStart: the guest is frozen and its tap has left the old bridge.
	PauseStart time.Time
	// PauseEnd: the pause is over, the guest's processes run again and the
	// tap is being attached to the new bridge.
	PauseEnd time.Time
	// CarrierUp: the tap forwards on the new bridge (oper up on both ends).
	CarrierUp time.Time
	// Announces are the RARP rounds, as sent.
	Announces []time.Time
	// Frozen are the guest's processes stopped during the pause (PIDs).
	Frozen []int
	// QEMU: the guest is a VM that QEMU migrated itself (it paused the
	// vCPUs and sent its own announcements; PauseStart is when the
	// migration began, Done when QEMU reported it complete).
	QEMU bool
	// VM is what QEMU reported about its migration (QEMU only): its own
	// downtime, total time and RAM sent.
	VM vm.MigrationStats
	// Done is when the migration was complete (QEMU only).
	Done time.Time
}

// AnnounceSchedule is QEMU's default self-announcement after a migration
// (announce-rounds 5, announce-initial 50 ms, announce-step 100 ms): the
// first RARP at once, the next ones 50, 150, 250 and 350 ms after the
// previous one.
var AnnounceSchedule = []time.Duration{0, 50 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond, 350 * time.Millisecond}

// MigrateOpts are the knobs of a move. The zero value of everything but
// Pause is a move as QEMU makes it; the others exist so that the
// conformance suite can show the checks catch a migration that is not one.
type MigrateOpts struct {
	Pause time.Duration
	// NoFreeze leaves the guest's processes running during the pause (a
	// broken migration: a paused VM runs nothing).
	NoFreeze bool
	// Rounds is how many RARP rounds of AnnounceSchedule are sent: 0 means
	// all of them, a negative number none (announce-self disabled).
	Rounds int
}

// Migrate live-migrates a guest to another node the way QEMU does, as far
// as the network sees it: the guest's NIC (its namespace, MAC, addresses,
// ARP cache and sockets) stays; the guest is frozen (every process in its
// namespace gets SIGSTOP) and the host end of its veth (the tap) leaves the
// old node's VNet bridge; after pause (the migration downtime) the tap
// joins the new node's bridge, the guest runs again and announces itself
// with RARP broadcasts on QEMU's schedule (AnnounceSchedule). Migrate
// returns after the last announcement. lab.json is updated.
func Migrate(ctx context.Context, lab *Lab, guest, node string, pause time.Duration) (Move, error) {
	return MigrateWith(ctx, lab, guest, node, MigrateOpts{Pause: pause})
}

// MigrateWith is Migrate with every knob.
func MigrateWith(ctx context.Context, lab *Lab, guest, node string, o MigrateOpts) (Move, error) {
	var mv Move
	pause := o.Pause
	g := lab.Guest(guest)
	if g == nil {
		return mv, fmt.Errorf("lab %s has no guest %q", lab.Name, guest)
	}
	if g.IsVM() {
		// QEMU's own migration: its pause and its announcements, not the
		// ones asked for.
		mv.QEMU = true
		mv.PauseStart = time.Now()
		st, err := MigrateVM(ctx, lab, guest, node)
		mv.VM, mv.Done = st, time.Now()
		return mv, err
	}
	if lab.Node(node) == nil {
		return mv, fmt.Errorf("lab %s has no node %q", lab.Name, node)
	}
	src := guestTapNS(lab, g)
	if src == "" {
		return mv, fmt.Errorf("guest %s: its tap %s is on no node", g.Name, g.Tap)
	}
	dst := lab.BridgeNS(node, g.VNet)
	if src == dst {
		return mv, nil
	}
	from, err := nsutil.OpenNS(src, false)
	if err != nil {
		return mv, err
	}
	defer from.Close()
	to, err := nsutil.OpenNS(dst, false)
	if err != nil {
		return mv, fmt.Errorf("guest %s: node %s has no vnet %s: %w", g.Name, node, g.VNet, err)
	}
	defer to.Close()
	if br, _ := to.Link(g.VNet); br == nil {
		return mv, fmt.Errorf("guest %s: node %s has no bridge for vnet %s", g.Name, node, g.VNet)
	}
	if l, _ := to.Link(g.Tap); l != nil {
		return mv, fmt.Errorf("guest %s: node %s already has a device %s", g.Name, node, g.Tap)
	}
	tap, err := from.H.LinkByName(g.Tap)
	if err != nil {
		return mv, fmt.Errorf("guest %s: %w", g.Name, err)
	}
	// Freeze first, as QEMU stops the vCPUs before the last copy.
	var frozen []int
	if !o.NoFreeze {
		frozen, err = freeze(g.NS)
	}
	// Whatever happens below, a frozen guest is thawed.
	defer func() { thaw(frozen) }()
	if err != nil {
		return mv, fmt.Errorf("guest %s: freeze: %w", g.Name, err)
	}
	mv.Frozen = frozen
	// Leaving the namespace takes the tap off the bridge and down.
	mv.PauseStart = time.Now()
	if err := from.H.LinkSetNsFd(tap, int(to.Fd)); err != nil {
		return mv, fmt.Errorf("guest %s: move %s to %s: %w", g.Name, g.Tap, dst, err)
	}
	if pause > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(mv.PauseStart.Add(pause))):
		}
	}
	mv.PauseEnd = time.Now()
	thaw(frozen)
	frozen = nil
	if err := plugTap(to, g); err != nil {
		return mv, err
	}
	// Announce only once the port forwards: carrier comes up asynchronously.
	waitOperUp(ctx, to, g.Tap, time.Second)
	if gns, err := nsutil.OpenNS(g.NS, false); err == nil {
		waitOperUp(ctx, gns, g.Ifname, time.Second)
		gns.Close()
	}
	mv.CarrierUp = time.Now()
	g.Node = node
	// The state file is written after the first RARP: it is the lab's
	// bookkeeping, not part of the move the network sees.
	stateWritten := false
	saveState := func() error {
		if stateWritten || lab.StateDir == "" {
			return nil
		}
		stateWritten = true
		return writeJSON(filepath.Join(lab.StateDir, "lab.json"), lab)
	}
	defer func() { _ = saveState() }()
	rounds := AnnounceSchedule
	switch {
	case o.Rounds < 0:
		rounds = nil
	case o.Rounds > 0 && o.Rounds < len(rounds):
		rounds = rounds[:o.Rounds]
	}
	next := time.Now()
	for i, d := range rounds {
		next = next.Add(d)
		if i > 0 {
			select {
			case <-ctx.Done():
				return mv, ctx.Err()
			case <-time.After(time.Until(next)):
			}
		}
		at := time.Now()
		if err := Announce(g.NS, g.Ifname); err != nil {
			return mv, fmt.Errorf("guest %s: announce %d: %w", g.Name, i+1, err)
		}
		mv.Announces = append(mv.Announces, at)
		if err := saveState(); err != nil {
			return mv, err
		}
	}
	if err := saveState(); err != nil {
		return mv, err
	}
	return mv, ctx.Err()
}

// freeze stops every process whose network namespace is ns (a paused VM
// runs nothing) and waits until each is stopped; it returns their PIDs.
func freeze(ns string) ([]int, error) {
	if _, err := nsutil.Inode(ns); err != nil {
		return nil, err
	}
	inNS, err := proc.ProcsIn([]string{ns})
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, pid := range inNS {
		if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
			continue // gone meanwhile
		}
		pids = append(pids, pid)
	}
	// SIGSTOP is asynchronous: the guest is frozen once each says "T".
	deadline := time.Now().Add(time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) && procState(pid) != 'T' && procState(pid) != 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return pids, nil
}

func thaw(pids []int) {
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGCONT)
	}
}

// procState is the state letter of /proc/PID/stat (0: no such process).
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// Announce sends a RARP broadcast from ifname in namespace ns, as QEMU's
// announce-self does after a migration: switches (and EVPN, via the
// bridge's FDB) learn the MAC on its new port.
func Announce(ns, ifname string) error {
	return nsutil.Do(ns, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		const ethPRARP = 0x8035
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(ethPRARP)))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		mac := ifc.HardwareAddr
		frame := make([]byte, 0, 60)
		frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		frame = append(frame, mac...)
		frame = binary.BigEndian.AppendUint16(frame, ethPRARP)
		frame = binary.BigEndian.AppendUint16(frame, 1)      // hardware: Ethernet
		frame = binary.BigEndian.AppendUint16(frame, 0x0800) // protocol: IPv4
		frame = append(frame, 6, 4)
		frame = binary.BigEndian.AppendUint16(frame, 3) // reverse request
		frame = append(frame, mac...)
		frame = append(frame, 0, 0, 0, 0)
		frame = append(frame, mac...)
		frame = append(frame, 0, 0, 0, 0)
		for len(frame) < 60 {
			frame = append(frame, 0)
		}
		sa := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Protocol: htons(ethPRARP), Halen: 6}
		copy(sa.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		return unix.Sendto(fd, frame, 0, sa)
	})
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// waitOperUp waits (up to max) for a link to be operationally up.
func waitOperUp(ctx context.Context, n *nsutil.NS, name string, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		l, err := n.H.LinkByName(name)
		if err != nil || l.Attrs().OperState == netlink.OperUp {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
