package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/examples"
	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

// The demo's labs: examples/demo (the EVPN example with SNAT, IPv6 and a
// second tenant zone), and the two-rack EVPN example for the scenarios that
// need an L3 boundary between nodes. Own names, so a user's
// labs are never touched.
const (
	demoLab      = "demo"
	demoRacksLab = "demoracks"
)

// demoLabs are the demo's labs: the example each one copies, its lab name,
// and the scenarios that run on it (nil: every scenario no other lab takes).
var demoLabs = []struct {
	example, name string
	scenarios     []string
}{
	{"demo", demoLab, nil},
	{"evpn-racks", demoRacksLab, rackScenarios},
	{"qinq", "demoqinq", []string{"vlan-isolation"}},
	{"dhcp", "demodhcp", []string{"port-isolation", "dhcp"}},
}

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

// rackScenarios run on the two-rack lab.
var rackScenarios = []string{"cross-rack-migration", "bgp-only-workaround"}

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "build the EVPN example lab, run every scenario, print a summary, tear it down",
		usage:   "[--out DIR] [--scenario NAME ...] [--strict] [--keep] [--shard K/N]",
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
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	selected, err := scenarios.Select(sel)
	if err != nil {
		return asBadInput(err)
	}
	// --shard (shard.go): the demo's pairs are its scenarios on the lab
	// each one runs on.
	var pairs []scenarios.Pair
	for _, s := range selected {
		lab := demoLab
		if slices.Contains(rackScenarios, s.Scenario.Name()) {
			lab = demoRacksLab
		}
		pairs = append(pairs, scenarios.Pair{Lab: lab, Sel: s})
	}
	if selected = selections(shard.take(out, pairs)); len(selected) == 0 {
		return emptyShard(out, shard.Shard, demoLab, len(pairs), "", "")
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root (sudo make demo)")
	}
	topo := topology.Options{}
	// A user's lab of the demo's names is never taken over; one left by an
	// interrupted demo is removed below.
	for _, l := range demoLabs {
		if _, err := demoLeftover(topo, l.name); err != nil {
			return err
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
	// The examples side by side (evpn-racks refers to ../evpn), then lab
	// files renamed to the demo's lab names.
	type labRun struct {
		example, name string
		sel           []scenarios.Selected
	}
	var runs []labRun
	for _, l := range demoLabs {
		runs = append(runs, labRun{example: l.example, name: l.name})
	}
	for _, sc := range selected {
		i := 0 // the EVPN demo lab takes what no other lab names
		for j, l := range demoLabs {
			if slices.Contains(l.scenarios, sc.Scenario.Name()) {
				i = j
			}
		}
		runs[i].sel = append(runs[i].sel, sc)
	}
	// demo and evpn-racks take host interface files from ../evpn.
	for _, example := range []string{"evpn", "demo", "evpn-racks", "qinq", "dhcp"} {
		if err := examples.WriteDir(example, filepath.Join(dir, "examples", example)); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "sdnlab demo: %d scenarios on the EVPN example (and the two-rack one); results in %s\n", len(selected), dir)
	var all *scenarios.Outcome
	var parts []*scenarios.Outcome
	for _, r := range runs {
		if len(r.sel) == 0 {
			continue
		}
		labFile := filepath.Join(dir, r.name+".yaml")
		if err := scenarios.CopyLabFile(filepath.Join(dir, "examples", r.example, "lab.yaml"), labFile, r.name); err != nil {
			return err
		}
		// A demo lab left over from an interrupted run is removed first.
		leftover, err := demoLeftover(topo, r.name)
		if err != nil {
			return err
		}
		if leftover {
			if err := topology.Down(ctx, r.name, topo); err != nil {
				return fmt.Errorf("remove the old %s lab: %w", r.name, err)
			}
		}
		lr := &scenarios.LabRun{LabFile: labFile, Compile: sdn.Compile, Topo: topo, PcapDir: filepath.Join(dir, "pcap"), Out: out, Keep: *keep, Strict: *strict}
		o, err := lr.Run(ctx, r.sel)
		if err != nil {
			return err
		}
		parts = append(parts, o)
		if all == nil {
			copied := *o
			all = &copied
		} else {
			all.Results = append(all.Results, o.Results...)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if all == nil {
		return badInput("no scenario selected")
	}
	all.Props = shardProps(shard.Shard)
	run := scenarios.ToReport(demoLab, all.Started, all.Results, all.Properties())
	if err := writeReportDir(dir, run, parts...); err != nil {
		return err
	}
	err = finishRun(out, all, "", "")
	fmt.Fprintf(out, "demo: pcaps in %s, JUnit %s, HTML %s\n", filepath.Join(dir, "pcap"), filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.html"))
	fmt.Fprintf(out, "demo: total %v\n", time.Since(start).Round(time.Millisecond))
	return err
}
