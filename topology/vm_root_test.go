package topology

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology/vm"
)

// vmExec runs a shell command in a VM guest and returns its output.
func vmExec(t *testing.T, lab *Lab, guest string, argv ...string) (string, error) {
	t.Helper()
	var b strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := lab.Exec(ctx, guest, argv, nil, &b, &b)
	return b.String(), err
}

func vmPing(t *testing.T, lab *Lab, guest, dst string) {
	t.Helper()
	// The first ping after boot or a move may wait for EVPN: allow a few.
	var out string
	var err error
	for i := 0; i < 20; i++ {
		if out, err = vmExec(t, lab, guest, "ping", "-c", "1", "-W", "1", dst); err == nil {
			return
		}
	}
	t.Fatalf("%s: ping %s: %v: %s", guest, dst, err, out)
}

// TestVMGuests: the EVPN example with its four guests as QEMU VMs comes up,
// the VMs reach each other across nodes (same VNet and routed between
// VNets) and the external host, a VM moves by QEMU live migration and
// still answers, and down leaves no QEMU behind.
func TestVMGuests(t *testing.T) {
	needRoot(t)
	if accel, note, err := vm.Accelerator(); err != nil {
		t.Skipf("no VM guests on this machine: %v", err)
	} else if note != "" {
		t.Logf("accelerator %s: %s", accel, note)
	}
	bin := sdnlabBinary(t)
	t0 := time.Now()
	lab := upLab(t, "../examples/vm-guests/lab.yaml", "vg", Options{StartAgents: true, AgentPath: bin})
	t.Logf("lab with 4 VM guests up in %v", time.Since(t0).Round(time.Millisecond))
	var pids []int
	for _, g := range lab.Guests {
		if !g.IsVM() {
			t.Fatalf("guest %s: kind %q, want vm", g.Name, g.Kind)
		}
		v, err := runningVM(g)
		if err != nil {
			t.Fatal(err)
		}
		rss, _ := v.RSS()
		t.Logf("%s: qemu pid %d, RSS %d MiB", g.Name, v.PID, rss>>20)
		pids = append(pids, v.PID)
	}
	out, err := vmExec(t, lab, "vm11", "cat", "/sys/class/net/eth0/address", "/sys/class/net/eth0/mtu")
	if g := lab.Guest("vm11"); err != nil || !strings.Contains(out, g.MAC) || !strings.Contains(out, fmt.Sprint(g.MTU)) {
		t.Fatalf("vm11's NIC: %v: %q (want MAC %s, MTU %d)", err, out, g.MAC, g.MTU)
	}
	if _, err := vmExec(t, lab, "vm11", "sh", "-c", "exit 7"); err == nil || !strings.Contains(err.Error(), "status 7") {
		t.Fatalf("a failing command in a VM: err %v, want exit status 7", err)
	}
	vmPing(t, lab, "vm11", "10.0.1.12")    // same VNet, another node
	vmPing(t, lab, "vm11", "10.0.2.21")    // routed to the other VNet (L3VNI)
	vmPing(t, lab, "vm12", "203.0.113.10") // out through an exit node

	// The same machine arrives: what the guest wrote before is there after.
	if out, err := vmExec(t, lab, "vm11", "sh", "-c", "echo before-move > /tmp/mark"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	st, err := MigrateVM(context.Background(), lab, "vm11", "node3")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vm11 node1 -> node3: QEMU downtime %v, total %v, %d MiB, wall %v", st.Downtime, st.TotalTime, st.Transferred>>20, st.Wall.Round(time.Millisecond))
	if st.Downtime <= 0 || st.Transferred == 0 {
		t.Errorf("QEMU reported no downtime or no RAM sent: %+v", st)
	}
	if g := lab.Guest("vm11"); g.Node != "node3" {
		t.Errorf("vm11 is on %s after the move, want node3", g.Node)
	}
	h, err := nsutil.OpenNS(lab.BridgeNS("node1", "myvnet1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := h.Link(lab.Guest("vm11").Tap); l != nil {
		t.Errorf("node1 still has vm11's tap after the move")
	}
	h.Close()
	if out, err := vmExec(t, lab, "vm11", "cat", "/tmp/mark"); err != nil || strings.TrimSpace(out) != "before-move" {
		t.Errorf("vm11 after the move: /tmp/mark = %q, %v", out, err)
	}
	vmPing(t, lab, "vm11", "10.0.1.12")
	vmPing(t, lab, "vm12", "10.0.1.11")

	if err := Down(context.Background(), lab.Name, Options{StateDir: strings.TrimSuffix(lab.StateDir, "/"+lab.Name)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(b), "qemu") {
			t.Errorf("qemu %d still runs after down", pid)
		}
	}
}

// A lab whose VM guests this machine cannot run (no /dev/kvm, or a bad
// override) is refused with the reason before any namespace exists.
func TestVMGuestsRefused(t *testing.T) {
	needRoot(t)
	for i, tc := range []struct {
		accel, kvm, want string
	}{
		{"nonsense", vm.KVMDevice, "SDNLAB_VM_ACCEL"},
		{"", "/nonexistent/kvm", "need /nonexistent/kvm"},
	} {
		t.Setenv("SDNLAB_VM_ACCEL", tc.accel)
		defer func(d string) { vm.KVMDevice = d }(vm.KVMDevice)
		vm.KVMDevice = tc.kvm
		lab, err := LoadNamed("../examples/vm-guests/lab.yaml", labName(t, fmt.Sprintf("vr%d", i)), sdn.Compile)
		if err != nil {
			t.Fatal(err)
		}
		state := t.TempDir()
		_, err = Up(context.Background(), lab, Options{StateDir: state})
		Down(context.Background(), lab.Name, Options{StateDir: state})
		if err == nil || !strings.Contains(err.Error(), "kind: vm") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("up with SDNLAB_VM_ACCEL=%q, KVM at %s: %v, want a refusal naming kind: vm and %q", tc.accel, tc.kvm, err, tc.want)
		}
		if left, _ := nsutil.List(lab.Prefix()); len(left) > 0 {
			t.Errorf("namespaces created before the refusal: %v", left)
		}
	}
}
