package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sdnlab/sdnlab/internal/bgpguard"
	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/topology"
	"github.com/sdnlab/sdnlab/topology/underlaybgp"
)

// malformedText summarises the malformed messages of one BGP peer.
func malformedText(m bgpguard.Counters) string {
	if m.Total() == 0 {
		return "malformed 0"
	}
	return fmt.Sprintf("malformed %d (%d session resets, %d treated as withdraw, %d attributes and %d routes discarded; last: %s)",
		m.Total(), m.SessionResets, m.TreatAsWithdraw, m.AttributesDropped, m.RoutesDropped, m.LastReason)
}

func statusCommand() *command {
	return &command{
		name:    "status",
		summary: "show a lab's nodes, guests, agents and what was not realized",
		usage:   "[LAB.yaml|LAB] [--state DIR]",
		run: func(ctx context.Context, args []string) error {
			return runStatus(ctx, args, os.Stdout)
		},
	}
}

func runStatus(_ context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("status")
	state := stateFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := checkStateFlag(*state); err != nil {
		return err
	}
	var labs []string
	switch len(pos) {
	case 0:
		l, err := topology.Labs(topology.Options{StateDir: *state})
		if err != nil {
			return err
		}
		labs = l
		if len(labs) == 0 {
			fmt.Fprintln(out, "no labs")
		}
	case 1:
		n, err := labName(pos[0])
		if err != nil {
			return err
		}
		if !topology.LabExists(topology.Options{StateDir: *state}, n) {
			return badInput("lab %s is not up (sdnlab list shows the labs that are)", n)
		}
		labs = []string{n}
	default:
		return badInput("expected at most one lab")
	}
	for _, name := range labs {
		lab, err := topology.ReadState(*state, name)
		if err != nil {
			ns, _ := nsutil.List(topology.NSPrefix(name))
			fmt.Fprintf(out, "lab %s: no state file, %d namespaces left (sdnlab down %s removes them)\n", name, len(ns), name)
			continue
		}
		fmt.Fprintf(out, "lab %s (%s)\n  kernel: %s\n", lab.Name, lab.File, capsLine(lab.Caps))
		for _, n := range lab.Nodes {
			st := "up"
			if !nsutil.Exists(n.NS) {
				st = "MISSING"
			}
			_, agent := topology.EngineRunning(lab, lab.StateDir, n.Name)
			fmt.Fprintf(out, "  node   %-10s %-7s %-18s %s  ns %s\n", n.Name, st, n.Addr, agent, n.NS)
		}
		for _, r := range lab.Routers {
			kind := "router"
			if r.Upstream {
				kind = "upstrm"
			}
			if r.BGP == nil {
				fmt.Fprintf(out, "  %s %-10s %-7s ns %s\n", kind, r.Name, r.Routing, r.NS)
				continue
			}
			speaker := "speaker NOT RUNNING"
			if pid := topology.RouterPID(lab, lab.StateDir, r.Name); pid != 0 {
				speaker = fmt.Sprintf("speaker pid %d", pid)
			}
			fmt.Fprintf(out, "  %s %-10s bgp AS %d, %d neighbors, %s  ns %s\n", kind, r.Name, r.ASN, len(r.BGP.Neighbors), speaker, r.NS)
			if st, err := underlaybgp.ReadStatus(topology.RouterStatusFile(lab.StateDir, r.Name)); err == nil {
				for _, p := range st.Peers {
					fmt.Fprintf(out, "         neighbor %-24s %-12s %s\n", p.Addr, p.State, malformedText(p.Malformed))
				}
			}
			learned, err := topology.LearnedRoutes(r.NS)
			if err != nil {
				fmt.Fprintf(out, "         learned routes: %v\n", err)
				continue
			}
			for _, lr := range learned {
				fmt.Fprintf(out, "         bgp route %-20s via %s dev %s\n", lr.Dst, lr.Via, lr.Dev)
			}
			if len(learned) == 0 {
				fmt.Fprintf(out, "         no BGP routes learned\n")
			}
		}
		for _, h := range lab.Hosts {
			fmt.Fprintf(out, "  extern %-10s %v ns %s\n", h.Name, h.Link.Addrs, h.NS)
		}
		for _, g := range lab.Guests {
			st := "up"
			switch {
			case g.IsVM():
				st = "vm " + topology.VMState(g)
			case !nsutil.Exists(g.NS):
				st = "MISSING"
			}
			addrs := fmt.Sprint(g.Addrs)
			if g.DHCP {
				addrs = fmt.Sprintf("dhcp [%s]", g.DHCPAddr) // the IPAM mapping the server hands out
			}
			fmt.Fprintf(out, "  guest  %-10s %-7s on %-8s vnet %-10s %s %s tap %s\n", g.Name, st, g.Node, g.VNet, g.MAC, addrs, g.Tap)
		}
		for _, d := range topology.DHCPServers(lab, lab.StateDir) {
			st := fmt.Sprintf("dnsmasq pid %d", d.PID)
			if d.PID == 0 {
				st = "dnsmasq NOT RUNNING"
			}
			fmt.Fprintf(out, "  dhcp   %-10s zone %-8s %s, leases %s\n", d.Node, d.Zone, st, d.Leases)
		}
		for _, m := range lab.Models {
			fmt.Fprintf(out, "  vlan model: %s\n", m)
		}
		if faults, err := topology.ReadLinkFaults(lab, topology.Options{StateDir: *state}); err != nil {
			fmt.Fprintf(out, "  links: %v\n", err)
		} else {
			for _, f := range faults {
				where := "segment " + f.Segment
				if f.P2P != "" {
					where = "point-to-point " + f.P2P
				}
				fmt.Fprintf(out, "  link   %s %s down (%s; sdnlab link %s %s %s up)\n", f.A, f.B, where, lab.Name, f.A, f.B)
			}
		}
		if imps, err := topology.ReadImpairments(*state, lab.Name); err != nil {
			fmt.Fprintf(out, "  impairments: %v\n", err)
		} else {
			for _, im := range imps {
				fmt.Fprintf(out, "  impair %s\n", im)
			}
		}
		for _, w := range lab.Warnings {
			fmt.Fprintf(out, "  warning: %s\n", w)
		}
		for _, s := range lab.Skipped {
			fmt.Fprintf(out, "  not realized: %s\n", s)
		}
	}
	return nil
}

// capsLine is the kernel line of status. Up writes lab.json before it
// detects the kernel's features, so all-false caps mean an up that was
// interrupted (or is still running), not a kernel without bridges.
func capsLine(c nsutil.Caps) string {
	if c == (nsutil.Caps{}) {
		return "(capabilities not yet detected: up was interrupted or is still running; sdnlab up again or sdnlab down)"
	}
	return c.String()
}
