package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sdnlab/sdnlab/examples"
	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

// The demo's labs: examples/demo (the EVPN example with SNAT, IPv6 and a
// second tenant zone), the two-rack EVPN example for the scenarios that
// need an L3 boundary between nodes, the IPv6-only cluster
// (examples/evpn-ipv6) and EVPN over a WireGuard fabric
// (examples/evpn-wireguard). Own names, so a user's labs are never touched.
const (
	demoLab      = "demo"
	demoRacksLab = "demoracks"
	demoV6Lab    = "demov6"
)

// demoLabs are the demo's labs: the example each one copies, its lab name,
// and the scenarios that run on it (nil: every scenario no other lab takes).
// A lab marked also runs its scenarios in addition to the lab that takes
// them: the IPv6-only cluster repeats the IPv6 paths of the EVPN checks.
// A lab marked engines has a controller: with --engine both it runs on
// both engines and is compared; the others run once (no engine runs there).
var demoLabs = []struct {
	example, name string
	scenarios     []string
	also, engines bool
}{
	{"demo", demoLab, nil, false, true},
	{"evpn-racks", demoRacksLab, rackScenarios, false, true},
	{"qinq", "demoqinq", []string{"vlan-isolation"}, false, false},
	{"dhcp", "demodhcp", []string{"port-isolation", "dhcp"}, false, false},
	{"evpn-ipv6", demoV6Lab, v6Scenarios, true, false},
	{"evpn-wireguard", "demowg", []string{"wireguard-fabric"}, false, false},
}

// v6Scenarios run again on the IPv6-only cluster (agent nodes only: Debian's
// FRR has no IPv6 VTEP), so the summary has their IPv6 figures.
var v6Scenarios = []string{"tenant-isolation", "bum-replication", "arp-nd-suppression", "anycast-gateway", "vxlan-injection", "vm-live-migration"}

func demoLabNames() string {
	var n []string
	for _, l := range demoLabs {
		n = append(n, l.name)
	}
	return strings.Join(n, ", ")
}

// demoMarker is the file the demo writes in its output directory: a lab
// whose lab file lies next to it was started by a demo.
const demoMarker = ".sdnlab-demo"

// demoLeftover reports whether a lab named name is up from an earlier
// demo's output directory (the demo may remove it). A lab of that name
// started otherwise — a user's — is bad input: the demo never removes it.
func demoLeftover(topo topology.Options, name string) (bool, error) {
	if !topology.LabExists(topo, name) {
		return false, nil
	}
	lab, err := topology.ReadState(topo.StateDir, name)
	if err != nil {
		return false, badInput("a lab named %s is up (no readable state): bring it down first (sdnlab down %s); the demo uses the lab names %s", name, name, demoLabNames())
	}
	if lab.File != "" {
		if _, err := os.Stat(filepath.Join(filepath.Dir(lab.File), demoMarker)); err == nil {
			return true, nil
		}
	}
	return false, badInput("a lab named %s is up from %s: bring it down first (sdnlab down %s); the demo uses the lab names %s", name, lab.File, name, demoLabNames())
}

// demoExamples are the examples the demo copies: its labs' and evpn, whose
// host interface files examples/demo takes (../evpn).
func demoExamples() []string {
	out := []string{"evpn"}
	for _, l := range demoLabs {
		if !slices.Contains(out, l.example) {
			out = append(out, l.example)
		}
	}
	return out
}

// rackScenarios run on the two-rack lab.
var rackScenarios = []string{"cross-rack-migration", "bgp-only-workaround"}

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "build the example labs, run every scenario (the EVPN ones on agent and on FRR nodes), print a summary, tear them down",
		usage:   "[--out DIR] [--scenario NAME ...] [--engine agent|both] [--strict] [--keep] [--shard K/N]",
		run: func(ctx context.Context, args []string) error {
			return runDemo(ctx, args, os.Stdout)
		},
	}
}

