package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/topology"
)

func showCommand() *command {
	return &command{
		name:    "show",
		summary: "show a node's EVPN routes, BGP sessions and the kernel tables its agent programmed",
		usage:   "LAB NODE evpn|fdb|neigh|routes|bgp|dup [--json] [--state DIR]\n       sdnlab show LAB NODE dup --clear [--vni N] [--mac MAC]   (FRR's clear evpn dup-addr)",
		run: func(ctx context.Context, args []string) error {
			return runShow(ctx, args, os.Stdout)
		},
	}
}

var showWhat = []string{"evpn", "fdb", "neigh", "routes", "bgp", "dup"}

func runShow(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("show")
	asJSON := fs.Bool("json", false, "print JSON")
	clearDup := fs.Bool("clear", false, "dup: clear the duplicate flags (all, or --vni/--mac)")
	vni := fs.Uint("vni", 0, "dup --clear: only this VNI")
	mac := fs.String("mac", "", "dup --clear: only this MAC")
	state := stateFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return badInput("expected LAB NODE and one of %s", strings.Join(showWhat, "|"))
	}
	what := pos[2]
	if !slices.Contains(showWhat, what) {
		return badInput("unknown table %q: want one of %s", what, strings.Join(showWhat, "|"))
	}
	if (*clearDup || *vni != 0 || *mac != "") && what != "dup" {
		return badInput("--clear, --vni and --mac go with dup only")
	}
	if *mac != "" {
		if _, err := net.ParseMAC(*mac); err != nil {
			return badInput("--mac %q: %v", *mac, err)
		}
	}
	if *vni > 0xffffff {
		return badInput("--vni %d: out of range", *vni)
	}
	lab, err := labName(pos[0])
	if err != nil {
		return err
	}
	l, err := checkShowTarget(*state, lab, pos[1])
	if err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req := evpn.Request{Show: evpn.ShowAll}
	if *clearDup {
		req = evpn.Request{Clear: "dup", VNI: uint32(*vni), MAC: *mac}
	}
	s, err := topology.Show(qctx, l, filepath.Join(*state, lab), pos[1], req)
	if err != nil {
		return fmt.Errorf("node %s of lab %s: is its engine running? %w", pos[1], lab, err)
	}
	return printShow(out, s, what, *asJSON)
}

// checkShowTarget turns "no socket" into what the user needs to hear: the
// lab is not up, it has no such node, or the node runs no engine.
func checkShowTarget(stateRoot, lab, node string) (*topology.Lab, error) {
	l, err := topology.ReadState(stateRoot, lab)
	if err != nil {
		if !topology.LabExists(topology.Options{StateDir: stateRoot}, lab) {
			return nil, badInput("lab %s is not up (sdnlab list shows the labs that are)", lab)
		}
		return nil, err
	}
	if l.Node(node) == nil && !l.IsReflector(node) {
		var names []string
		for _, n := range l.Nodes {
			names = append(names, n.Name)
		}
		return nil, badInput("lab %s has no node %s (nodes: %s)", lab, node, strings.Join(names, ", "))
	}
	if l.IsReflector(node) {
		return l, nil
	}
	if ok, what := topology.EngineRunning(l, filepath.Join(stateRoot, lab), node); !ok {
		return nil, badInput("node %s of lab %s runs no EVPN engine (%s): no controller applies to it, or its engine is down (sdnlab status %s)", node, lab, what, lab)
	}
	return l, nil
}

func kernelOf(s *evpn.Snapshot, kinds ...string) []evpn.KernelEntry {
	out := []evpn.KernelEntry{}
	for _, e := range s.Kernel {
		if slices.Contains(kinds, e.Kind) {
			out = append(out, e)
		}
	}
	return out
}

