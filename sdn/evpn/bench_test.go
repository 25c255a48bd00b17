package evpn

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// benchSamples is how many fresh MACs each control plane gets.
const benchSamples = 25

// BenchmarkEVPNConvergence builds one lab of four nodes in an iBGP full
// mesh: s1 and s2 run sdnlab agents, f1 and f2 run FRR 8.4 with the
// configuration Proxmox generates. It measures the BGP session-up time and
// the time from a MAC appearing on a guest port of one node to its FDB
// entry on the other node of the same kind, and prints the ratio.
// Run once: go test ./sdn/evpn -run '^$' -bench EVPNConvergence -benchtime 1x -v
func BenchmarkEVPNConvergence(b *testing.B) {
	needFRR(b)
	l := newLab(b, "bn")
	nodes := []struct{ name, ip string }{{"s1", "10.99.0.1"}, {"s2", "10.99.0.2"}, {"f1", "10.99.0.3"}, {"f2", "10.99.0.4"}}
	sw := l.addNS("sw")
	l.sh(sw, "ip link add br0 type bridge\nip link set br0 up")
	var ips []string
	for _, n := range nodes {
		ns := l.buildL2Node(n.name, n.ip, 100)
		l.sh(ns, fmt.Sprintf(`
			ip link add u0 type veth peer name p-%[1]s netns %[2]s
			ip addr add %[3]s/24 dev u0
			ip link set u0 up`, n.name, sw, n.ip))
		l.sh(sw, fmt.Sprintf("ip link set p-%s master br0 up", n.name))
		l.addGuest("g"+n.name, n.name, "tap0", fmt.Sprintf("02:00:00:00:01:%02x", len(ips)+1), fmt.Sprintf("10.100.0.%d/24", 11+len(ips)), "br100")
		ips = append(ips, n.ip)
	}
	others := func(self string) []string {
		var o []string
		for _, ip := range ips {
			if ip != self {
				o = append(o, ip)
			}
		}
		return o
	}
	for _, n := range nodes[2:] {
		name := strings.ReplaceAll(l.prefix, "-", "") + n.name
		l.startFRR(n.name, strings.ReplaceAll(proxmoxFRRConf(n.name, n.ip, others(n.ip)...), "%NAME%", name))
	}
	frrStarted := time.Now()
	for _, n := range nodes[:2] {
		cfg := Config{Node: n.name, RouterID: netip.MustParseAddr(n.ip), ASN: 65000,
			L2VNIs: []L2VNI{{VNI: 100, Bridge: "br100", VxlanDev: "vx100", ARPSuppress: true}}}
		for _, o := range others(n.ip) {
			cfg.Neighbors = append(cfg.Neighbors, Neighbor{Addr: netip.MustParseAddr(o), BFD: true})
		}
		l.startAgent(n.name, cfg)
	}
	agentsStarted := time.Now()
	// Session up: every agent session established (GoBGP's first connect
	// waits 1-2 s by design); FRR's sessions among themselves likewise.
	l.eventually("all sessions up", 60*time.Second, func() (bool, string) {
		for _, n := range nodes[:2] {
			s := l.query(n.name)
			if s == nil {
				return false, "no state from " + n.name
			}
			for _, p := range s.Peers {
				if p.State != "Established" {
					return false, n.name + " -> " + p.Addr + " " + p.State
				}
			}
		}
		return true, ""
	})
	sessionUp := time.Since(agentsStarted)
	var s1up string
	if s := l.query("s1"); s != nil {
		for _, p := range s.Peers {
			if p.Addr == "10.99.0.2" {
				s1up = p.UpAfter
			}
		}
	}
	frrUp := ""
	l.eventually("FRR sessions up", 60*time.Second, func() (bool, string) {
		out, _ := l.try(l.name("f1"), "vtysh -N "+strings.ReplaceAll(l.prefix, "-", "")+"f1 -c 'show bgp l2vpn evpn summary'")
		if strings.Count(out, "10.99.0.") >= 3 && !strings.Contains(out, "Active") && !strings.Contains(out, "Connect") && !strings.Contains(out, "Idle") && !strings.Contains(out, "never") {
			frrUp = time.Since(frrStarted).Round(time.Millisecond).String()
			return true, ""
		}
		return false, out
	})
	// Let initial routes settle.
	time.Sleep(2 * time.Second)

	ours := l.macToFDB(b, "gs1", "s2", benchSamples)
	frr := l.macToFDB(b, "gf1", "f2", benchSamples)
	mixed := l.macToFDB(b, "gs1", "f2", benchSamples/2)
	ms := median(ours)
	fmt.Printf("\nEVPN control plane, one lab (2 sdnlab agents + 2 FRR 8.4 nodes, iBGP full mesh, BFD on)\n")
	fmt.Printf("  session up, sdnlab s1->s2 after agent start:   %s (all agent sessions: %s)\n", s1up, sessionUp.Round(time.Millisecond))
	fmt.Printf("  session up, FRR f1 (all peers) after start:    %s\n", frrUp)
	fmt.Printf("  MAC on a guest port -> FDB entry on the peer (%d fresh MACs each):\n", benchSamples)
	fmt.Printf("    sdnlab -> sdnlab  median %-10s p90 %-10s max %s\n", ms.Round(10*time.Microsecond), pct(ours, 90).Round(10*time.Microsecond), pct(ours, 100).Round(10*time.Microsecond))
	fmt.Printf("    FRR    -> FRR     median %-10s p90 %-10s max %s\n", median(frr).Round(10*time.Microsecond), pct(frr, 90).Round(10*time.Microsecond), pct(frr, 100).Round(10*time.Microsecond))
	fmt.Printf("    sdnlab -> FRR     median %s\n", median(mixed).Round(10*time.Microsecond))
	if testing.Verbose() {
		fmt.Printf("  samples sdnlab: %v\n  samples FRR:    %v\n", roundAll(ours), roundAll(frr))
	}
	ratio := float64(ms) / float64(median(frr))
	fmt.Printf("  ratio sdnlab/FRR (median): %.3f  (goal <= 0.100: %s)\n\n", ratio, map[bool]string{true: "met", false: "NOT met"}[ratio <= 0.1])
	b.ReportMetric(float64(ms.Microseconds())/1000, "sdnlab-ms")
	b.ReportMetric(float64(median(frr).Microseconds())/1000, "frr-ms")
	b.ReportMetric(ratio, "ratio")
}