func runDemo(ctx context.Context, args []string, out io.Writer) error {
	start := time.Now()
	fs := newFlagSet("demo")
	outDir := fs.String("out", "", "directory for the lab copies, pcaps and reports (default: a new one under /tmp)")
	keep := fs.Bool("keep", false, "leave the demo labs running")
	strict := fs.Bool("strict", false, "warnings (findings Proxmox deploys by default) fail the run")
	var sel multiFlag
	fs.Var(&sel, "scenario", "run only these scenarios (repeatable)")
	shard := addShardFlag(fs)
	engineFlag := fs.String("engine", topology.EngineAgent, "agent, or both: the EVPN labs also on FRR nodes, compared side by side (engine divergences fail the run)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	// The default is the agent alone: on Debian 12's FRR the cross-check
	// still finds divergences (see README, "Engines"), and both engines
	// together take longer than the demo's 60 s on 2 cores.
	engines := []string{topology.EngineAgent}
	switch *engineFlag {
	case topology.EngineAgent:
	case "both":
		engines = append(engines, topology.EngineFRR)
	default:
		return badInput("--engine %q: want agent or both", *engineFlag)
	}
	selected, err := scenarios.Select(sel)
	if err != nil {
		return asBadInput(err)
	}
	// --shard (shard.go): the demo's pairs are its scenarios on the lab
	// (or labs) each one runs on.
	pairs := demoPairs(selected)
	taken := shard.take(out, pairs)
	if len(taken) == 0 {
		return emptyShard(out, shard.Shard, demoLab, len(pairs), "", "")
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root (sudo make demo)")
	}
	topo := topology.Options{}
	// A user's lab of the demo's names is never taken over; one left by an
	// interrupted demo is removed below.
	for _, l := range demoLabs {
		for _, name := range []string{l.name, l.name + "f"} {
			if _, err := demoLeftover(topo, name); err != nil {
				return err
			}
		}
	}
	dir := *outDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "sdnlab-demo-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The marker tells a later demo that labs whose files lie here are its own.
	if err := os.WriteFile(filepath.Join(dir, demoMarker), []byte("sdnlab demo output\n"), 0o644); err != nil {
		return err
	}
	// The examples side by side (demo refers to ../evpn), then lab
	// files renamed to the demo's lab names.
	type labRun struct {
		example, name string
		engines       bool
		sel           []scenarios.Selected
	}
	var runs []labRun
	for _, l := range demoLabs {
		runs = append(runs, labRun{example: l.example, name: l.name, engines: l.engines})
	}
	for _, p := range taken {
		for i, l := range demoLabs {
			if l.name == p.Lab {
				runs[i].sel = append(runs[i].sel, p.Sel)
			}
		}
	}
	for _, example := range demoExamples() {
		if err := examples.WriteDir(example, filepath.Join(dir, "examples", example)); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "sdnlab demo: %d scenario runs on the EVPN example (and the two-rack, VLAN, DHCP, IPv6-only and WireGuard ones); results in %s\n", len(taken), dir)
	// With --engine both the two engines run at the same time, each on labs of its own (the
	// FRR ones are named with an "f": demof, demoracksf), each engine's
	// labs one after the other. Every progress line says its engine.
	var (
		outcomes [2]*scenarios.Outcome
		parts    [2][]*scenarios.Outcome // one per lab, for the report's pictures and files
		byEngine [2][]*scenarios.Result
		errs     [2]error
		wg       sync.WaitGroup
		mu       sync.Mutex
	)
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &prefixWriter{mu: &mu, w: out, prefix: fmt.Sprintf("[%-5s] ", e)}
			for _, r := range runs {
				if len(r.sel) == 0 || ctx.Err() != nil {
					continue
				}
				if e == topology.EngineFRR && !r.engines {
					continue // no controller there: nothing runs FRR
				}
				name := r.name
				if e == topology.EngineFRR {
					name += "f"
				}
				labFile := filepath.Join(dir, name+".yaml")
				if err := scenarios.CopyLabFile(filepath.Join(dir, "examples", r.example, "lab.yaml"), labFile, name); err != nil {
					errs[i] = err
					return
				}
				// A demo lab left over from an interrupted run is removed first.
				leftover, err := demoLeftover(topo, name)
				if err != nil {
					errs[i] = err
					return
				}
				if leftover {
					if err := topology.Down(ctx, name, topo); err != nil {
						errs[i] = fmt.Errorf("remove the old %s lab: %w", name, err)
						return
					}
				}
				lr := &scenarios.LabRun{LabFile: labFile, Compile: sdn.Compile, Topo: topo, PcapDir: filepath.Join(dir, "pcap", e), Out: w,
					Keep: *keep, Strict: *strict, Engine: e}
				o, err := lr.Run(ctx, r.sel)
				if err != nil {
					errs[i] = fmt.Errorf("%s on engine %s: %w", name, e, err)
					return
				}
				part := *o
				parts[i] = append(parts[i], &part)
				if r.engines {
					byEngine[i] = append(byEngine[i], o.Results...)
				}
				if outcomes[i] == nil {
					outcomes[i] = o
				} else {
					outcomes[i].Results = append(outcomes[i].Results, o.Results...)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	var all *scenarios.Outcome
	for i, e := range engines {
		if outcomes[i] == nil {
			continue
		}
		if all == nil {
			c := *outcomes[i]
			all = &c
			all.Results = nil
		}
		all.Results = append(all.Results, demoTagged(outcomes[i].Results, e)...)
	}
	if all != nil && len(engines) == 2 {
		all.Results = append(all.Results, scenarios.Compare(byEngine[0], byEngine[1]))
		scenarios.WriteSideBySide(out, byEngine[0], byEngine[1])
	}
	if all == nil {
		return badInput("no scenario selected")
	}
	all.Props = shardProps(shard.Shard)
	run := scenarios.ToReport(demoLab, all.Started, all.Results, all.Properties())
	if err := writeReportDir(dir, run, append(parts[0], parts[1]...)...); err != nil {
		return err
	}
	err = finishRun(out, all, "", "")
	writeFamilies(out, all.Results)
	fmt.Fprintf(out, "demo: pcaps in %s, JUnit %s, HTML %s\n", filepath.Join(dir, "pcap"), filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.html"))
	fmt.Fprintf(out, "demo: total %v\n", time.Since(start).Round(time.Millisecond))
	return err
}

// prefixWriter prefixes every line with its engine; the two engines' runs
// share one output.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// demoPairs puts each selected scenario on the lab that takes it (the one
// naming it, else the EVPN demo lab) and on every "also" lab naming it.
func demoPairs(selected []scenarios.Selected) []scenarios.Pair {
	var pairs []scenarios.Pair
	for _, s := range selected {
		home := demoLab
		for _, l := range demoLabs {
			if !l.also && slices.Contains(l.scenarios, s.Scenario.Name()) {
				home = l.name
			}
		}
		pairs = append(pairs, scenarios.Pair{Lab: home, Sel: s})
		for _, l := range demoLabs {
			if l.also && slices.Contains(l.scenarios, s.Scenario.Name()) {
				pairs = append(pairs, scenarios.Pair{Lab: l.name, Sel: s})
			}
		}
	}
	return pairs
}

// demoTagged tags results with their engine and, for a lab that repeats
// scenarios of another (also), with the lab: the summary tells the runs apart.
func demoTagged(results []*scenarios.Result, engine string) []*scenarios.Result {
	out := scenarios.Tagged(results, engine)
	for _, r := range out {
		for _, l := range demoLabs {
			if l.also && r.Lab == l.name {
				r.Scenario = strings.TrimSuffix(r.Scenario, "]") + ", " + l.name + "]"
			}
		}
	}
	return out
}

// writeFamilies prints the figures that exist per IP family (their names
// carry the word v4 or v6) with IPv4 and IPv6 side by side, one row per
// scenario run and figure.
func writeFamilies(out io.Writer, results []*scenarios.Result) {
	type row struct {
		scenario, figure string
		v                [2]string
	}
	var rows []*row
	for _, r := range results {
		byName := map[string]*row{}
		for _, f := range r.Figures {
			words := strings.Fields(f.Name)
			fam := -1
			for i, w := range words {
				if core := strings.Trim(w, "()"); core == "v4" || core == "v6" {
					fam = int(core[1]-'0') / 6 // v4 -> 0, v6 -> 1
					words[i] = strings.Replace(w, core, "vN", 1)
				}
			}
			if fam < 0 {
				continue
			}
			key := strings.Join(words, " ")
			rw := byName[key]
			if rw == nil {
				rw = &row{scenario: r.Scenario, figure: key}
				byName[key] = rw
				rows = append(rows, rw)
			}
			rw.v[fam] = figureValue(f)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(out, "\nIPv4 and IPv6 (vN: the family):\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFIGURE\tIPv4\tIPv6")
	for _, rw := range rows {
		v4, v6 := rw.v[0], rw.v[1]
		if v4 == "" {
			v4 = "-"
		}
		if v6 == "" {
			v6 = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rw.scenario, rw.figure, v4, v6)
	}
	tw.Flush()
}

// figureValue is a figure without its name: the finding, or value and unit.
func figureValue(f scenarios.Figure) string {
	if f.Text != "" {
		return f.Text
	}
	return strings.TrimSpace(fmt.Sprintf("%g %s", f.Value, f.Unit))
}
