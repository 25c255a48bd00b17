package main

import (
	"context"
	"fmt"
	"io"
	"net"
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
	node := fs.String("node", "", "the node to compare")
	hostIfaces := fs.String("host-interfaces", "", "the node's /etc/network/interfaces")
	mac := fs.String("underlay-mac", "", "MAC of the node's underlay interface")
	frrLocal := fs.String("frr-local", "", "the node's /etc/frr/frr.conf.local")
	frrVersion := frrVersionFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkFRRVersion(*frrVersion); err != nil {
		return err
	}
	for _, req := range []struct{ v, flag string }{
		{*dir, "--config NEW"}, {*node, "--node NAME"}, {*hostIfaces, "--host-interfaces FILE"},
	} {
		if req.v == "" {
			return badInput("%s is required", req.flag)
		}
	}
	if !nodeNameRE.MatchString(*node) || len(*node) > 63 {
		return badInput("--node: %q is not a valid node name", *node)
	}
	if *mac != "" {
		if hw, err := net.ParseMAC(*mac); err != nil || len(hw) != 6 {
			return badInput("--underlay-mac: %q is not a MAC address", *mac)
		}
	}
	newPlan, err := compileNode(*dir, *node, *hostIfaces, *mac, *frrLocal)
	if err != nil {
		return err
	}
	var oldPlan *sdnplan.NodePlan
	if *from != "" {
		if oldPlan, err = compileNode(*from, *node, *hostIfaces, *mac, *frrLocal); err != nil {
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
		return render.Interfaces(p), render.FRR(p, *frrVersion)
	}
	oldIfaces, oldFRR := files(oldPlan)
	newIfaces, newFRR := files(newPlan)
	d := udiff.Unified("a/etc/network/interfaces.d/sdn", "b/etc/network/interfaces.d/sdn", oldIfaces, newIfaces) +
		udiff.Unified("a/etc/frr/frr.conf", "b/etc/frr/frr.conf", oldFRR, newFRR)
	if d == "" {
		fmt.Fprintf(out, "node %s: no changes\n", *node)
		return nil
	}
	_, err = io.WriteString(out, d)
	return err
}
