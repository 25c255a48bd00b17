package topology

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/evpn"
)

// writeMeshLab writes an n-node EVPN lab as docs/SCALE.md describes it:
// one controller, one zone with two VNets, a guest per node, one segment;
// with rr > 0 the controller's peers are rr route reflectors instead of
// the nodes (a full mesh otherwise).
func writeMeshLab(b *testing.B, n, rr int, engine string) string {
	b.Helper()
	dir := b.TempDir()
	addr := func(i int) string { return fmt.Sprintf("10.10.%d.%d", i/250, i%250+1) }
	var peers, nodes, guests, routers []string
	for i := 1; i <= n; i++ {
		nodes = append(nodes, fmt.Sprintf("  node%d: {address: %s}", i, addr(i)))
		if rr == 0 {
			peers = append(peers, addr(i))
		}
		v := (i-1)%2 + 1
		guests = append(guests, fmt.Sprintf("  vm%d: {node: node%d, vnet: v%d, ip: 10.%d.%d.%d/16}", i, i, v, v, i/250, i%250+2))
	}
	for j := 1; j <= rr; j++ {
		a := fmt.Sprintf("10.10.255.%d", 200+j)
		peers = append(peers, a)
		routers = append(routers, fmt.Sprintf("    rr%d: {reflector: evpn, interfaces: {lan: {address: %s}}}", j, a))
	}
	lab := "sdn: .\n"
	if engine != "" {
		lab += "engine: " + engine + "\n"
	}
	lab += "nodes:\n" + strings.Join(nodes, "\n") + "\nunderlay:\n  segments:\n    lan: {subnet: 10.10.0.0/16, mtu: 1500}\n"
	if rr > 0 {
		lab += "  routers:\n" + strings.Join(routers, "\n") + "\n"
	}
	lab += "guests:\n" + strings.Join(guests, "\n") + "\n"
	files := map[string]string{
		"controllers.cfg": "evpn: ctl\n\tasn 65000\n\tpeers " + strings.Join(peers, ",") + "\n",
		"zones.cfg":       "evpn: evz\n\tcontroller ctl\n\tvrf-vxlan 10000\n\tmac BC:24:11:5D:00:01\n\tmtu 1450\n",
		"vnets.cfg":       "vnet: v1\n\tzone evz\n\ttag 11000\n\nvnet: v2\n\tzone evz\n\ttag 12000\n",
		"subnets.cfg":     "subnet: evz-10.1.0.0-16\n\tvnet v1\n\tgateway 10.1.0.1\n\nsubnet: evz-10.2.0.0-16\n\tvnet v2\n\tgateway 10.2.0.1\n",
		"lab.yaml":        lab,
	}
	for f, c := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return filepath.Join(dir, "lab.yaml")
}

// scalePoint is one lab of the curve: up, converged (every node's
// sessions Established and vm1 pinging vmN), memory.
type scalePoint struct {
	up, converged time.Duration
	rssMB, pssMB  float64 // sums over the lab's engine processes
	procs         int
	ok            bool
	// busy is the machine's CPU time (every core, user, system and
	// softirq) from the start of up until converged or the deadline:
	// the work the point took, which a faster result cannot hide and
	// which says how many cores a goal needs (docs/SCALE.md 40).
	busy time.Duration
}

// busyCPU is the machine's non-idle CPU time since boot, all cores. A
// figure it cannot read stops the bench rather than print 0 s of work.
func busyCPU(b *testing.B) time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		b.Fatalf("/proc/stat: first line %q, want the cpu totals", line)
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("/proc/stat: %q: %v", line, err)
		}
		if i != 3 && i != 4 { // idle and iowait are not work; guest time is in user
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ, the unit of /proc/stat
}

