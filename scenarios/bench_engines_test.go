package scenarios_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
	"github.com/sdnlab/sdnlab/topology/frrnode"
)

// BenchmarkEngines brings examples/demo up once with agent nodes and once
// with FRR nodes and measures, per engine in one run: every BGP session up
// after `up`, a MAC on a guest port to its FDB entry on every peer
// (vm-live-migration's FDB convergence), the migration's longest gap, the
// exit-node failover recovery, and memory per node (the agent's RSS, the
// sum of the FRR daemons' RSS). It prints both columns and their ratio.
// Run once: go test ./scenarios -run '^$' -bench Engines -benchtime 1x
func BenchmarkEngines(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: labs are network namespaces")
	}
	if err := frrnode.Installed(); err != nil {
		b.Skip(err.Error())
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "sdnlab")
	build := exec.Command("go", "build", "-o", bin, "github.com/sdnlab/sdnlab/cmd/sdnlab")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	type figs map[string]float64
	var order, notes []string
	res := map[string]figs{}
	for i := 0; i < b.N; i++ {
		for _, engine := range []string{topology.EngineAgent, topology.EngineFRR} {
			f := figs{}
			res[engine] = f
			lab := filepath.Join(dir, engine+".yaml")
			if err := scenarios.CopyLabFile("../examples/demo/lab.yaml", lab, fmt.Sprintf("b%d%s", os.Getpid()%10000, engine[:1])); err != nil {
				b.Fatal(err)
			}
			lr := &scenarios.LabRun{LabFile: lab, Compile: sdn.Compile, Engine: engine,
				Topo: topology.Options{StateDir: filepath.Join(dir, "state"), AgentPath: bin}}
			ctx := context.Background()
			t0 := time.Now()
			sess, err := lr.Start(ctx)
			if err != nil {
				b.Fatal(err)
			}
			// Sessions: every peer of every node Established, from up.
			var up time.Duration
			for up == 0 && time.Since(t0) < 60*time.Second {
				all := true
				for _, n := range sess.Lab.Nodes() {
					s, err := sess.Lab.Show(ctx, n.Name)
					if err != nil {
						all = false
						break
					}
					for _, p := range s.Peers {
						all = all && p.State == "Established"
					}
				}
				if all {
					up = time.Since(t0)
				}
				time.Sleep(20 * time.Millisecond)
			}
			f["session up after up (ms)"] = float64(up.Milliseconds())
			var rss int64
			for _, n := range sess.Lab.Nodes() {
				for _, pid := range topology.EnginePIDs(sess.Lab.L, sess.Lab.StateDir, n.Name) {
					rss += pidRSS(pid)
				}
			}
			f["memory per node (MB)"] = float64(rss) / float64(len(sess.Lab.Nodes())) / (1 << 20)
			// Each scenario on a fresh lab: exit-node-failover kills a node,
			// and after a migration FRR 8.4 may have lost a router MAC.
			for k, name := range []string{"vm-live-migration", "exit-node-failover"} {
				if k > 0 {
					sess.Close()
					if sess, err = lr.Start(ctx); err != nil {
						b.Fatal(err)
					}
				}
				sel, err := scenarios.Select([]string{name})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range sess.Run(ctx, sel) {
					fm := r.FigureMap()
					for from, to := range benchFigures[name] {
						x, ok := fm[from]
						switch {
						case ok:
							f[to] = x.Value
						case r.Verdict == reports.Pass || r.Verdict == reports.Warn:
							// A renamed figure must not turn into a dash.
							b.Fatalf("%s on %s (%s) has no figure %q", name, engine, r.Verdict, from)
						default:
							notes = append(notes, fmt.Sprintf("%s: %s %s, no %s: %s", engine, name, r.Verdict, to, r.Explain()))
						}
					}
					b.Logf("%s on %s: %s", r.Scenario, engine, r.Verdict)
				}
			}
			sess.Close()
		}
	}
	order = []string{"session up after up (ms)", "MAC to FDB on every peer (ms)", "migration longest gap (ms)",
		"exit-node failover recovery (ms)", "memory per node (MB)"}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-34s %10s %10s %8s\n", "examples/demo, one run", "agent", "FRR 8.4", "FRR/agent")
	for _, k := range order {
		a, okA := res[topology.EngineAgent][k]
		f, okF := res[topology.EngineFRR][k]
		cell := func(v float64, ok bool) string {
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.1f", v)
		}
		ratio := "-"
		if okA && okF && a != 0 {
			ratio = fmt.Sprintf("%.2f", f/a)
		}
		fmt.Fprintf(&sb, "%-34s %10s %10s %8s\n", k, cell(a, okA), cell(f, okF), ratio)
	}
	for _, n := range notes {
		fmt.Fprintf(&sb, "  %s\n", n)
	}
	fmt.Print(sb.String())
}

// benchFigures: per scenario, the figures BenchmarkEngines reports and
// the row each goes in.
var benchFigures = map[string]map[string]string{
	"vm-live-migration": {
		"FDB convergence (after the first RARP)": "MAC to FDB on every peer (ms)",
		"longest gap from vm12 v4":               "migration longest gap (ms)",
	},
	"exit-node-failover": {"v4 guest -> external: recovered": "exit-node failover recovery (ms)"},
}

func pidRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return res * int64(os.Getpagesize())
}
