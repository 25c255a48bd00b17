package topology

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/topology/impair"
)

// Impairment is an impairment in force on one interface of a running lab.
type Impairment struct {
	Thing  string      `json:"thing"`
	NS     string      `json:"ns"`
	Ifname string      `json:"ifname"`
	Spec   impair.Spec `json:"spec"`
	// How: "netem" (a root qdisc) or "ebpf" (a daemon holding a TCX
	// program and, for delay, jitter and rate, the paced path).
	How string `json:"how"`
	// Via names what the impairment was asked for ("segment lan"), when
	// it is one port of several.
	Via string `json:"via,omitempty"`
}

// String is "node1:eth0 loss 2%, delay 5ms (ebpf)".
func (im Impairment) String() string {
	s := im.Thing + ":" + im.Ifname + " " + im.Spec.String() + " (" + im.How
	if im.Via != "" {
		s += ", " + im.Via
	}
	return s + ")"
}

func impairDir(stateDir, lab string) string {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	return filepath.Join(stateDir, lab, "impair")
}

func impairmentsFile(stateDir, lab string) string {
	return filepath.Join(impairDir(stateDir, lab), "impairments.json")
}

// ReadImpairments lists the impairments recorded for a running lab.
func ReadImpairments(stateDir, lab string) ([]Impairment, error) {
	b, err := os.ReadFile(impairmentsFile(stateDir, lab))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Impairment
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("lab %s: bad impairments file: %w", lab, err)
	}
	return out, nil
}

func writeImpairments(stateDir, lab string, l []Impairment) error {
	if err := os.MkdirAll(impairDir(stateDir, lab), 0o755); err != nil {
		return err
	}
	return writeJSON(impairmentsFile(stateDir, lab), l)
}

// IfaceRef is one interface of a lab (to impair or capture on).
type IfaceRef struct {
	Thing, NS, Ifname, Via string
}

// ResolveIfaces resolves what a user names (impair, capture): THING:IFACE (a node, router,
// external host, guest or switch "sw-SEG" and one of its interfaces),
// THING (its underlay interface: a node's or host's link, a guest's eth0),
// or a segment name (every port of its switch, so traffic crossing the
// segment in either direction is impaired once).
func (l *Lab) ResolveIfaces(what string) ([]IfaceRef, error) {
	thing, ifname, hasIf := strings.Cut(what, ":")
	if !hasIf {
		if seg := l.Segment(what); seg != nil {
			var out []IfaceRef
			for _, ln := range l.linksOn(seg.Name) {
				out = append(out, IfaceRef{Thing: "sw-" + seg.Name, NS: seg.NS, Ifname: ln.Port, Via: "segment " + seg.Name})
			}
			if len(out) == 0 {
				return nil, fmt.Errorf("segment %s has no ports", seg.Name)
			}
			return out, nil
		}
	}
	ns := l.NS(thing)
	if ns == "" {
		return nil, fmt.Errorf("lab %s has no node, router, host, guest, switch or segment %q", l.Name, thing)
	}
	if !hasIf {
		switch {
		case l.Node(thing) != nil:
			ifname = l.Node(thing).Link.Ifname
		case l.Host(thing) != nil:
			ifname = l.Host(thing).Link.Ifname
		case l.Guest(thing) != nil:
			ifname = l.Guest(thing).Ifname
		default:
			return nil, fmt.Errorf("%s has several interfaces: name one (%s:IFACE)", thing, thing)
		}
	}
	h, err := nsutil.Handle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if _, err := h.LinkByName(ifname); err != nil {
		return nil, fmt.Errorf("%s has no interface %q", thing, ifname)
	}
	return []IfaceRef{{Thing: thing, NS: ns, Ifname: ifname}}, nil
}

// linksOn lists the links of every node, router and host on a segment.
func (l *Lab) linksOn(seg string) []Link {
	var out []Link
	for _, n := range l.Nodes {
		if n.Link.Segment == seg {
			out = append(out, n.Link)
		}
	}
	for _, r := range l.Routers {
		for _, ln := range r.Links {
			if ln.Segment == seg {
				out = append(out, ln)
			}
		}
	}
	for _, h := range l.Hosts {
		if h.Link.Segment == seg {
			out = append(out, h.Link)
		}
	}
	return out
}

