package vm

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
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

// vmEnv skips unless this machine can boot VM guests.
func vmEnv(t *testing.T) (*Image, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: VM guests run in lab namespaces")
	}
	accel, note, err := Accelerator()
	if err != nil {
		t.Skipf("no VM guests here: %v", err)
	}
	if note != "" {
		t.Logf("accelerator %s: %s", accel, note)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := EnsureImage(ctx, DefaultCacheDir())
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	return img, accel
}

// Two nodes, each a namespace with a bridge, joined by a veth: a VM on
// each pings the other, then one migrates (QEMU live migration) to the
// other node and still answers.
func TestBootExecMigrate(t *testing.T) {
	img, accel := vmEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("sdnlab-t%dvm", os.Getpid())
	nodes := []string{prefix + "-n1", prefix + "-n2"}
	var nss []*nsutil.NS
	for _, n := range nodes {
		ns, err := nsutil.OpenNS(n, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close(); nsutil.Delete(n) })
		if _, err := ns.EnsureBridge("br0", 1500, ""); err != nil {
			t.Fatal(err)
		}
		if err := ns.Up("br0"); err != nil {
			t.Fatal(err)
		}
		nss = append(nss, ns)
	}
	if err := nss[0].EnsureVeth("trunk", "", 1500, nss[1], "trunk", ""); err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss {
		if err := ns.SetMaster("trunk", "br0"); err != nil {
			t.Fatal(err)
		}
		if err := ns.Up("trunk"); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	plug := func(ns *nsutil.NS) func(*VM) error {
		return func(v *VM) error {
			if err := ns.SetMaster(v.Tap, "br0"); err != nil {
				return err
			}
			return ns.Up(v.Tap)
		}
	}
	conf := func(name string, node int, ip, mac string) Config {
		return Config{Name: name, NS: nodes[node], Dir: filepath.Join(dir, name), Tap: "tap" + name[2:] + "i0", MAC: mac, MTU: 1450,
			Addrs: []netip.Prefix{netip.MustParsePrefix(ip)}, Image: img, Accel: accel}
	}
	var vms []*VM
	for i, c := range []Config{conf("vm101", 0, "10.9.0.1/24", "bc:24:11:00:01:01"), conf("vm102", 1, "10.9.0.2/24", "bc:24:11:00:01:02")} {
		t0 := time.Now()
		v, err := Start(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Kill)
		if err := plug(nss[i])(v); err != nil {
			t.Fatal(err)
		}
		if err := v.WaitBooted(ctx, 90*time.Second); err != nil {
			t.Fatal(err)
		}
		rss, _ := v.RSS()
		t.Logf("%s booted in %v (%s), qemu RSS %d MiB", c.Name, time.Since(t0).Round(time.Millisecond), accel, rss>>20)
		vms = append(vms, v)
	}
	ping := func(v *VM, to string) {
		t.Helper()
		out, rc, err := v.Exec(ctx, "ping -c 3 -W 2 "+to)
		if err != nil || rc != 0 {
			t.Fatalf("%s: ping %s: rc %d err %v: %s", v.Name, to, rc, err, out)
		}
	}
	ping(vms[0], "10.9.0.2")
	out, rc, err := vms[0].Exec(ctx, "cat /sys/class/net/eth0/mtu; exit 3")
	if err != nil || rc != 3 || strings.TrimSpace(string(out)) != "1450" {
		t.Fatalf("exec: out %q rc %d err %v", out, rc, err)
	}
	// Migrate vm101 to node 2 while state in the guest shows it is the
	// same machine: a file written before is there after.
	if _, rc, err := vms[0].Exec(ctx, "echo before > /tmp/mark"); err != nil || rc != 0 {
		t.Fatal(rc, err)
	}
	c := vms[0].Config
	c.NS, c.Dir = nodes[1], filepath.Join(dir, "vm101.1")
	moved, st, err := Migrate(ctx, vms[0], c, plug(nss[1]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moved.Kill)
	t.Logf("migration: downtime %v, total %v, setup %v, %d KiB, wall %v", st.Downtime, st.TotalTime, st.Setup, st.Transferred>>10, st.Wall.Round(time.Millisecond))
	if alive(vms[0].PID) {
		t.Errorf("source qemu %d still runs after the migration", vms[0].PID)
	}
	if out, rc, err := moved.Exec(ctx, "cat /tmp/mark"); err != nil || rc != 0 || strings.TrimSpace(string(out)) != "before" {
		t.Fatalf("after migration: out %q rc %d err %v", out, rc, err)
	}
	ping(moved, "10.9.0.2")
	ping(vms[1], "10.9.0.1")
	if l, _ := nss[0].Link(c.Tap); l != nil {
		t.Errorf("the source node still has %s", c.Tap)
	}
}
