package topology

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/sdn"
)

// writeBenchLab writes an n-node lab: one vxlan zone over all nodes (static
// flood list of n-1 peers per node), one VNet with a subnet, one guest per
// node, on one segment.
func writeBenchLab(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	var peers, nodes, guests []string
	for i := 1; i <= n; i++ {
		peers = append(peers, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1))
		nodes = append(nodes, fmt.Sprintf("n%d", i))
		guests = append(guests, fmt.Sprintf("  g%d: {node: n%d, vnet: v1, ip: 10.50.%d.%d/16}", i, i, i/250, i%250+1))
	}
	files := map[string]string{
		"zones.cfg": "vxlan: vx\n\tpeers " + strings.Join(peers, ",") + "\n",
		"vnets.cfg": "vnet: v1\n\tzone vx\n\ttag 100\n",
		"lab.yaml": "sdn: .\nnodes: [" + strings.Join(nodes, ", ") + "]\nunderlay:\n  segments:\n    lan: {subnet: 10.1.0.0/16}\n" +
			"guests:\n" + strings.Join(guests, "\n") + "\n",
	}
	for f, c := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return filepath.Join(dir, "lab.yaml")
}

// labUpDown brings a lab file up and down once and returns both times.
func labUpDown(b *testing.B, file, name string, opts Options) (up, down time.Duration) {
	t0 := time.Now()
	lab, err := LoadNamed(file, name, sdn.Compile)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Up(context.Background(), lab, opts); err != nil {
		Down(context.Background(), name, opts)
		b.Fatal(err)
	}
	t1 := time.Now()
	if err := Down(context.Background(), name, opts); err != nil {
		b.Fatal(err)
	}
	up, down = t1.Sub(t0), time.Since(t1)
	// The kernel frees namespaces asynchronously after down; let it finish
	// (not our time) so the next round does not pay for it.
	b.StopTimer()
	time.Sleep(settle(len(lab.Nodes)))
	b.StartTimer()
	return up, down
}

func benchLabUp(b *testing.B, n int) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to create network namespaces")
	}
	file := writeBenchLab(b, n)
	name := fmt.Sprintf("b%d%d", os.Getpid(), n)
	opts := Options{StateDir: b.TempDir()}
	var up, down time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, d := labUpDown(b, file, name, opts)
		up += u
		down += d
	}
	b.ReportMetric(float64(up.Microseconds())/1000/float64(b.N), "ms-up")
	b.ReportMetric(float64(down.Microseconds())/1000/float64(b.N), "ms-down")
	b.ReportMetric(float64((up+down).Microseconds())/float64(b.N)/float64(n)/1000, "ms/node")
}

// BenchmarkLabScaling measures 3- and 50-node labs in one run and reports
// the per-node cost of the large one relative to the small one (1.0 is
// perfectly linear).
func BenchmarkLabScaling(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to create network namespaces")
	}
	f3, f50 := writeBenchLab(b, 3), writeBenchLab(b, 50)
	opts := Options{StateDir: b.TempDir()}
	var t3, t50 time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, d := labUpDown(b, f3, fmt.Sprintf("s%d3", os.Getpid()), opts)
		t3 += u + d
		u, d = labUpDown(b, f50, fmt.Sprintf("s%d50", os.Getpid()), opts)
		t50 += u + d
	}
	b.ReportMetric(float64(t3.Microseconds())/1000/float64(b.N), "ms-3nodes")
	b.ReportMetric(float64(t50.Microseconds())/1000/float64(b.N), "ms-50nodes")
	b.ReportMetric((float64(t50)/50)/(float64(t3)/3), "per-node-ratio")
}

// BenchmarkLabUp3 brings up and tears down a 3-node lab (vxlan zone, one
// guest per node; no BGP).
func BenchmarkLabUp3(b *testing.B) { benchLabUp(b, 3) }

// BenchmarkLabUp50 is the same with 50 nodes; ms/node against
// BenchmarkLabUp3 shows how linearly it scales.
func BenchmarkLabUp50(b *testing.B) { benchLabUp(b, 50) }

func settle(n int) time.Duration { return time.Duration(500+100*n) * time.Millisecond }