func measureScale(b *testing.B, n, rr int, engine string, limit time.Duration) scalePoint {
	agent := os.Getenv("SDNLAB_AGENT")
	if agent == "" {
		agent, _ = filepath.Abs("../bin/" + EngineName)
	}
	if _, err := os.Stat(agent); err != nil {
		b.Skipf("needs the sdnlab-engine binary (make build): %v", err)
	}
	file := writeMeshLab(b, n, rr, engine)
	name := fmt.Sprintf("c%d%d%d", os.Getpid()%10000, n, rr)
	opts := Options{StateDir: b.TempDir(), StartAgents: true, AgentPath: agent}
	ctx := context.Background()
	t0, cpu0 := time.Now(), busyCPU(b)
	lab, err := LoadNamed(file, name, sdn.Compile)
	if err != nil {
		b.Fatal(err)
	}
	defer Down(ctx, name, opts)
	if _, err := Up(ctx, lab, opts); err != nil {
		b.Fatal(err)
	}
	var p scalePoint
	p.up = time.Since(t0)
	dir := filepath.Join(opts.StateDir, name)
	want := n - 1
	if rr > 0 {
		want = rr
	}
	dst := netip.MustParseAddr(fmt.Sprintf("10.%d.%d.%d", (n-1)%2+1, n/250, n%250+2))
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		all := true
		for _, nd := range lab.Nodes {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			s, err := Show(sctx, lab, dir, nd.Name, evpn.Request{Show: evpn.ShowPeers})
			cancel()
			up := 0
			if err == nil {
				for _, ps := range s.Peers {
					if ps.State == "Established" {
						up++
					}
				}
			}
			if up < want {
				all = false
				break
			}
		}
		if all {
			if r, err := lab.Ping(ctx, "vm1", dst, ping.Opts{Count: 1, Timeout: time.Second}); err == nil && r.Received > 0 {
				p.converged, p.ok = time.Since(t0), true
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.busy = busyCPU(b) - cpu0
	// Memory of every engine process in the lab's namespaces (agents,
	// reflectors, FRR daemons): RSS double-counts the shared binary, PSS
	// is each process's fair share, so the PSS sum is the lab's memory.
	for _, pid := range labPIDs(lab) {
		rss, pss := memOf(pid)
		p.rssMB += rss
		p.pssMB += pss
		p.procs++
	}
	return p
}

func labPIDs(lab *Lab) []int {
	var out []int
	nss := map[string]bool{}
	for _, n := range lab.Nodes {
		nss[n.NS] = true
	}
	for _, r := range lab.Routers {
		nss[r.NS] = true
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for ns := range nss {
			if proc.InNS(pid, ns) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func memOf(pid int) (rssMB, pssMB float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "Rss:":
			rssMB = v / 1024
		case "Pss:":
			pssMB = v / 1024
		}
	}
	return rssMB, pssMB
}

// waitCalm waits, at most limit, for the one-minute load average to fall
// to ceiling.
func waitCalm(ceiling int, limit time.Duration) {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(2 * time.Second) {
		f := strings.Fields(loadavg())
		if len(f) == 0 {
			return
		}
		if l, err := strconv.ParseFloat(f[0], 64); err != nil || l <= float64(ceiling) {
			return
		}
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// BenchmarkScaleCurve prints the scale curve of issue 13: full-mesh EVPN
// labs of 10, 30 and 100 agent nodes, 300 nodes with two route
// reflectors, and FRR at 10 and 30 nodes. SDNLAB_SCALE lists the points
// to run ("10,30,100,rr300,frr10,frr30" by default; e.g. "10,30" for a
// quick run).
func BenchmarkScaleCurve(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to create network namespaces")
	}
	points := os.Getenv("SDNLAB_SCALE")
	if points == "" {
		points = "10,30,100,rr300,frr10,frr30"
	}
	b.Logf("%-22s %8s %10s %9s %6s %10s %10s %10s  %s", "lab", "up", "converged", "CPU busy", "procs", "RSS/node", "RSS sum", "PSS sum", "load before")
	for range b.N {
		for _, pt := range strings.Split(points, ",") {
			engine, rr := "agent", 0
			s := pt
			if strings.HasPrefix(s, "frr") {
				engine, s = "frr", strings.TrimPrefix(s, "frr")
			}
			if strings.HasPrefix(s, "rr") {
				rr, s = 2, strings.TrimPrefix(s, "rr")
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				b.Fatalf("SDNLAB_SCALE: %q", pt)
			}
			load := loadavg()
			limit := 60 * time.Second
			if n >= 100 {
				limit = 120 * time.Second
			}
			p := measureScale(b, n, rr, engine, limit)
			what := fmt.Sprintf("%d %s nodes", n, engine)
			if rr > 0 {
				what += fmt.Sprintf(", %d RRs", rr)
			} else {
				what += ", mesh"
			}
			conv := "NO (" + limit.String() + ")"
			if p.ok {
				conv = p.converged.Round(100 * time.Millisecond).String()
			}
			b.Logf("%-22s %8s %10s %8.1fs %6d %8.1fMB %8.0fMB %8.0fMB  %s", what, p.up.Round(100*time.Millisecond), conv, p.busy.Seconds(), p.procs,
				p.rssMB/float64(max(p.procs, 1)), p.rssMB, p.pssMB, load)
			// Let the kernel free the namespaces before the next point, and
			// the machine calm down: a point that starts while the last
			// one's churn still runs measures the two together.
			time.Sleep(settle(n))
			waitCalm(2*runtime.NumCPU(), 90*time.Second)
		}
	}
}
