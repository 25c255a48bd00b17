package vm

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitramfsFormat(t *testing.T) {
	fs := newInitramfs()
	fs.dir("bin")
	fs.file("bin/x", 0o755, []byte("hello"))
	fs.symlink("bin/y", "x")
	var b bytes.Buffer
	if err := fs.writeTo(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed: the archive is not cross-checked")
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", "gzip -dc | cpio -idm --quiet")
	cmd.Dir = dir
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v: %s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "bin", "x"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("bin/x = %q, %v", got, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin", "y")); err != nil || l != "x" {
		t.Fatalf("bin/y -> %q, %v", l, err)
	}
}

func TestCmdline(t *testing.T) {
	c := Config{Name: "vm1", MTU: 1450, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64")},
		Gateway4: netip.MustParseAddr("10.0.0.254")}
	want := "console=ttyS0 quiet panic=-1 sdnlab.name=vm1 sdnlab.mtu=1450 sdnlab.addr=10.0.0.1/24 sdnlab.addr=fd00::1/64 sdnlab.gw4=10.0.0.254"
	if got := c.cmdline(); got != want {
		t.Errorf("cmdline\n got %s\nwant %s", got, want)
	}
}

// Without /dev/kvm VM guests are refused with the reason; with it the
// note says which accelerator runs them and why.
func TestAccelerator(t *testing.T) {
	if _, err := exec.LookPath(QEMU); err != nil {
		t.Skipf("%s not installed", QEMU)
	}
	t.Setenv("SDNLAB_VM_ACCEL", "")
	dir := t.TempDir()
	defer func(d, m string) { KVMDevice, PVMModule = d, m }(KVMDevice, PVMModule)
	KVMDevice, PVMModule = filepath.Join(dir, "kvm"), filepath.Join(dir, "kvm_pvm")
	if a, _, err := Accelerator(); err == nil || !strings.Contains(err.Error(), "need "+KVMDevice) || !strings.Contains(err.Error(), "SDNLAB_VM_ACCEL=tcg") {
		t.Errorf("no KVM device: accel %q, err %v; want a refusal naming the device and the way out", a, err)
	}
	os.WriteFile(KVMDevice, nil, 0o600)
	if a, note, err := Accelerator(); err != nil || a != "kvm" || !strings.Contains(note, "hardware") {
		t.Errorf("KVM device: %q %q %v, want kvm", a, note, err)
	}
	os.Mkdir(PVMModule, 0o755)
	if a, note, err := Accelerator(); err != nil || a != "tcg" || !strings.Contains(note, "PVM") {
		t.Errorf("PVM: %q %q %v, want tcg with the reason", a, note, err)
	}
	t.Setenv("SDNLAB_VM_ACCEL", "kvm")
	if a, note, err := Accelerator(); err != nil || a != "kvm" || !strings.Contains(note, "SDNLAB_VM_ACCEL") {
		t.Errorf("override: %q %q %v", a, note, err)
	}
}
