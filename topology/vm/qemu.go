// Package vm runs lab guests as real QEMU virtual machines: a Debian kernel
// and a busybox initramfs (see image.go), virtio-net on a tap that Proxmox
// would name tap<vmid>i0, an exec agent on a virtio serial port, and QEMU's
// own live migration between nodes (a destination QEMU started with
// -incoming on the target node, the state sent over a unix socket, QEMU's
// pause, and QEMU's self-announce on the destination).
//
// QEMU runs inside the node's namespace, so it creates its tap there; the
// caller plugs the tap into the VNet bridge. Processes are found again
// through pid files in the instance directory and by namespace in
// `sdnlab down`.
package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sdnlab/sdnlab/internal/proc"
)

// QEMU is the emulator binary (Debian qemu-system-x86).
var QEMU = "qemu-system-x86_64"

// Config describes one QEMU instance of a guest.
type Config struct {
	Name     string // the guest's name (its hostname inside)
	NS       string // the node namespace QEMU runs in
	Dir      string // instance directory: sockets, console log, pid file
	Tap      string // tap<vmid>i0
	MAC      string
	MTU      int
	Addrs    []netip.Prefix
	Gateway4 netip.Addr
	Gateway6 netip.Addr
	MemoryMB int
	Image    *Image
	Accel    string // "kvm" or "tcg", see Accelerator
}

// VM is a running QEMU instance.
type VM struct {
	Config
	PID int
}

func (c *Config) qmpPath() string     { return filepath.Join(c.Dir, "qmp.sock") }
func (c *Config) agentPath() string   { return filepath.Join(c.Dir, "agent.sock") }
func (c *Config) migratePath() string { return filepath.Join(c.Dir, "migrate.sock") }

// PIDFile is where an instance's QEMU pid is kept.
func PIDFile(dir string) string { return filepath.Join(dir, "qemu.pid") }

// cmdline is the guest kernel's command line; the initramfs reads its
// sdnlab.* keys to configure the NIC.
func (c *Config) cmdline() string {
	parts := []string{"console=ttyS0", "quiet", "panic=-1"}
	if c.Accel == "tcg" {
		// Emulated, the guest cannot calibrate its TSC against a timer
		// when the host is busy, and then never boots. TCG's TSC is the
		// host's, so its frequency is known.
		if khz := hostTSCkHz(); khz > 0 {
			parts = append(parts, "tsc_early_khz="+strconv.Itoa(khz))
		}
	}
	parts = append(parts, "sdnlab.name="+c.Name)
	if c.MTU > 0 {
		parts = append(parts, "sdnlab.mtu="+strconv.Itoa(c.MTU))
	}
	for _, a := range c.Addrs {
		parts = append(parts, "sdnlab.addr="+a.String())
	}
	if c.Gateway4.IsValid() {
		parts = append(parts, "sdnlab.gw4="+c.Gateway4.String())
	}
	if c.Gateway6.IsValid() {
		parts = append(parts, "sdnlab.gw6="+c.Gateway6.String())
	}
	return strings.Join(parts, " ")
}

// args is QEMU's command line. The microvm machine boots in a fraction of
// q35's time and has everything a network guest needs (virtio-mmio).
func (c *Config) args(incoming bool) []string {
	mem := c.MemoryMB
	if mem == 0 {
		mem = 128
	}
	a := []string{
		"-name", c.Name,
		"-machine", "microvm",
		"-accel", c.accelArg(),
		"-m", strconv.Itoa(mem),
		"-smp", "1",
		"-nodefaults", "-no-user-config", "-nographic",
		"-kernel", c.Image.Kernel,
		"-initrd", c.Image.Initrd,
		"-append", c.cmdline(),
		"-serial", "file:" + filepath.Join(c.Dir, "console.log"),
		"-qmp", "unix:" + c.qmpPath() + ",server=on,wait=off",
		"-device", "virtio-serial-device",
		"-chardev", "socket,id=agent,path=" + c.agentPath() + ",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=org.sdnlab.agent",
		"-netdev", "tap,id=net0,ifname=" + c.Tap + ",script=no,downscript=no",
		"-device", "virtio-net-device,netdev=net0,mac=" + c.MAC,
		"-pidfile", PIDFile(c.Dir),
	}
	if c.Accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	if incoming {
		a = append(a, "-incoming", "defer")
	}
	return a
}

