package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/config"
	sdnplan "github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
	"github.com/sdnlab/sdnlab/sdn/render"
)

func renderCommand() *command {
	return &command{
		name:    "render",
		summary: "write a node's interfaces.d/sdn and frr.conf as Proxmox does",
		usage:   "--config DIR --node NAME --host-interfaces FILE [--underlay-mac MAC] [--frr-local FILE] [--frr-version V] --out DIR",
		run: func(ctx context.Context, args []string) error {
			return runRender(ctx, args, os.Stderr)
		},
	}
}

// nodeNameRE is Proxmox's node name syntax (a DNS label).
var nodeNameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$`)

// nodeFlags are the flags that say which node and host a plan is for,
// shared by render and diff.
type nodeFlags struct {
	node, hostIfaces, mac, frrLocal, frrVersion *string
}

func addNodeFlags(fs *flag.FlagSet, nodeHelp string) nodeFlags {
	return nodeFlags{
		node:       fs.String("node", "", nodeHelp),
		hostIfaces: fs.String("host-interfaces", "", "the node's /etc/network/interfaces"),
		mac:        fs.String("underlay-mac", "", "MAC of the node's underlay interface"),
		frrLocal:   fs.String("frr-local", "", "the node's /etc/frr/frr.conf.local"),
		frrVersion: frrVersionFlag(fs),
	}
}

// check validates the node name and MAC; the caller has checked the
// FRR version first and that the required flags are present.
func (f nodeFlags) check() error {
	if !nodeNameRE.MatchString(*f.node) || len(*f.node) > 63 {
		return badInput("--node: %q is not a valid node name", *f.node)
	}
	if *f.mac != "" {
		if hw, err := net.ParseMAC(*f.mac); err != nil || len(hw) != 6 {
			return badInput("--underlay-mac: %q is not a MAC address", *f.mac)
		}
	}
	return nil
}

// runRender compiles the node's plan and writes OUT/sdn, OUT/frr.conf
// when a controller or fabric applies, and OUT/wireguard/<iface>.conf for
// the node's WireGuard interfaces. Notes about the plan go to notes.
func runRender(_ context.Context, args []string, notes io.Writer) error {
	fs := newFlagSet("render")
	dir := fs.String("config", "", "SDN config directory (the layout of /etc/pve/sdn)")
	nf := addNodeFlags(fs, "the node to render for")
	out := fs.String("out", "", "output directory")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkFRRVersion(*nf.frrVersion); err != nil {
		return err
	}
	for _, req := range []struct{ v, flag string }{
		{*dir, "--config DIR"}, {*nf.node, "--node NAME"},
		{*nf.hostIfaces, "--host-interfaces FILE"}, {*out, "--out DIR"},
	} {
		if req.v == "" {
			return badInput("%s is required", req.flag)
		}
	}
	if err := nf.check(); err != nil {
		return err
	}

	plan, err := compileNode(*dir, *nf.node, *nf.hostIfaces, *nf.mac, *nf.frrLocal)
	if err != nil {
		return err
	}
	for _, n := range plan.Notes {
		fmt.Fprintf(notes, "note: %s\n", n)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := os.WriteFile(filepath.Join(*out, "sdn"), []byte(render.Interfaces(plan)), 0o644); err != nil {
		return err
	}
	if len(plan.WireGuard) > 0 {
		// The private keys go into these files, as on a Proxmox node: owner only.
		if err := os.MkdirAll(filepath.Join(*out, "wireguard"), 0o700); err != nil {
			return err
		}
		for _, wc := range plan.WireGuard {
			if err := os.WriteFile(filepath.Join(*out, "wireguard", wc.Name+".conf"), []byte(render.WireGuard(wc)), 0o600); err != nil {
				return err
			}
		}
	}
	// DHCP (dnsmasq) files of zones with "dhcp", under OUT as under /etc:
	// OUT/dnsmasq.d/<zone>/*.conf, OUT/default/dnsmasq.<zone>, ...
	files := render.DnsmasqFiles(plan)
	for _, p := range render.DnsmasqPaths(files) {
		dst := filepath.Join(*out, strings.TrimPrefix(p, "/etc/"))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, []byte(files[p]), 0o644); err != nil {
			return err
		}
	}
	frrPath := filepath.Join(*out, "frr.conf")
	if plan.FRR != nil {
		return os.WriteFile(frrPath, []byte(render.FRR(plan, *nf.frrVersion)), 0o644)
	}
	// A stale frr.conf from an earlier render would claim a controller.
	if err := os.Remove(frrPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// compileNode loads the configuration in dir and compiles node's plan with
// the host facts render and diff take as flags.
func compileNode(dir, node, hostIfaces, mac, frrLocal string) (*sdnplan.NodePlan, error) {
	cfg, err := config.Load(dir, registry.Config())
	if err != nil {
		return nil, err // a config.ErrorList: file:line: field: problem (exit 2)
	}
	hi, err := config.ParseInterfaces(hostIfaces)
	if err != nil {
		return nil, err
	}
	facts := sdnplan.NodeFacts{Node: node, Interfaces: hi, UnderlayMAC: mac}
	if frrLocal != "" {
		b, err := config.ReadInput(frrLocal)
		if err != nil {
			return nil, &config.Error{Pos: config.Pos{File: frrLocal}, Field: "--frr-local", Msg: readErr(err)}
		}
		facts.FRRLocal = string(b)
	}
	plan, err := sdn.Compile(cfg, facts)
	if errors.Is(err, sdnplan.ErrNoLocalIP) {
		// The config is fine: the host interfaces lack an address on the
		// peers' network, so blame that file (bad input, exit 2).
		return nil, &config.Error{Pos: config.Pos{File: hostIfaces}, Field: "--host-interfaces",
			Msg: fmt.Sprintf("no address towards the controller's peers (needed for vxlan-local-tunnelip / router-id; or give --underlay-mac): %v", err)}
	}
	return plan, err
}

// frrVersionRE is an FRR release number as frr.conf's first line carries it.
var frrVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)

// frrVersionFlag registers --frr-version: the FRR release frr.conf is
// written for (its "frr version" line).
func frrVersionFlag(fs *flag.FlagSet) *string {
	return fs.String("frr-version", render.DefaultFRRVersion, "FRR release written on frr.conf's \"frr version\" line")
}

func checkFRRVersion(v string) error {
	if !frrVersionRE.MatchString(v) {
		return badInput("--frr-version: %q is not an FRR release number (e.g. %s)", v, render.DefaultFRRVersion)
	}
	return nil
}

func readErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return "cannot read: " + pe.Err.Error()
	}
	return err.Error()
}
