package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

func testCommand() *command {
	return &command{
		name:    "test",
		summary: "bring a lab up if needed, run scenarios, print and write the results",
		usage:   "LAB.yaml [--scenario NAME[:k=v,...]|FILE.yaml ...] [--engine agent|frr|both] [--frr 8|10] [--junit FILE] [--json FILE] [--pcap-dir DIR] [--report DIR] [--impair TARGET:loss=2%,delay=5ms ...] [--strict] [--keep] [--shard K/N] [--list]",
		run: func(ctx context.Context, args []string) error {
			return runTest(ctx, args, os.Stdout)
		},
	}
}

// exitInterrupted is the exit code of a run cut short by Ctrl-C (or
// SIGTERM): 128 + SIGINT, as a shell reports it.
const exitInterrupted = 130

// interrupted reports a run cut short by cancellation: its verdicts are
// not meaningful.
type interrupted struct{ msg string }

func (e *interrupted) Error() string { return e.msg }

// ExitCode gives Ctrl-C the shell's 128+SIGINT, so a script can tell an
// interrupted run from a failed one.
func (e *interrupted) ExitCode() int { return exitInterrupted }

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// splitArgs moves a leading positional argument after the flags, so both
// "test LAB.yaml --junit x" and "test --junit x LAB.yaml" work.
func splitArgs(args []string) []string {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return append(append([]string{}, args[1:]...), args[0])
	}
	return args
}

func runTest(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("test")
	var sel multiFlag
	fs.Var(&sel, "scenario", "a built-in scenario (NAME or NAME:key=value,...) or a scenario file; repeatable; default all")
	junit := fs.String("junit", "", "write JUnit XML here")
	jsonOut := fs.String("json", "", "write the JSON report here")
	pcapDir := fs.String("pcap-dir", "", "keep packet captures under this directory")
	reportDir := fs.String("report", "", "write a self-contained report directory here: report.html (timelines, topology), junit.xml, report.json, report.md, the pcaps, the lab and each node's rendered configuration")
	var impairs multiFlag
	fs.Var(&impairs, "impair", "run every scenario under an impairment, TARGET:loss=2%,delay=5ms,jitter=1ms,rate=10mbit (TARGET: a segment, THING or THING:IFACE); repeatable")
	keep := fs.Bool("keep", false, "leave a lab this run brought up running")
	stateDir := fs.String("state", "", "state directory (default /run/sdnlab)")
	list := fs.Bool("list", false, "list the built-in scenarios and their parameters")
	engine := fs.String("engine", "", "run the nodes on this engine: agent, frr, or both (each scenario on each, compared); default: as the lab file says")
	strict := fs.Bool("strict", false, "warnings (findings Proxmox deploys by default) fail the run")
	frrRel := fs.String("frr", "", "the FRR release of FRR nodes: 8 (Debian 12's 8.4) or 10 (Debian 13's 10.3, sudo make frr10); default: as the lab file says")
	shard := addShardFlag(fs)
	if err := fs.Parse(splitArgs(args)); err != nil {
		return badInput("%v", err)
	}
	if *list {
		printScenarios(out)
		return nil
	}
	if fs.NArg() != 1 {
		return badInput("exactly one lab file is needed, got %d arguments", fs.NArg())
	}
	selected, err := scenarios.Select(sel)
	if err != nil {
		return asBadInput(err)
	}
	// Node and guest names given as parameters are checked against the
	// lab file now: a typo must not cost a bring-up.
	lab, err := topology.Load(fs.Arg(0), sdn.Compile)
	if err != nil {
		return err
	}
	if err := scenarios.CheckNames(lab, selected); err != nil {
		return err
	}
	if err := lab.SetFRR(*frrRel); err != nil {
		return badInput("--frr: %v", err)
	}
	engines, err := scenarios.Engines(*engine)
	if err != nil {
		return badInput("%v", err)
	}
	if len(engines) > 1 && *keep {
		return badInput("--keep does not go with --engine both (the lab is brought up once per engine)")
	}
	var imps []scenarios.Impairment
	for _, v := range impairs {
		im, err := scenarios.ParseImpairment(v)
		if err != nil {
			return badInput("--impair: %v", err)
		}
		imps = append(imps, im)
	}
	if err := checkImpairTargets(lab, imps); err != nil {
		return err
	}
	if *reportDir != "" && *pcapDir == "" {
		// Inside the report directory, so its links work once zipped.
		*pcapDir = filepath.Join(*reportDir, "pcap")
	}
	// --shard: this job's share of the pairs (shard.go).
	all := len(selected)
	if selected = selections(shard.take(out, onLab(lab.Name, selected))); len(selected) == 0 {
		return emptyShard(out, shard.Shard, lab.Name, all, *junit, *jsonOut)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("labs are network namespaces: run as root")
	}
	topo := topology.Options{StateDir: *stateDir}
	if len(engines) > 1 {
		// Each engine gets a lab of its own, brought up and removed.
		if topology.LabExists(topo, lab.Name) {
			return badInput("--engine both brings lab %s up once per engine: bring the running one down first (sdnlab down %s)", lab.Name, lab.Name)
		}
		return runBoth(ctx, out, fs.Arg(0), topo, *pcapDir, *strict, selected, *junit, *jsonOut, imps, *reportDir, *frrRel)
	}
	lr := &scenarios.LabRun{
		Compile: sdn.Compile,
		LabFile: fs.Arg(0),
		Topo:    topo,
		PcapDir: *pcapDir,
		Out:     out,
		Keep:    *keep,
		Engine:  engines[0],
		FRR:     *frrRel,
		Strict:  *strict,
		Impair:  imps,
	}
	o, err := lr.Run(ctx, selected)
	if errors.Is(err, scenarios.ErrInterrupted) && ctx.Err() != nil {
		// Interrupted during bring-up (the partial lab is removed): the
		// reports still say what did not run, and why.
		fmt.Fprintf(out, "%v\n", err)
		o = &scenarios.Outcome{Lab: lab, Started: time.Now(), ReadyErr: err,
			Results: (&scenarios.Runner{Out: out}).Run(ctx, selected)}
		err = nil
	}
	if err != nil {
		return err
	}
	o.Props = shardProps(shard.Shard)
	if *reportDir != "" {
		if err := writeReportDir(*reportDir, scenarios.ToReport(o.Lab.Name, o.Started, o.Results, o.Properties()), o); err != nil {
			return err
		}
		defer fmt.Fprintf(out, "report: %s\n", filepath.Join(*reportDir, "report.html"))
	}
	return finishRun(out, o, *junit, *jsonOut)
}

