package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sdnlab/sdnlab/examples"
	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/topology"
)

// demoLab is the lab name the demo uses (its namespaces: sdnlab-demo-...).
const demoLab = "demo"

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "build the EVPN example lab, run every scenario, print a summary, tear it down",
		usage:   "[--out DIR] [--scenario NAME ...] [--keep]",
		run: func(ctx context.Context, args []string) error {
			return runDemo(ctx, args, os.Stdout)
		},
	}
}

func runDemo(ctx context.Context, args []string, out io.Writer) error {
	start := time.Now()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	outDir := fs.String("out", "", "directory for the lab copy, pcaps and reports (default: a new one under /tmp)")
	keep := fs.Bool("keep", false, "leave the demo lab running")
	var sel multiFlag
	fs.Var(&sel, "scenario", "run only these scenarios (repeatable)")
	if err := fs.Parse(args); err != nil {
		return badInput("%v", err)
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	selected, err := scenarios.Select(sel)
	if err != nil {
		return asBadInput(err)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root (sudo make demo)")
	}
	dir := *outDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "sdnlab-demo-"); err != nil {
			return err
		}
	}
	// The lab is named after its directory: <dir>/demo/lab.yaml is "demo".
	labDir := filepath.Join(dir, demoLab)
	if err := examples.WriteDir("evpn", labDir); err != nil {
		return err
	}
	fmt.Fprintf(out, "sdnlab demo: EVPN example lab, %d scenarios; results in %s\n", len(selected), dir)
	topo := topology.Options{}
	// A demo lab left over from an interrupted run is removed first.
	if running, err := topology.Labs(topo); err == nil && slices.Contains(running, demoLab) {
		if err := topology.Down(ctx, demoLab, topo); err != nil {
			return fmt.Errorf("remove the old demo lab: %w", err)
		}
	}
	lr := &scenarios.LabRun{
		LabFile: filepath.Join(labDir, "lab.yaml"),
		Topo:    topo,
		PcapDir: filepath.Join(dir, "pcap"),
		Out:     out,
		Keep:    *keep,
	}
	o, err := lr.Run(ctx, selected)
	if err != nil {
		return err
	}
	run := scenarios.ToReport(o.Lab.Name, o.Started, o.Results, o.Properties())
	for _, f := range []struct {
		name string
		fmt  reports.Format
	}{{"junit.xml", reports.JUnit}, {"report.json", reports.JSON}, {"report.md", reports.Markdown}, {"report.html", reports.HTML}} {
		if err := reports.WriteFile(filepath.Join(dir, f.name), f.fmt, run); err != nil {
			return err
		}
	}
	err = finishRun(out, o, "", "")
	fmt.Fprintf(out, "demo: pcaps in %s, JUnit %s, HTML %s\n", filepath.Join(dir, "pcap"), filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.html"))
	fmt.Fprintf(out, "demo: total %v\n", time.Since(start).Round(time.Millisecond))
	return err
}
