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

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

func validateCommand() *command {
	return &command{
		name:    "validate",
		summary: "check an SDN config directory as strictly as the Proxmox API does",
		usage:   "--config DIR [--host-interfaces FILE] [--nodes n1,n2,...]",
		run: func(ctx context.Context, args []string) error {
			return runValidate(ctx, args, os.Stdout)
		},
	}
}

// runValidate prints "ok" and a summary to out, or returns every problem
// as a config.ErrorList (bad input, exit code 2).
func runValidate(_ context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("validate")
	dir := fs.String("config", "", "SDN config directory (the layout of /etc/pve/sdn)")
	hostIfaces := fs.String("host-interfaces", "", "a node's /etc/network/interfaces")
	nodeList := fs.String("nodes", "", "comma-separated cluster node names")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return badInput("--config DIR is required")
	}
	var nodes []string
	if *nodeList != "" {
		for _, n := range strings.Split(*nodeList, ",") {
			if n = strings.TrimSpace(n); n == "" {
				return badInput("--nodes %q has an empty node name", *nodeList)
			}
			if slices.Contains(nodes, n) {
				return badInput("--nodes %q names node %q twice", *nodeList, n)
			}
			nodes = append(nodes, n)
		}
	}

	var problems config.ErrorList
	collect := func(err error) error {
		var l config.ErrorList
		var e *config.Error
		switch {
		case err == nil:
		case errors.As(err, &l):
			problems = append(problems, l...)
		case errors.As(err, &e):
			problems = append(problems, e)
		default:
			return err
		}
		return nil
	}

	cfg, err := config.Load(*dir, registry.Config())
	if err := collect(err); err != nil {
		return err
	}
	if cfg == nil { // the directory itself could not be read
		return problems.Err()
	}
	// Load takes a missing file for an empty one (a fresh cluster has
	// none), but validating a directory without any is surely a wrong path.
	if !hasConfigFile(*dir) {
		return &config.Error{Pos: config.Pos{File: *dir}, Msg: "no SDN configuration files (" + strings.Join(config.Files, ", ") + ")"}
	}
	if err := collect(cfg.Strict()); err != nil {
		return err
	}
	if nodes != nil {
		if err := collect(cfg.CheckNodes(nodes)); err != nil {
			return err
		}
	}
	var hi *config.HostInterfaces
	if *hostIfaces != "" {
		hi, err = config.ParseInterfaces(*hostIfaces)
		if err := collect(err); err != nil {
			return err
		}
		if hi != nil {
			if err := collect(cfg.CheckHost(hi)); err != nil {
				return err
			}
		}
	}
	if err := problems.Err(); err != nil {
		return err
	}

	var policy string
	if n, m := len(cfg.PrefixLists), len(cfg.RouteMaps); n+m > 0 {
		policy = ", " + plural(n, "prefix list") + ", " + plural(m, "route map")
	}
	fmt.Fprintf(out, "ok: %s, %s, %s, %s, %s%s\n",
		plural(len(cfg.Zones), "zone"), plural(len(cfg.VNets), "vnet"),
		plural(len(cfg.Subnets), "subnet"), plural(len(cfg.Controllers), "controller"),
		plural(len(cfg.Fabrics), "fabric"), policy)
	if hi != nil {
		for _, w := range hi.Warnings {
			fmt.Fprintf(out, "warning: %v (ifupdown2 accepts it)\n", w)
		}
	}
	if len(cfg.Ignored) > 0 {
		fmt.Fprintf(out, "ignored (accepted by Proxmox, kept, no effect in a lab): %d\n", len(cfg.Ignored))
		for _, ig := range cfg.Ignored {
			fmt.Fprintf(out, "  %s: %s: %s\n", ig.Pos, ig.Field, ig.Reason)
		}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// hasConfigFile tells whether dir holds at least one of the files Load reads.
func hasConfigFile(dir string) bool {
	for _, name := range config.Files {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}
