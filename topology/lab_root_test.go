package topology

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn"
)

// The root tests build real labs. Lab names are "t<pid><x>" so they never
// meet another test run's namespaces; each test removes its labs.

func TestMain(m *testing.M) {
	// Helper mode for TestKill9DuringUp: bring a lab up, then wait to be killed.
	if f := os.Getenv("SDNLAB_TEST_UP_FILE"); f != "" {
		lab, err := LoadNamed(f, os.Getenv("SDNLAB_TEST_UP_NAME"), sdn.Compile)
		if err == nil {
			_, err = Up(context.Background(), lab, Options{StateDir: os.Getenv("SDNLAB_TEST_UP_STATE")})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("UP")
		select {}
	}
	// Helper mode: this test binary is the `router` command (Options'
	// RouterPath defaults to os.Executable()).
	if len(os.Args) > 1 && os.Args[1] == "router" {
		var lab, router, state string
		for i := 2; i+1 < len(os.Args); i += 2 {
			switch os.Args[i] {
			case "--lab":
				lab = os.Args[i+1]
			case "--router":
				router = os.Args[i+1]
			case "--state":
				state = os.Args[i+1]
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if err := RunRouter(ctx, lab, router, state, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Setenv(SelfRouterEnv, "1") // see the helper mode above
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

func labName(t *testing.T, suffix string) string {
	return fmt.Sprintf("t%d%s", os.Getpid(), suffix)
}

// upLab loads file under a unique name and brings it up; cleanup downs it.
func upLab(t *testing.T, file, suffix string, opts Options) *Lab {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	lab, err := LoadNamed(file, labName(t, suffix), sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Down(context.Background(), lab.Name, opts); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	if _, err := Up(context.Background(), lab, opts); err != nil {
		logs, _ := filepath.Glob(filepath.Join(opts.LabDir(lab.Name), "*", "*", "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
		t.Fatalf("up: %v", err)
	}
	return lab
}

// hostState is what the host's `ip addr`, `ip route` and `ip link` show.
func hostState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"-o", "link"}, {"addr"}, {"route"}, {"-6", "route"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Skipf("no usable ip command: %v", err)
		}
		b.Write(out)
	}
	return b.String()
}

func mustPing(t *testing.T, lab *Lab, from, to string) {
	t.Helper()
	r, err := lab.Ping(context.Background(), from, netip.MustParseAddr(to), ping.Opts{Count: 3, Interval: 50 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("ping %s -> %s: %v", from, to, err)
	}
	if r.Received != r.Transmitted {
		t.Fatalf("ping %s -> %s: %d/%d received", from, to, r.Received, r.Transmitted)
	}
}

// capture records the frames seen on ifname in namespace ns until stop is
// called (an AF_PACKET socket opened inside the namespace).
func capture(t *testing.T, ns, ifname string) (stop func() []gopacket.Packet) {
	t.Helper()
	var fd int
	err := nsutil.Do(ns, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index})
	})
	if err != nil {
		t.Fatalf("capture on %s/%s: %v", ns, ifname, err)
	}
	var (
		mu   sync.Mutex
		pkts []gopacket.Packet
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			select {
			case <-done:
				return
			default:
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			p := gopacket.NewPacket(append([]byte(nil), buf[:n]...), layers.LayerTypeEthernet, gopacket.Default)
			mu.Lock()
			pkts = append(pkts, p)
			mu.Unlock()
		}
	}()
	return func() []gopacket.Packet {
		close(done)
		wg.Wait()
		unix.Close(fd)
		mu.Lock()
		defer mu.Unlock()
		return pkts
	}
}

func TestVXLANLab(t *testing.T) {
	needRoot(t)
	before := hostState(t)
	state := t.TempDir()
	opts := Options{StateDir: state}
	lab, err := LoadNamed("../examples/vxlan/lab.yaml", labName(t, "vx"), sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Up(context.Background(), lab, opts); err != nil {
		Down(context.Background(), lab.Name, opts)
		t.Fatal(err)
	}
	// Up again is a no-op that succeeds.
	if _, err := Up(context.Background(), lab, opts); err != nil {
		Down(context.Background(), lab.Name, opts)
		t.Fatalf("second up: %v", err)
	}
	func() {
		defer func() {
			if err := Down(context.Background(), lab.Name, opts); err != nil {
				t.Errorf("down: %v", err)
			}
		}()
		// Capture on node2's underlay port of the switch while vm1 pings vm2.
		sw := lab.Segment("lan")
		stop := capture(t, sw.NS, lab.Node("node2").Link.Port)
		mustPing(t, lab, "vm1", "10.0.100.12")
		mustPing(t, lab, "vm1", "10.0.100.13")
		mustPing(t, lab, "vm3", "10.0.100.12")
		pkts := stop()
		var vxlanICMP int
		for _, p := range pkts {
			vx, ok := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
			if !ok {
				continue
			}
			if vx.VNI != 100000 {
				t.Errorf("VXLAN with VNI %d, want 100000", vx.VNI)
			}
			udp := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if udp.DstPort != 4789 {
				t.Errorf("VXLAN to port %d", udp.DstPort)
			}
			if p.Layer(layers.LayerTypeICMPv4) != nil {
				vxlanICMP++
			}
		}
		if vxlanICMP < 6 {
			t.Errorf("saw %d VXLAN-encapsulated ICMP packets on node2's underlay, want >= 6 (of %d frames)", vxlanICMP, len(pkts))
		}
		// The VNet MTU is 1450 over a 1500 underlay: 1422 bytes of ICMP
		// payload fit with DF, 1423 do not.
		r, err := lab.Ping(context.Background(), "vm1", netip.MustParseAddr("10.0.100.12"), ping.Opts{Count: 1, Size: 1422, DF: true})
		if err != nil || r.Received != 1 {
			t.Errorf("1422-byte DF ping: %+v %v", r, err)
		}
		// Status of a realized node: the vxlan device as the plan says.
		h, err := nsutil.Handle(lab.Node("node1").NS)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		l, err := h.LinkByName("vxlan_myvnet1")
		if err != nil {
			t.Fatal(err)
		}
		vx := l.(*netlink.Vxlan)
		if vx.VxlanId != 100000 || vx.Port != 4789 || vx.MTU != 1450 {
			t.Errorf("vxlan device: id %d port %d mtu %d", vx.VxlanId, vx.Port, vx.MTU)
		}
		fdb, _ := h.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
		var flood []string
		for _, e := range fdb {
			if e.HardwareAddr.String() == "00:00:00:00:00:00" {
				flood = append(flood, e.IP.String())
			}
		}
		if strings.Join(flood, ",") != "192.168.0.2,192.168.0.3" {
			t.Errorf("flood list %v", flood)
		}
	}()
	if left, _ := nsutil.List(lab.Prefix()); len(left) > 0 {
		t.Errorf("namespaces left after down: %v", left)
	}
	if _, err := os.Stat(filepath.Join(state, lab.Name)); !os.IsNotExist(err) {
		t.Errorf("state dir left after down")
	}
	if after := hostState(t); after != before {
		t.Errorf("host network changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestSimpleLabSNAT(t *testing.T) {
	needRoot(t)
	lab := upLab(t, "../examples/simple/lab.yaml", "sn", Options{})
	inet := lab.Host("inet")
	stop := capture(t, inet.NS, inet.Link.Ifname)
	mustPing(t, lab, "vm1", "203.0.113.10")
	mustPing(t, lab, "vm1", "10.0.10.12")
	var srcs = map[string]bool{}
	for _, p := range stop() {
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && p.Layer(layers.LayerTypeICMPv4) != nil && ip.DstIP.String() == "203.0.113.10" {
			srcs[ip.SrcIP.String()] = true
		}
	}
	if len(srcs) != 1 || !srcs["192.168.0.1"] {
		t.Errorf("echo requests reached the external host from %v, want only the node's address 192.168.0.1 (SNAT)", srcs)
	}
}

func TestTwoLabsSideBySide(t *testing.T) {
	needRoot(t)
	a := upLab(t, "../examples/vxlan/lab.yaml", "a", Options{})
	b := upLab(t, "../examples/vxlan/lab.yaml", "b", Options{})
	mustPing(t, a, "vm1", "10.0.100.13")
	mustPing(t, b, "vm1", "10.0.100.13")
	if err := Down(context.Background(), a.Name, Options{}); err != nil {
		t.Fatal(err)
	}
	mustPing(t, b, "vm2", "10.0.100.13")
	if left, _ := nsutil.List(a.Prefix()); len(left) > 0 {
		t.Errorf("lab a left %v", left)
	}
	if left, _ := nsutil.List(b.Prefix()); len(left) == 0 {
		t.Errorf("down of lab a removed lab b")
	}
}

func TestEVPNLayout(t *testing.T) {
	needRoot(t)
	for _, ex := range []struct{ file, suffix string }{{"../examples/evpn/lab.yaml", "ev"}, {"../examples/evpn-racks/lab.yaml", "rk"}} {
		t.Run(ex.suffix, func(t *testing.T) {
			lab := upLab(t, ex.file, ex.suffix, Options{})
			for _, n := range lab.Nodes {
				plan := lab.Plans[n.Name]
				for _, z := range plan.Zones {
					vrf := VRFNS(lab.Name, n.Name, z.ID)
					if !nsutil.Exists(vrf) {
						t.Fatalf("no VRF namespace %s", vrf)
					}
					nh, _ := nsutil.Handle(n.NS)
					vh, _ := nsutil.Handle(vrf)
					for _, v := range z.VNets {
						if _, err := nh.LinkByName(v.Vxlan); err == nil {
							t.Errorf("%s: %s is in the node namespace", n.Name, v.Vxlan)
						}
						l, err := vh.LinkByName(v.Vxlan)
						if err != nil {
							t.Errorf("%s: %s not in the VRF namespace: %v", n.Name, v.Vxlan, err)
							continue
						}
						vx := l.(*netlink.Vxlan)
						if vx.Learning || !vx.SrcAddr.Equal(net.IP(z.LocalVTEP.AsSlice())) || vx.VxlanId != v.Tag {
							t.Errorf("%s: %s: learning %v local %s id %d", n.Name, v.Vxlan, vx.Learning, vx.SrcAddr, vx.VxlanId)
						}
						br, err := vh.LinkByName(v.Bridge)
						if err != nil || l.Attrs().MasterIndex != br.Attrs().Index {
							t.Errorf("%s: %s not a port of %s", n.Name, v.Vxlan, v.Bridge)
						}
						addrs, _ := vh.AddrList(br, netlink.FAMILY_V4)
						if len(addrs) != 1 || addrs[0].IP.String() != v.Subnets[0].Gateway.String() {
							t.Errorf("%s: gateway on %s: %v", n.Name, v.Bridge, addrs)
						}
					}
					for _, dev := range []string{z.L3Bridge, z.L3Vxlan} {
						if _, err := vh.LinkByName(dev); err != nil {
							t.Errorf("%s: %s not in the VRF namespace", n.Name, dev)
						}
					}
					_, err := nh.LinkByName("vrfx_" + z.ID)
					if z.ExitNode != (err == nil) {
						t.Errorf("%s: exit node %v, exit path present %v", n.Name, z.ExitNode, err == nil)
					}
					nh.Close()
					vh.Close()
				}
			}
			// Guests reach their gateway (on the local VRF bridge), and a
			// guest of each exit node the upstream router through that
			// node's exit path, both ways.
			for _, g := range lab.Guests {
				mustPing(t, lab, g.Name, g.Gateway4.String())
			}
			up := lab.Upstream()
			exits := 0
			for _, n := range lab.Nodes {
				for _, z := range lab.Plans[n.Name].Zones {
					if !z.ExitNode {
						continue
					}
					for _, g := range lab.Guests {
						if g.Node != n.Name || g.Zone != z.ID {
							continue
						}
						pinReturn(t, lab, g.Addrs[0].Addr(), n.Addr.Addr())
						mustPing(t, lab, g.Name, up.Links[0].Addrs[0].Addr().String())
						exits++
						break
					}
				}
			}
			if exits < 2 {
				t.Fatalf("only %d exit nodes with a guest: the example no longer tests both exit paths", exits)
			}
			if ex.suffix == "rk" {
				mustPing(t, lab, "node1", "192.168.1.3") // across the racks' router
			}
		})
	}
}

// pinReturn makes every router that spreads dst's subnet over several next
// hops (the exit nodes, ECMP) send dst through via alone. The lab runs no
// agents, so only the guest's own node knows where the guest is, and which
// ECMP member a reply takes depends on the host's random
// fib_multipath_hash_seed: a test must not depend on it.
func pinReturn(t *testing.T, lab *Lab, dst, via netip.Addr) {
	t.Helper()
	pinned := false
	for _, r := range lab.Routers {
		for _, rt := range r.Routes {
			if len(rt.Via) < 2 || !rt.Dst.Contains(dst) || !slices.Contains(rt.Via, via) {
				continue
			}
			h, err := nsutil.Handle(r.NS)
			if err != nil {
				t.Fatal(err)
			}
			err = h.RouteReplace(&netlink.Route{
				Dst: &net.IPNet{IP: net.IP(dst.AsSlice()), Mask: net.CIDRMask(dst.BitLen(), dst.BitLen())},
				Gw:  net.IP(via.AsSlice()),
			})
			h.Close()
			if err != nil {
				t.Fatalf("%s: route %s via %s: %v", r.Name, dst, via, err)
			}
			pinned = true
		}
	}
	if !pinned {
		t.Fatalf("no router spreads %s over several next hops including %s", dst, via)
	}
}

func TestMigrate(t *testing.T) {
	needRoot(t)
	lab := upLab(t, "../examples/vxlan/lab.yaml", "mg", Options{})
	mustPing(t, lab, "vm1", "10.0.100.13")
	// A process in the guest: a paused VM runs nothing, so it is stopped
	// during the pause and runs again afterwards.
	sleeper := exec.Command("sleep", "30")
	if err := nsutil.Start(lab.Guest("vm1").NS, sleeper); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	stop := capture(t, lab.Node("node2").NS, "myvnet1")
	mv, err := Migrate(context.Background(), lab, "vm1", "node2", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(mv.Frozen, sleeper.Process.Pid) {
		t.Errorf("the guest's process %d was not frozen during the pause (frozen: %v)", sleeper.Process.Pid, mv.Frozen)
	}
	if st := procState(sleeper.Process.Pid); st == 'T' || st == 0 {
		t.Errorf("the guest's process is in state %q after the move, want it running again", st)
	}
	time.Sleep(200 * time.Millisecond) // the capture reads the last announcement
	rarps := 0
	for _, p := range stop() {
		if eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok && eth.EthernetType == 0x8035 && eth.SrcMAC.String() == lab.Guest("vm1").MAC {
			rarps++
		}
	}
	if rarps != len(AnnounceSchedule) || len(mv.Announces) != len(AnnounceSchedule) {
		t.Errorf("RARP announcements from vm1 on node2's bridge: %d seen, %d sent; want %d rounds as QEMU", rarps, len(mv.Announces), len(AnnounceSchedule))
	}
	if got := guestTapNS(lab, lab.Guest("vm1")); got != lab.Node("node2").NS {
		t.Fatalf("tap is in %s", got)
	}
	mustPing(t, lab, "vm1", "10.0.100.13")
	mustPing(t, lab, "vm2", "10.0.100.11")
	st, err := ReadState(filepath.Dir(lab.StateDir), lab.Name)
	if err != nil || st.Guest("vm1").Node != "node2" {
		t.Errorf("state not updated: %v", err)
	}
}

// TestReapply changes the SDN configuration of a running lab and runs up
// again: the difference is applied (new VNet added, MTU changed, a VNet
// removed), as Proxmox's "apply" does.
func TestReapply(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("zones.cfg", "vxlan: vx\n\tpeers 10.1.0.1,10.1.0.2\n")
	write("vnets.cfg", "vnet: va\n\tzone vx\n\ttag 10\n\nvnet: vb\n\tzone vx\n\ttag 20\n")
	write("lab.yaml", "sdn: .\nnodes: [node1, node2]\n")
	opts := Options{StateDir: t.TempDir()}
	lab := upLab(t, filepath.Join(dir, "lab.yaml"), "ra", opts)
	h, err := nsutil.Handle(lab.Node("node1").NS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, d := range []string{"va", "vb", "vxlan_va", "vxlan_vb"} {
		if _, err := h.LinkByName(d); err != nil {
			t.Fatalf("%s missing after first up", d)
		}
	}
	write("zones.cfg", "vxlan: vx\n\tpeers 10.1.0.1,10.1.0.2\n\tmtu 1400\n")
	write("vnets.cfg", "vnet: va\n\tzone vx\n\ttag 10\n\nvnet: vc\n\tzone vx\n\ttag 30\n")
	lab2, err := LoadNamed(filepath.Join(dir, "lab.yaml"), lab.Name, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Up(context.Background(), lab2, opts); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"vb", "vxlan_vb"} {
		if _, err := h.LinkByName(d); err == nil {
			t.Errorf("%s still there after it was removed from the config", d)
		}
	}
	for _, d := range []string{"va", "vc", "vxlan_va", "vxlan_vc"} {
		l, err := h.LinkByName(d)
		if err != nil {
			t.Errorf("%s missing after re-apply", d)
			continue
		}
		if l.Attrs().MTU != 1400 {
			t.Errorf("%s: MTU %d after re-apply, want 1400", d, l.Attrs().MTU)
		}
	}
	for _, d := range []string{"lo", "eth0", "vmbr0"} {
		if _, err := h.LinkByName(d); err != nil {
			t.Errorf("host interface %s removed by re-apply", d)
		}
	}
}

func TestAgentHook(t *testing.T) {
	needRoot(t)
	// A stand-in agent: records its arguments and sleeps.
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent.sh")
	if err := os.WriteFile(agent, []byte("#!/bin/sh\necho \"$@\" > \"$7/nodes/$5/args\"\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := Options{StateDir: t.TempDir(), StartAgents: true, AgentPath: agent}
	lab := upLab(t, "../examples/evpn/lab.yaml", "ag", opts)
	for _, n := range lab.Nodes {
		if lab.Plans[n.Name].FRR == nil {
			// The agent is started only for a plan with FRR: without one
			// this test would check nothing.
			t.Fatalf("node %s: the evpn example's plan has no FRR config", n.Name)
		}
		var pid int
		for i := 0; i < 100 && pid == 0; i++ {
			pid = AgentPID(lab, lab.StateDir, n.Name)
			time.Sleep(10 * time.Millisecond)
		}
		if pid == 0 {
			t.Fatalf("node %s: no agent running", n.Name)
		}
		args, _ := os.ReadFile(filepath.Join(lab.StateDir, "nodes", n.Name, "args"))
		if want := fmt.Sprintf("agent --lab %s --node %s --state %s", lab.Name, n.Name, lab.StateDir); strings.TrimSpace(string(args)) != want {
			t.Errorf("agent args %q, want %q", args, want)
		}
	}
	// Up again does not start a second agent.
	pids, _ := proc.ProcsIn([]string{lab.Node("node1").NS})
	if _, err := Up(context.Background(), lab, opts); err != nil {
		t.Fatal(err)
	}
	pids2, _ := proc.ProcsIn([]string{lab.Node("node1").NS})
	if len(pids2) != len(pids) {
		t.Errorf("second up: %d processes in node1, was %d", len(pids2), len(pids))
	}
	if err := Down(context.Background(), lab.Name, opts); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if proc.ProcessAlive(p) {
			t.Errorf("agent %d survived down", p)
		}
	}
}

// TestKill9DuringUp kills an `up` in the middle (SIGKILL, no cleanup of its
// own), then down must leave nothing behind, from the namespace names alone.
func TestKill9DuringUp(t *testing.T) {
	needRoot(t)
	before := hostState(t)
	name := labName(t, "k9")
	state := t.TempDir()
	for _, delay := range []time.Duration{5 * time.Millisecond, 30 * time.Millisecond, 0} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SDNLAB_TEST_UP_FILE=../examples/evpn/lab.yaml", "SDNLAB_TEST_UP_NAME="+name, "SDNLAB_TEST_UP_STATE="+state)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if delay > 0 {
			// Wait for the first namespace, then a little more.
			for i := 0; i < 500; i++ {
				if l, _ := nsutil.List(NSPrefix(name)); len(l) > 0 {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(delay)
		} else {
			time.Sleep(1500 * time.Millisecond) // likely fully up
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// Lose the state too: down must work from namespace names.
		os.RemoveAll(filepath.Join(state, name))
		if err := Down(context.Background(), name, Options{StateDir: state}); err != nil {
			t.Fatalf("down after kill -9 (%s): %v", delay, err)
		}
		if l, _ := nsutil.List(NSPrefix(name)); len(l) > 0 {
			t.Fatalf("namespaces left after kill -9 at %s and down: %v", delay, l)
		}
	}
	if after := hostState(t); after != before {
		t.Errorf("host network changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

var _ = nsutil.Caps{}