// impairProc is how the daemon holding one interface's impairment runs
// (bin and spec may be empty when only looking for it).
func impairProc(stateDir, lab string, t IfaceRef, bin, specJSON, ready string) proc.Spec {
	base := filepath.Join(impairDir(stateDir, lab), t.NS+"_"+t.Ifname)
	return proc.Spec{
		Name:    t.Thing + ":" + t.Ifname + ": impaird",
		NS:      t.NS,
		Argv:    []string{bin, "impaird", "--if", t.Ifname, "--spec", specJSON, "--ready", ready},
		LogFile: base + ".log",
		PIDFile: base + ".pid",
	}
}

// Impair puts spec on every target, replacing what was there. It tries
// netem first and falls back to the eBPF daemon (`sdnlab impaird`, started
// inside the target's namespace, like the agents).
func Impair(ctx context.Context, l *Lab, opts Options, targets []IfaceRef, spec impair.Spec) ([]Impairment, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	stateDir := opts.stateRoot()
	var done []Impairment
	for _, t := range targets {
		if err := clearTarget(l, stateDir, t); err != nil {
			return done, err
		}
		im := Impairment{Thing: t.Thing, NS: t.NS, Ifname: t.Ifname, Spec: spec, Via: t.Via}
		err := netemOn(t, spec)
		switch {
		case err == nil:
			im.How = "netem"
		case errors.Is(err, impair.ErrNoNetem):
			if err := startImpaird(ctx, l, opts, t, spec); err != nil {
				return done, err
			}
			im.How = "ebpf"
		default:
			return done, err
		}
		if err := recordImpairment(stateDir, l.Name, im); err != nil {
			return done, err
		}
		done = append(done, im)
	}
	return done, nil
}

func netemOn(t IfaceRef, spec impair.Spec) error {
	h, err := nsutil.Handle(t.NS)
	if err != nil {
		return err
	}
	defer h.Close()
	return impair.ApplyNetem(h, t.Ifname, spec)
}

func startImpaird(ctx context.Context, l *Lab, opts Options, t IfaceRef, spec impair.Spec) error {
	stateDir := opts.stateRoot()
	dir := impairDir(stateDir, l.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin, err := opts.agentBinary()
	if err != nil {
		return err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	ready := filepath.Join(dir, t.NS+"_"+t.Ifname+".ready")
	os.Remove(ready)
	ps := impairProc(stateDir, l.Name, t, bin, string(specJSON), ready)
	pid, err := proc.Start(ps)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return nil
		}
		if !proc.ProcessAlive(pid) || time.Now().After(deadline) || ctx.Err() != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			msg, _ := os.ReadFile(ps.LogFile)
			return fmt.Errorf("%s:%s: impairment did not start: %s", t.Thing, t.Ifname, lastLine(string(msg)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func recordImpairment(stateDir, lab string, im Impairment) error {
	l, err := ReadImpairments(stateDir, lab)
	if err != nil {
		return err
	}
	l = slices.DeleteFunc(l, func(o Impairment) bool { return o.NS == im.NS && o.Ifname == im.Ifname })
	return writeImpairments(stateDir, lab, append(l, im))
}

// clearTarget removes whatever impairs one interface (netem qdisc or
// daemon) and its record.
func clearTarget(l *Lab, stateDir string, t IfaceRef) error {
	if err := proc.Stop(context.Background(), impairProc(stateDir, l.Name, t, "", "", ""), 5*time.Second); err != nil {
		return err
	}
	if h, err := nsutil.Handle(t.NS); err == nil {
		_ = impair.ClearNetem(h, t.Ifname)
		h.Close()
	}
	rec, err := ReadImpairments(stateDir, l.Name)
	if err != nil {
		return err
	}
	n := len(rec)
	rec = slices.DeleteFunc(rec, func(o Impairment) bool { return o.NS == t.NS && o.Ifname == t.Ifname })
	if n == len(rec) {
		return nil
	}
	return writeImpairments(stateDir, l.Name, rec)
}

// ClearImpairments removes the impairments of the targets, or every
// impairment of the lab when targets is nil; it returns what it removed.
func ClearImpairments(l *Lab, opts Options, targets []IfaceRef) ([]Impairment, error) {
	stateDir := opts.stateRoot()
	rec, err := ReadImpairments(stateDir, l.Name)
	if err != nil {
		return nil, err
	}
	if targets == nil {
		for _, im := range rec {
			targets = append(targets, IfaceRef{Thing: im.Thing, NS: im.NS, Ifname: im.Ifname})
		}
	}
	var removed []Impairment
	for _, t := range targets {
		for _, im := range rec {
			if im.NS == t.NS && im.Ifname == t.Ifname {
				removed = append(removed, im)
			}
		}
		if err := clearTarget(l, stateDir, t); err != nil {
			return removed, err
		}
	}
	return removed, nil
}
