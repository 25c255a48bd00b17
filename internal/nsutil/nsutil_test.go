package nsutil

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

func testNS(t *testing.T, suffix string) string {
	t.Helper()
	name := fmt.Sprintf("sdnlab-t%d-%s", os.Getpid(), suffix)
	if err := Create(name); err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := Delete(name); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})
	return name
}

func selfInode(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestSysctlPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":               "/proc/sys/net/ipv4/ip_forward",
		"net/ipv4/conf/vmbr0.100/rp_filter": "/proc/sys/net/ipv4/conf/vmbr0.100/rp_filter",
		"net.ipv6.conf.all.forwarding":      "/proc/sys/net/ipv6/conf/all/forwarding",
		"net/ipv4/conf/all/../../../../etc": "",
		"/etc/passwd":                       "",
		"":                                  "",
	} {
		got, err := sysctlPath(key)
		if want == "" {
			if err == nil {
				t.Errorf("sysctlPath(%q) = %q, want error", key, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("sysctlPath(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
}

func TestBadNames(t *testing.T) {
	for _, n := range []string{"", "a/b", "..", "."} {
		if err := Create(n); err == nil {
			t.Errorf("Create(%q) succeeded", n)
		}
		if Exists(n) {
			t.Errorf("Exists(%q) = true", n)
		}
	}
}

func TestLifecycle(t *testing.T) {
	needRoot(t)
	name := testNS(t, "life")
	if !Exists(name) {
		t.Fatal("Exists = false after Create")
	}
	// Idempotent create keeps the same namespace.
	ino1, err := Inode(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := Create(name); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	ino2, _ := Inode(name)
	if ino1 != ino2 {
		t.Fatalf("second Create replaced the namespace (%d -> %d)", ino1, ino2)
	}
	if ino1 == selfInode(t) {
		t.Fatal("new namespace has the host's inode")
	}
	names, err := List(fmt.Sprintf("sdnlab-t%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != name {
		t.Fatalf("List = %v, want [%s]", names, name)
	}

	// Do runs on a thread inside the namespace, and the caller stays out.
	hostIno := selfInode(t)
	var inside uint64
	err = Do(name, func() error {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			return err
		}
		inside = st.Ino
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside != ino1 {
		t.Fatalf("Do ran in namespace %d, want %d", inside, ino1)
	}
	// Many calls must not leak a foreign-namespace thread into the runtime.
	for i := 0; i < 50; i++ {
		if err := Do(name, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			t.Fatal(err)
		}
		if st.Ino != hostIno {
			t.Fatalf("calling thread ended up in namespace %d", st.Ino)
		}
	}
	if selfInode(t) != hostIno {
		t.Fatal("/proc/self (the main thread) left the host namespace")
	}
	if err := Do(name, func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic in Do: err = %v", err)
	}

	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if Exists(name) {
		t.Fatal("Exists after Delete")
	}
	if err := Delete(name); err != nil {
		t.Fatalf("Delete of a missing namespace: %v", err)
	}
	if err := Do(name, func() error { return nil }); err == nil {
		t.Fatal("Do in a deleted namespace succeeded")
	}
}

func TestHandleAndSysctl(t *testing.T) {
	needRoot(t)
	name := testNS(t, "hs")
	h, err := Handle(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	la := netlink.NewLinkAttrs()
	la.Name = "br-test"
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
		t.Fatal(err)
	}
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	if strings.Join(names, ",") != "lo,br-test" {
		t.Fatalf("links in namespace = %v", names)
	}
	if _, err := netlink.LinkByName("br-test"); err == nil {
		t.Fatal("br-test visible in the host namespace")
	}
	for _, up := range []bool{true, false} {
		if err := SetLinkUp(name, "br-test", up); err != nil {
			t.Fatal(err)
		}
		l, err := h.LinkByName("br-test")
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Attrs().Flags&net.FlagUp != 0; got != up {
			t.Fatalf("SetLinkUp(%v): br-test up = %v", up, got)
		}
	}
	if err := SetLinkUp(name, "nosuch", true); err == nil {
		t.Fatal("SetLinkUp of a missing link: no error")
	}

	host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err := Sysctl(name, "net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	v, err := ReadSysctl(name, "net.ipv4.ip_forward")
	if err != nil || v != "1" {
		t.Fatalf("ReadSysctl = %q, %v", v, err)
	}
	if err := Sysctl(name, "net/ipv4/conf/br-test/rp_filter", "2"); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadSysctl(name, "net.ipv4.conf.br-test.rp_filter"); v != "2" {
		t.Fatalf("rp_filter = %q", v)
	}
	after, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if string(host) != string(after) {
		t.Fatalf("host ip_forward changed: %q -> %q", host, after)
	}
}

func TestStartAndOutput(t *testing.T) {
	needRoot(t)
	name := testNS(t, "start")
	ino, _ := Inode(name)

	out, err := Output(context.Background(), name, "readlink", "/proc/self/ns/net")
	if err != nil {
		t.Fatalf("Output: %v (%s)", err, out)
	}
	if want := fmt.Sprintf("net:[%d]", ino); strings.TrimSpace(string(out)) != want {
		t.Fatalf("child namespace %q, want %q", out, want)
	}

	// A long-lived child bound to a stdin pipe exits on EOF.
	cmd := exec.Command("sh", "-c", "readlink /proc/self/ns/net; cat >/dev/null")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := Start(name, cmd); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 64)
	n, _ := stdout.Read(line)
	if !strings.Contains(string(line[:n]), fmt.Sprint(ino)) {
		t.Fatalf("long-lived child in %q", line[:n])
	}
	stdin.Close()
	io.Copy(io.Discard, stdout)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not exit on stdin EOF")
	}

	cmd = exec.Command("true")
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if err := Start(name, cmd); err == nil {
		t.Fatal("Start accepted Pdeathsig")
	}
}