// KVMDevice and PVMModule are where Accelerator looks for KVM and for its
// PVM flavour (variables for tests).
var (
	KVMDevice = "/dev/kvm"
	PVMModule = "/sys/module/kvm_pvm"
)

// Accelerator says how this machine runs VM guests: "kvm" where /dev/kvm
// runs a stock kernel, "tcg" (QEMU's own emulation, slower but complete)
// where KVM is the PVM flavour, whose guests must be PVM-built kernels.
// SDNLAB_VM_ACCEL=kvm|tcg overrides. note says which and why, for `up`
// to print. Without /dev/kvm (and no override) VM guests are refused:
// err says why and what would run them.
func Accelerator() (accel, note string, err error) {
	if _, err := exec.LookPath(QEMU); err != nil {
		return "", "", fmt.Errorf("%w: %v (apt-get install qemu-system-x86)", ErrNoVM, err)
	}
	switch a := os.Getenv("SDNLAB_VM_ACCEL"); a {
	case "kvm", "tcg":
		return a, "SDNLAB_VM_ACCEL=" + a + " chose it", nil
	case "":
	default:
		return "", "", fmt.Errorf("SDNLAB_VM_ACCEL=%q: want kvm or tcg", a)
	}
	if _, err := os.Stat(KVMDevice); err != nil {
		return "", "", fmt.Errorf("VM guests need %s: %v (SDNLAB_VM_ACCEL=tcg runs them emulated, much slower)", KVMDevice, err)
	}
	if _, err := os.Stat(PVMModule); err == nil {
		return "tcg", "this machine's KVM is PVM (kvm_pvm), which runs only PVM-built guest kernels; VM guests run under QEMU's TCG emulation", nil
	}
	return "kvm", KVMDevice + " runs stock kernels: hardware virtualization", nil
}

// Start starts QEMU for c inside c.NS (with -incoming defer when the
// instance is a migration's destination) and waits for its QMP socket.
func Start(ctx context.Context, c Config) (*VM, error) {
	return start(ctx, c, false)
}