// checkImpairTargets makes a --impair target the lab file does not name
// bad input now: the run resolves targets (ResolveIfaces) only once the
// lab is up, as their interfaces exist only then, so a typo cost a
// bring-up. The same names as ResolveIfaces: a segment, or a THING.
func checkImpairTargets(lab *topology.Lab, imps []scenarios.Impairment) error {
	for _, im := range imps {
		thing, _, _ := strings.Cut(im.Target, ":")
		if lab.Segment(im.Target) == nil && lab.NS(thing) == "" {
			return badInput("--impair %s: lab %s has no node, router, host, guest, switch or segment %q", im.Target, lab.Name, thing)
		}
	}
	return nil
}

// writeReportDir writes a report directory that can be zipped and opened
// elsewhere: the labs' pictures and files (parts: one outcome per lab) and
// every report format, evidence linked relative to report.html.
func writeReportDir(dir string, run *reports.Run, parts ...*scenarios.Outcome) error {
	for _, o := range parts {
		if o.Topology != nil {
			run.Topologies = append(run.Topologies, o.Topology)
		}
		files, err := scenarios.WriteRunFiles(dir, o)
		for _, f := range files {
			// The same lab on two engines writes the same files.
			if !slices.ContainsFunc(run.Files, func(g reports.File) bool { return g.Path == f.Path }) {
				run.Files = append(run.Files, f)
			}
		}
		if err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		fmt  reports.Format
	}{{"junit.xml", reports.JUnit}, {"report.json", reports.JSON}, {"report.md", reports.Markdown}, {"report.html", reports.HTML}} {
		if err := reports.WriteFile(filepath.Join(dir, f.name), f.fmt, run); err != nil {
			return err
		}
	}
	return nil
}

// noCheckRan ends a run in which every scenario skipped: nothing was
// checked, which is not a pass (exit 2).
type noCheckRan struct{ msg string }

func (e *noCheckRan) Error() string { return e.msg }
func (e *noCheckRan) ExitCode() int { return exitBadInput }