// macToFDB sends frames from n fresh MACs out of guest and returns, for
// each, the time until the receiver node's vxlan device has its FDB entry.
func (l *lab) macToFDB(b testing.TB, guest, receiver string, n int) []time.Duration {
	b.Helper()
	// Watch the receiver's FDB from a netlink socket opened in its namespace.
	rns, err := netns.GetFromPath(nsutil.Path(l.name(receiver)))
	if err != nil {
		b.Fatal(err)
	}
	defer rns.Close()
	ch := make(chan netlink.NeighUpdate, 4096)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.NeighSubscribeAt(rns, ch, done); err != nil {
		b.Fatal(err)
	}
	// A raw socket in the guest to send frames from any source MAC.
	var fd int
	var ifindex int
	err = nsutil.Do(l.name(guest), func() error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		ifindex = link.Attrs().Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	var out []time.Duration
	for i := 0; i < n; i++ {
		mac := make(net.HardwareAddr, 6)
		_, _ = rand.Read(mac)
		mac[0] = 0x02 // locally administered unicast
		frame := make([]byte, 60)
		copy(frame[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		copy(frame[6:12], mac)
		frame[12], frame[13] = 0x88, 0xb5 // local experimental ethertype
		sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
		copy(sa.Addr[:], frame[0:6])
		t0 := time.Now()
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			b.Fatal(os.NewSyscallError("sendto", err))
		}
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case u := <-ch:
				if u.Type == unix.RTM_NEWNEIGH && u.Family == syscall.AF_BRIDGE && u.HardwareAddr.String() == mac.String() {
					out = append(out, time.Since(t0))
					break wait
				}
			case <-timeout:
				b.Fatalf("MAC %s from %s never reached %s's FDB", mac, guest, receiver)
			}
		}
		time.Sleep(100 * time.Millisecond) // let both sides go idle between samples
	}
	return out
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(100 * time.Microsecond)
	}
	return out
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s) - 1) * p / 100
	return s[i]
}
