package topology

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Migrate live-migrates a guest to another node the way QEMU does, as far
// as the network sees it: the guest's NIC (its namespace, MAC, addresses,
// ARP cache and sockets) stays; the host end of its veth (the tap) leaves
// the old node's VNet bridge, waits pause (the migration downtime), joins
// the new node's bridge, and the guest announces itself with a RARP
// broadcast, as QEMU's announce-self does. lab.json is updated.
func Migrate(ctx context.Context, lab *Lab, guest, node string, pause time.Duration) error {
	g := lab.Guest(guest)
	if g == nil {
		return fmt.Errorf("lab %s has no guest %q", lab.Name, guest)
	}
	if g.IsVM() {
		// QEMU's own migration: its pause, not the one asked for.
		_, err := MigrateVM(ctx, lab, guest, node)
		return err
	}
	if lab.Node(node) == nil {
		return fmt.Errorf("lab %s has no node %q", lab.Name, node)
	}
	src := guestTapNS(lab, g)
	if src == "" {
		return fmt.Errorf("guest %s: its tap %s is on no node", g.Name, g.Tap)
	}
	dst := lab.BridgeNS(node, g.VNet)
	if src == dst {
		return nil
	}
	from, err := nsutil.OpenNS(src, false)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := nsutil.OpenNS(dst, false)
	if err != nil {
		return fmt.Errorf("guest %s: node %s has no vnet %s: %w", g.Name, node, g.VNet, err)
	}
	defer to.Close()
	if br, _ := to.Link(g.VNet); br == nil {
		return fmt.Errorf("guest %s: node %s has no bridge for vnet %s", g.Name, node, g.VNet)
	}
	if l, _ := to.Link(g.Tap); l != nil {
		return fmt.Errorf("guest %s: node %s already has a device %s", g.Name, node, g.Tap)
	}
	tap, err := from.H.LinkByName(g.Tap)
	if err != nil {
		return fmt.Errorf("guest %s: %w", g.Name, err)
	}
	// Leaving the namespace takes the tap off the bridge and down.
	if err := from.H.LinkSetNsFd(tap, int(to.Fd)); err != nil {
		return fmt.Errorf("guest %s: move %s to %s: %w", g.Name, g.Tap, dst, err)
	}
	if pause > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	if err := to.SetMaster(g.Tap, g.VNet); err != nil {
		return err
	}
	if err := to.Up(g.Tap); err != nil {
		return err
	}
	// Announce only once the port forwards: carrier comes up asynchronously.
	waitOperUp(ctx, to, g.Tap, time.Second)
	if gns, err := nsutil.OpenNS(g.NS, false); err == nil {
		waitOperUp(ctx, gns, g.Ifname, time.Second)
		gns.Close()
	}
	if err := Announce(g.NS, g.Ifname); err != nil {
		return fmt.Errorf("guest %s: announce: %w", g.Name, err)
	}
	g.Node = node
	if lab.StateDir != "" {
		return writeJSON(filepath.Join(lab.StateDir, "lab.json"), lab)
	}
	return ctx.Err()
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