// finishRun prints the summary table, writes the report files and turns a
// failed scenario into exit code 1, a run where no check ran into 2.
func finishRun(out io.Writer, o *scenarios.Outcome, junit, jsonOut string) error {
	run := scenarios.ToReport(o.Lab.Name, o.Started, o.Results, o.Properties())
	fmt.Fprintln(out)
	if err := reports.WriteTerminal(out, run, reports.TerminalOptions{Color: isTerminal(out)}); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		fmt  reports.Format
	}{{junit, reports.JUnit}, {jsonOut, reports.JSON}} {
		if f.path == "" {
			continue
		}
		if err := reports.WriteFile(f.path, f.fmt, run); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		fmt.Fprintf(out, "wrote %s\n", f.path)
	}
	if o.Lab != nil {
		// The overlay wait is reported on its own, not in the scenarios' time.
		ready := "overlay ready in " + o.Ready.Round(time.Millisecond).String()
		if o.ReadyErr != nil { // "overlay not ready after 20s: ..." or "interrupted ..."
			ready = o.ReadyErr.Error()
		}
		fmt.Fprintf(out, "lab %s: up in %v, %s; scenarios took %v; total %v\n", o.Lab.Name,
			o.UpTime.Round(time.Millisecond), ready, o.ScenarioTime().Round(time.Millisecond),
			time.Since(o.Started).Round(time.Millisecond))
	}
	if o.Interrupted() {
		ran := 0
		for _, r := range o.Results {
			if !r.Interrupted {
				ran++
			}
		}
		msg := fmt.Sprintf("interrupted: %d of %d scenarios completed; the others did not run or were cut short (no verdict)", ran, len(o.Results))
		fmt.Fprintln(out, msg)
		return &interrupted{msg}
	}
	if scenarios.NothingRan(o.Results) {
		// The table above says why each scenario skipped.
		msg := fmt.Sprintf("%s (%d scenarios): the lab offers none of what they need", scenarios.NoCheckRan, len(o.Results))
		fmt.Fprintln(out, msg)
		return &noCheckRan{msg}
	}
	if scenarios.AnyFailed(o.Results) {
		c := run.Counts()
		return &checkFailed{fmt.Sprintf("%d failed, %d errors of %d scenarios", c.Failed, c.Errors, c.Total)}
	}
	return nil
}

func printScenarios(out io.Writer) {
	for _, s := range scenarios.All() {
		fmt.Fprintf(out, "%s\n    %s\n", s.Name(), s.Description())
		for _, p := range s.Params() {
			fmt.Fprintf(out, "    %s=%q  %s\n", p.Name, p.Default, p.Help)
		}
	}
}

// asBadInput marks scenario selection errors as bad input (exit 2).
func asBadInput(err error) error {
	var be interface{ BadInput() bool }
	if errors.As(err, &be) {
		return err
	}
	return badInput("%v", err)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runBoth runs the scenarios on the lab with agent nodes, then with FRR
// nodes, and adds the "engine divergence" result comparing them; the
// figures are printed side by side.
func runBoth(ctx context.Context, out io.Writer, labFile string, topo topology.Options, pcapDir string, strict bool,
	selected []scenarios.Selected, junit, jsonOut string, imps []scenarios.Impairment, reportDir, frrRel string) error {
	var all *scenarios.Outcome
	var parts []*scenarios.Outcome
	var byEngine [2][]*scenarios.Result
	for i, e := range []string{topology.EngineAgent, topology.EngineFRR} {
		fmt.Fprintf(out, "=== engine %s\n", e)
		pd := pcapDir
		if pd != "" {
			pd = filepath.Join(pd, e)
		}
		lr := &scenarios.LabRun{LabFile: labFile, Compile: sdn.Compile, Topo: topo, PcapDir: pd, Out: out, Strict: strict, Engine: e, Impair: imps, FRR: frrRel}
		o, err := lr.Run(ctx, selected)
		if err != nil {
			return fmt.Errorf("engine %s: %w", e, err)
		}
		part := *o
		parts = append(parts, &part)
		byEngine[i] = o.Results
		tagged := scenarios.Tagged(o.Results, e)
		if all == nil {
			all = o
			all.Results = nil
		}
		all.Results = append(all.Results, tagged...)
		if ctx.Err() != nil {
			break
		}
	}
	all.Results = append(all.Results, scenarios.Compare(byEngine[0], byEngine[1]))
	scenarios.WriteSideBySide(out, byEngine[0], byEngine[1])
	if reportDir != "" {
		if err := writeReportDir(reportDir, scenarios.ToReport(all.Lab.Name, all.Started, all.Results, all.Properties()), parts...); err != nil {
			return err
		}
		defer fmt.Fprintf(out, "report: %s\n", filepath.Join(reportDir, "report.html"))
	}
	return finishRun(out, all, junit, jsonOut)
}