func printShow(out io.Writer, s *evpn.Snapshot, what string, asJSON bool) error {
	if asJSON {
		var v any
		switch what {
		case "evpn":
			v = map[string]any{"node": s.Node, "router_id": s.RouterID, "vtep": s.VTEP, "routes": s.Routes, "local": s.Local}
		case "bgp":
			v = map[string]any{"node": s.Node, "router_id": s.RouterID, "asn": s.ASN, "uptime": s.Uptime, "synced": s.Synced, "peers": s.Peers,
				"bfd_dropped": s.BFDDropped, "bfd": s.BFD, "goroutines": s.Goroutines, "runtime": s.Runtime}
		case "fdb":
			v = kernelOf(s, "flood", "fdb")
		case "neigh":
			v = kernelOf(s, "neigh")
		case "routes":
			v = kernelOf(s, "route")
		case "dup":
			v = map[string]any{"node": s.Node, "cleared": s.Cleared, "duplicates": s.Duplicates}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch what {
	case "evpn":
		fmt.Fprintf(tw, "BGP table of %s, router-id %s, local VTEP %s\n", s.Node, s.RouterID, s.VTEP)
		fmt.Fprintln(tw, "\tTYPE\tRD\tMAC\tIP/PREFIX\tVNI\tL3VNI\tRT\tSEQ\tNEXT HOP\tFROM\tRMAC")
		for _, r := range s.Routes {
			best := "  "
			if r.Best {
				best = "*>"
			}
			ip := ""
			switch {
			case r.Prefix.IsValid():
				ip = r.Prefix.String()
			case r.IP.IsValid():
				ip = r.IP.String()
			}
			from := r.Peer
			if from == "" {
				from = "local"
			}
			seq := fmt.Sprint(r.Seq)
			if r.Sticky {
				seq += " sticky"
			}
			l3 := ""
			if r.L3VNI != 0 {
				l3 = fmt.Sprint(r.L3VNI)
			}
			typ := fmt.Sprint(r.Type)
			if r.Type == evpn.TypeUnicast {
				typ = "ip" // plain unicast, not EVPN
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", best, typ, dash(r.RD), dash(r.MAC), dash(ip), r.VNI,
				dash(l3), strings.Join(r.RTs, ","), seq, r.NextHop, from, dash(r.RouterMAC))
		}
		if len(s.Local) > 0 {
			fmt.Fprintln(tw, "\nLocal MACs:")
			fmt.Fprintln(tw, "VNI\tMAC\tIPS\tSEQ\tOWNER\tMOVES\tDUPLICATE")
			for _, l := range s.Local {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%v\n", l.VNI, l.MAC, dash(strings.Join(l.IPs, ",")), l.Seq, l.Owner, l.Moves, l.Dup)
			}
		}
	case "bgp":
		fmt.Fprintf(tw, "BGP router-id %s, local AS %d, engine up %s, initial sync done: %v\n", s.RouterID, s.ASN, s.Uptime, s.Synced)
		fmt.Fprintln(tw, "NEIGHBOR\tAS\tSTATE\tUP/DOWN\tPFXRCD\tBFD\tROUTER-ID\tMALFORMED")
		for _, p := range s.Peers {
			updown := "-"
			if !p.Since.IsZero() {
				updown = time.Since(p.Since).Round(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%d\n", p.Addr, p.RemoteAS, p.State, updown, p.Received, dash(p.BFD), dash(p.RouterID),
				p.Malformed.Total())
		}
		for _, p := range s.Peers {
			if m := p.Malformed; m.Total() > 0 {
				fmt.Fprintf(tw, "\nmalformed messages from %s: %d session resets, %d treated as withdraw, %d attributes and %d routes discarded; last (%s): %s\n",
					p.Addr, m.SessionResets, m.TreatAsWithdraw, m.AttributesDropped, m.RoutesDropped, m.LastAt.Format(time.TimeOnly), m.LastReason)
			}
		}
		if len(s.BFDDropped) > 0 {
			var parts []string
			for _, why := range slices.Sorted(maps.Keys(s.BFDDropped)) {
				parts = append(parts, fmt.Sprintf("%s %d", why, s.BFDDropped[why]))
			}
			fmt.Fprintf(tw, "\nBFD packets dropped: %s\n", strings.Join(parts, ", "))
		}
	case "fdb":
		fmt.Fprintln(tw, "NETNS\tDEV\tMAC\tDST\tKIND\tSTALE")
		for _, e := range kernelOf(s, "flood", "fdb") {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", dash(e.Netns), e.Dev, e.MAC, e.VTEP, e.Kind, e.Stale)
		}
	case "neigh":
		fmt.Fprintln(tw, "NETNS\tDEV\tIP\tMAC\tSTALE")
		for _, e := range kernelOf(s, "neigh") {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", dash(e.Netns), e.Dev, e.IP, e.MAC, e.Stale)
		}
	case "dup":
		if s.Cleared > 0 {
			fmt.Fprintf(tw, "cleared %d duplicate flag(s)\n", s.Cleared)
		}
		fmt.Fprintf(tw, "Duplicate MACs on %s: %d\n", s.Node, len(s.Duplicates))
		if len(s.Duplicates) > 0 {
			fmt.Fprintln(tw, "VNI\tMAC\tOWNER\tSEQ\tMOVES\tSINCE\tACTION")
		}
		for _, d := range s.Duplicates {
			action := "warning only (still advertised)"
			if d.Frozen {
				action = "frozen until " + d.FreezeTo.UTC().Format(time.TimeOnly)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", d.VNI, d.MAC, dash(d.Owner), d.Seq, d.Moves,
				d.Since.UTC().Format(time.TimeOnly), action)
		}
	case "routes":
		fmt.Fprintln(tw, "NETNS\tPREFIX\tDEV\tVIA\tSTALE")
		for _, e := range kernelOf(s, "route") {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", dash(e.Netns), e.Prefix, e.Dev, strings.Join(e.NextHop, ","), e.Stale)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
