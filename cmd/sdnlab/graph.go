package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

func graphCommand() *command {
	return &command{
		name:    "graph",
		summary: "draw a lab (running, or a lab file) as SVG, Graphviz dot or Mermaid",
		usage:   "LAB|LAB.yaml [--format svg|dot|mermaid] [-o FILE]",
		run: func(ctx context.Context, args []string) error {
			return runGraph(args, os.Stdout)
		},
	}
}

func runGraph(args []string, out io.Writer) error {
	fs := newFlagSet("graph")
	format := fs.String("format", "", "svg, dot or mermaid (default: from -o's extension, else svg)")
	outFile := fs.String("o", "", "write here instead of standard output")
	arg, err := parseWithOnePositional(fs, args, "LAB or LAB.yaml")
	if err != nil {
		return err
	}
	f := *format
	if f == "" {
		switch filepath.Ext(*outFile) {
		case ".dot", ".gv":
			f = "dot"
		case ".mmd", ".mermaid", ".md":
			f = "mermaid"
		default:
			f = "svg"
		}
	}
	if f != "svg" && f != "dot" && f != "mermaid" {
		return badInput("--format %q: want svg, dot or mermaid", f)
	}
	// A running lab is drawn as it is now (crashed agents, failed links,
	// impairments); a lab file as it would come up.
	var t *reports.Topology
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		name, err := topology.NameOf(arg)
		if err != nil {
			return err
		}
		if lab, err := topology.ReadState(defaultStateDir(), name); err == nil && sameLabFile(lab.File, arg) {
			t = topology.LiveGraph(lab, defaultStateDir())
		} else {
			lab, err := topology.Load(arg, sdn.Compile)
			if err != nil {
				return err
			}
			t = lab.Graph()
		}
	} else {
		lab, err := stateOf(arg)
		if err != nil {
			return err
		}
		t = topology.LiveGraph(lab, defaultStateDir())
	}
	w := out
	if *outFile != "" {
		fh, err := os.Create(*outFile)
		if err != nil {
			return err
		}
		defer fh.Close()
		w = fh
	}
	switch f {
	case "dot":
		err = reports.TopologyDot(w, t)
	case "mermaid":
		err = reports.TopologyMermaid(w, t)
	default:
		_, err = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+reports.TopologySVG(t))
	}
	if err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	return nil
}

// sameLabFile tells whether the running lab came from this file.
func sameLabFile(running, file string) bool {
	abs, err := filepath.Abs(file)
	return err == nil && abs == running
}
