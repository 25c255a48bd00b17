package topology

import (
	"context"
	"fmt"
	"github.com/vishvananda/netlink"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/realize/softvlan"
	"github.com/sdnlab/sdnlab/topology/vm"
)

// vmEnv is what VM guests boot with on this machine.
type vmEnv struct {
	img   *vm.Image
	accel string
	pr    *progress // each guest's boot time and memory
}

// VMBootTimeout bounds one VM guest's boot (emulated under TCG on a busy
// 2-core machine a boot has taken 16 s).
var VMBootTimeout = 2 * time.Minute

// prepareVMs checks that this machine can run the lab's VM guests and
// builds their image, before anything of the lab exists.
func prepareVMs(ctx context.Context, lab *Lab, pr *progress) (*vmEnv, error) {
	var names []string
	for _, g := range lab.Guests {
		if g.IsVM() {
			names = append(names, g.Name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	accel, note, err := vm.Accelerator()
	if err != nil {
		return nil, fmt.Errorf("guests %s are kind: vm: %w", strings.Join(names, ", "), err)
	}
	img, err := vm.EnsureImage(ctx, vm.DefaultCacheDir())
	if err != nil {
		return nil, fmt.Errorf("guests %s are kind: vm: %w", strings.Join(names, ", "), err)
	}
	pr.printf("VM guests (%d): QEMU accelerator %s (%s), kernel %s", len(names), accel, note, img.Version)
	return &vmEnv{img: img, accel: accel, pr: pr}, nil
}

// vmConfig is the QEMU instance of guest g on node, in a fresh directory
// under the lab's state (one per instance: a migration has two at once).
func vmConfig(lab *Lab, g *Guest, node string, env *vmEnv) vm.Config {
	gen := 0
	if g.VMDir != "" {
		if i := strings.LastIndexByte(g.VMDir, '.'); i >= 0 {
			gen, _ = strconv.Atoi(g.VMDir[i+1:])
			gen++
		}
	}
	c := vm.Config{
		Name: g.Name, NS: lab.BridgeNS(node, g.VNet),
		Dir: filepath.Join(lab.StateDir, "vm", g.Name+"."+strconv.Itoa(gen)),
		Tap: g.Tap, MAC: g.MAC, MTU: g.MTU, Addrs: g.Addrs, Gateway4: g.Gateway4, Gateway6: g.Gateway6,
	}
	if env != nil {
		c.Image, c.Accel = env.img, env.accel
	}
	return c
}

// buildVMGuest starts the guest's QEMU on its node, plugs its tap into the
// VNet bridge and waits until the guest's network is configured. A guest
// whose QEMU still runs (a second up) is left alone.
func buildVMGuest(ctx context.Context, lab *Lab, g *Guest, env *vmEnv) (string, error) {
	if g.VMDir == "" {
		// A lab loaded again from its file (a second up) does not know
		// the instance the first one started: find it, or a second QEMU
		// would start and fail on the busy tap.
		g.VMDir = runningVMDir(lab.StateDir, g.Name)
	}
	if g.VMDir != "" {
		if _, err := vm.Attach(vm.Config{Name: g.Name, Dir: g.VMDir}); err == nil {
			return "", nil
		}
	}
	c := vmConfig(lab, g, g.Node, env)
	host, err := nsutil.OpenNS(c.NS, false)
	if err != nil {
		return "", err
	}
	defer host.Close()
	if br, _ := host.Link(g.VNet); br == nil {
		return fmt.Sprintf("guest %s: not started: vnet %s has no bridge on node %s", g.Name, g.VNet, g.Node), nil
	}
	t0 := time.Now()
	v, err := vm.Start(ctx, c)
	if err != nil {
		return "", err
	}
	g.VMDir = c.Dir
	if err := plugTap(host, g); err != nil {
		v.Kill()
		return "", err
	}
	if err := v.WaitBooted(ctx, VMBootTimeout); err != nil {
		v.Kill()
		return "", err
	}
	if env != nil && env.pr != nil {
		rss, _ := v.RSS()
		env.pr.printf("guest %s: VM booted in %v (QEMU pid %d, RSS %d MiB)", g.Name, time.Since(t0).Round(time.Millisecond), v.PID, rss>>20)
	}
	return "", nil
}

// runningVMDir is the directory of guest name's newest QEMU instance that
// still runs in the lab's state directory ("" none).
func runningVMDir(stateDir, name string) string {
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "vm", name+".*"))
	best, bestGen := "", -1
	for _, d := range dirs {
		gen, err := strconv.Atoi(d[strings.LastIndexByte(d, '.')+1:])
		if err != nil || gen <= bestGen {
			continue
		}
		if _, err := vm.Attach(vm.Config{Name: name, Dir: d}); err == nil {
			best, bestGen = d, gen
		}
	}
	return best
}

// plugTap attaches a guest's tap to its VNet bridge in host and brings it
// up; on a VNet with isolate-ports the port is isolated (it reaches only
// the bridge's non-isolated ports: uplinks and the node itself), as
// Proxmox plugs a VM's tap there.
func plugTap(host *nsutil.NS, g *Guest) error {
	if err := host.SetMaster(g.Tap, g.VNet); err != nil {
		return err
	}
	if g.Tag != 0 {
		if err := accessPort(host, g); err != nil {
			return err
		}
	}
	if g.Isolated {
		l, err := host.H.LinkByName(g.Tap)
		if err != nil {
			return host.Errf(g.Tap, err)
		}
		if err := host.H.LinkSetIsolated(l, true); err != nil {
			return host.Errf(g.Tap, fmt.Errorf("isolated: %w", err))
		}
	}
	return host.Up(g.Tap)
}

// accessPort makes the tap an access port of the guest's VLAN on its
// VLAN-aware VNet bridge: with the kernel's vlan_filtering as Proxmox does
// (PVID, untagged, no VLAN 1), else in software (tc eBPF push and pop).
func accessPort(host *nsutil.NS, g *Guest) error {
	tap, err := host.H.LinkByName(g.Tap)
	if err != nil {
		return host.Errf(g.Tap, err)
	}
	if br, _ := host.Link(g.VNet); br != nil {
		if b, ok := br.(*netlink.Bridge); ok && b.VlanFiltering != nil && *b.VlanFiltering {
			_ = host.H.BridgeVlanDel(tap, 1, true, true, false, true)
			if err := host.H.BridgeVlanAdd(tap, uint16(g.Tag), true, true, false, true); err != nil {
				return host.Errf(g.Tap, fmt.Errorf("bridge vlan %d: %w", g.Tag, err))
			}
			return nil
		}
	}
	if err := softvlan.AccessPort(host.H, tap, g.Tag); err != nil {
		return host.Errf(g.Tap, err)
	}
	return nil
}

// runningVM is the guest's current QEMU instance.
func runningVM(g *Guest) (*vm.VM, error) {
	if g.VMDir == "" {
		return nil, fmt.Errorf("guest %s: its VM was never started", g.Name)
	}
	return vm.Attach(vm.Config{Name: g.Name, Dir: g.VMDir})
}

// MigrateVM live-migrates a VM guest with QEMU: a destination QEMU on the
// target node, its tap on that node's VNet bridge, then QEMU's migration
// (its pause and its self-announce). lab.json is updated.
func MigrateVM(ctx context.Context, lab *Lab, guest, node string) (vm.MigrationStats, error) {
	var st vm.MigrationStats
	g := lab.Guest(guest)
	if g == nil || !g.IsVM() {
		return st, fmt.Errorf("lab %s has no VM guest %q", lab.Name, guest)
	}
	if lab.Node(node) == nil {
		return st, fmt.Errorf("lab %s has no node %q", lab.Name, node)
	}
	if node == g.Node {
		return st, nil
	}
	src, err := runningVM(g)
	if err != nil {
		return st, err
	}
	env, err := prepareVMs(ctx, &Lab{Guests: []*Guest{g}}, &progress{})
	if err != nil {
		return st, err
	}
	// The destination boots nothing: it receives the running guest, and
	// the image is the one the source booted (cached, same content).
	dst := vmConfig(lab, g, node, env)
	to, err := nsutil.OpenNS(dst.NS, false)
	if err != nil {
		return st, fmt.Errorf("guest %s: node %s has no vnet %s: %w", g.Name, node, g.VNet, err)
	}
	defer to.Close()
	if br, _ := to.Link(g.VNet); br == nil {
		return st, fmt.Errorf("guest %s: node %s has no bridge for vnet %s", g.Name, node, g.VNet)
	}
	moved, st, err := vm.Migrate(ctx, src, dst, func(*vm.VM) error { return plugTap(to, g) })
	if err != nil {
		return st, err
	}
	g.Node, g.VMDir = node, moved.Dir
	return st, writeJSON(filepath.Join(lab.StateDir, "lab.json"), lab)
}

// GuestExitError is a command's own non-zero exit status inside a VM guest.
type GuestExitError struct {
	Guest string
	Code  int
}

func (e *GuestExitError) Error() string {
	return fmt.Sprintf("guest %s: command exited with status %d", e.Guest, e.Code)
}

// ExitCode is the command's exit status.
func (e *GuestExitError) ExitCode() int { return e.Code }

// execVM runs argv in a VM guest through its agent (no stdin: the agent
// runs commands to completion).
func execVM(ctx context.Context, g *Guest, argv []string, stdout io.Writer) error {
	v, err := runningVM(g)
	if err != nil {
		return err
	}
	out, rc, err := v.Exec(ctx, shellJoin(argv))
	if err != nil {
		return err
	}
	if stdout != nil {
		stdout.Write(out)
	}
	if rc != 0 {
		return &GuestExitError{Guest: g.Name, Code: rc}
	}
	return nil
}

// shellJoin quotes argv for sh so that each word arrives as it was given.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// VMState is "up (pid N)" for a running VM guest, "MISSING" otherwise.
func VMState(g *Guest) string {
	v, err := runningVM(g)
	if err != nil {
		return "MISSING"
	}
	return fmt.Sprintf("up (qemu pid %d)", v.PID)
}