func start(ctx context.Context, c Config, incoming bool) (*VM, error) {
	if c.Image == nil {
		return nil, fmt.Errorf("vm %s: no image", c.Name)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("vm %s: %w", c.Name, err)
	}
	for _, p := range []string{c.qmpPath(), c.agentPath(), c.migratePath(), PIDFile(c.Dir)} {
		os.Remove(p)
	}
	// Supervised like every long-running process of the lab (own session:
	// a Ctrl-C at the terminal that ran `up` must not end the lab's VMs).
	pid, err := proc.Start(proc.Spec{
		Name:    "vm " + c.Name + ": qemu",
		NS:      c.NS,
		Argv:    append([]string{QEMU}, c.args(incoming)...),
		LogFile: filepath.Join(c.Dir, "qemu.log"),
		PIDFile: PIDFile(c.Dir),
	})
	if err != nil {
		return nil, err
	}
	v := &VM{Config: c, PID: pid}
	deadline := time.Now().Add(15 * time.Second)
	for {
		q, err := dialQMP(ctx, c.qmpPath())
		if err == nil {
			q.close()
			return v, nil
		}
		if !alive(v.PID) {
			b, _ := os.ReadFile(filepath.Join(c.Dir, "qemu.log"))
			return nil, fmt.Errorf("vm %s: qemu exited: %s", c.Name, strings.TrimSpace(lastLines(string(b), 5)))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			v.Kill()
			return nil, fmt.Errorf("vm %s: qemu's QMP socket never answered: %v", c.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Attach returns the running instance described by c, from its pid file.
func Attach(c Config) (*VM, error) {
	b, err := os.ReadFile(PIDFile(c.Dir))
	if err != nil {
		return nil, fmt.Errorf("vm %s: not running: %w", c.Name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !alive(pid) {
		return nil, fmt.Errorf("vm %s: not running (pid file %s)", c.Name, PIDFile(c.Dir))
	}
	return &VM{Config: c, PID: pid}, nil
}

// WaitBooted waits until the guest's agent answers, which is after the
// initramfs configured its network. It first waits, through QMP, for the
// guest to open its end of the agent's serial port, and only then sends a
// command: a command sent earlier and given up on would be answered into a
// closed connection, and QEMU then holds the port until the next one.
func (v *VM) WaitBooted(ctx context.Context, max time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	for {
		if !alive(v.PID) {
			return fmt.Errorf("vm %s: qemu exited during boot (see %s)", v.Name, filepath.Join(v.Dir, "console.log"))
		}
		open, err := v.agentOpen(ctx)
		if err == nil && open {
			break
		}
		if ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(v.Dir, "console.log"))
			return fmt.Errorf("vm %s: the guest did not open its agent port within %v (%v); console: %s", v.Name, max, err, lastLines(string(b), 5))
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, rc, err := v.Exec(ctx, "true")
	if err == nil && rc != 0 {
		err = fmt.Errorf("exit status %d", rc)
	}
	if err != nil {
		return fmt.Errorf("vm %s: the guest agent did not answer: %w", v.Name, err)
	}
	return nil
}

// agentOpen reports whether the guest has the agent's port open.
func (v *VM) agentOpen(ctx context.Context) (bool, error) {
	q, err := dialQMP(ctx, v.qmpPath())
	if err != nil {
		return false, err
	}
	defer q.close()
	raw, err := q.do("query-chardev", nil)
	if err != nil {
		return false, err
	}
	var chars []struct {
		Label        string `json:"label"`
		FrontendOpen bool   `json:"frontend-open"`
	}
	if err := json.Unmarshal(raw, &chars); err != nil {
		return false, err
	}
	for _, c := range chars {
		if c.Label == "agent" {
			return c.FrontendOpen, nil
		}
	}
	return false, errors.New("qemu has no agent chardev")
}

// Kill ends the QEMU process (a pulled plug for the guest).
func (v *VM) Kill() {
	if v.PID > 0 {
		syscall.Kill(v.PID, syscall.SIGKILL)
		for i := 0; i < 200 && alive(v.PID); i++ {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Stop asks QEMU to quit and waits for it; it kills it when that fails.
func (v *VM) Stop(ctx context.Context) {
	if q, err := dialQMP(ctx, v.qmpPath()); err == nil {
		v.quit(q)
		q.close()
	}
	v.Kill()
}

// quit sends quit over q and waits up to a second for QEMU to exit.
func (v *VM) quit(q *qmp) {
	q.do("quit", nil)
	for i := 0; i < 200 && alive(v.PID); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	v.Kill()
}

// RSS is the QEMU process's resident memory in bytes.
func (v *VM) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", v.PID))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			fs := strings.Fields(f)
			if len(fs) > 0 {
				kb, err := strconv.ParseInt(fs[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

// hostTSCkHz is the host CPU's clock from /proc/cpuinfo, 0 if unknown.
func hostTSCkHz() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(mhz * 1000)
			}
		}
	}
	return 0
}

func alive(pid int) bool { return pid > 0 && proc.ProcessAlive(pid) }

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// accelArg is QEMU's -accel value. TCG's translation cache defaults to
// 1 GiB of address space, most of it touched over time: 32 MiB is plenty for
// a busybox guest and keeps a VM's resident memory near its RAM size.
func (c *Config) accelArg() string {
	if c.Accel == "tcg" {
		return "tcg,tb-size=32"
	}
	return c.Accel
}
