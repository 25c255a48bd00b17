package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sdnlab/sdnlab/internal/udiff"
	sdnplan "github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/render"
)

func diffCommand() *command {
	return &command{
		name:    "diff",
		summary: "show what applying a configuration changes on a node (Proxmox 9's SDN dry-run)",
		usage:   "--config NEW [--from OLD] --node NAME --host-interfaces FILE [--underlay-mac MAC] [--frr-local FILE] [--frr-version V]",
		run: func(ctx context.Context, args []string) error {
			return runDiff(ctx, args, os.Stdout, os.Stderr)
		},
	}
}

// runDiff renders the node's interfaces.d/sdn and frr.conf from the
// configuration NEW and from OLD (nothing: a node SDN never configured)
// and writes their unified diffs to out; notes about NEW go to notes.
func runDiff(_ context.Context, args []string, out, notes io.Writer) error {
	fs := newFlagSet("diff")
	dir := fs.String("config", "", "the SDN configuration to apply (the layout of /etc/pve/sdn)")
	from := fs.String("from", "", "the configuration running now; without it, a node without SDN")
	nf := addNodeFlags(fs, "the node to compare")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkFRRVersion(*nf.frrVersion); err != nil {
		return err
	}
	for _, req := range []struct{ v, flag string }{
		{*dir, "--config NEW"}, {*nf.node, "--node NAME"}, {*nf.hostIfaces, "--host-interfaces FILE"},
	} {
		if req.v == "" {
			return badInput("%s is required", req.flag)
		}
	}
	if err := nf.check(); err != nil {
		return err
	}
	newPlan, err := compileNode(*dir, *nf.node, *nf.hostIfaces, *nf.mac, *nf.frrLocal)
	if err != nil {
		return err
	}
	var oldPlan *sdnplan.NodePlan
	if *from != "" {
		if oldPlan, err = compileNode(*from, *nf.node, *nf.hostIfaces, *nf.mac, *nf.frrLocal); err != nil {
			return err
		}
	}
	for _, n := range newPlan.Notes {
		fmt.Fprintf(notes, "note: %s\n", n)
	}
	files := func(p *sdnplan.NodePlan) (ifaces, frr string) {
		if p == nil {
			return "", ""
		}
		return render.Interfaces(p), render.FRR(p, *nf.frrVersion)
	}
	oldIfaces, oldFRR := files(oldPlan)
	newIfaces, newFRR := files(newPlan)
	d := udiff.Unified("a/etc/network/interfaces.d/sdn", "b/etc/network/interfaces.d/sdn", oldIfaces, newIfaces) +
		udiff.Unified("a/etc/frr/frr.conf", "b/etc/frr/frr.conf", oldFRR, newFRR)
	if d == "" {
		fmt.Fprintf(out, "node %s: no changes\n", *nf.node)
		return nil
	}
	_, err = io.WriteString(out, d)
	return err
}
