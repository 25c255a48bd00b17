package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/scenarios"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

// The report directory of a run on two labs (as the demo makes): both
// pictures, each lab's files and rendered configurations, every link
// relative, so the directory can be zipped and opened elsewhere.
func TestWriteReportDir(t *testing.T) {
	var parts []*scenarios.Outcome
	for _, f := range []string{"../../examples/demo/lab.yaml", "../../examples/evpn-racks/lab.yaml"} {
		lab, err := topology.Load(f, sdn.Compile)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &scenarios.Outcome{Lab: lab, Started: time.Now(), Topology: lab.Graph()})
	}
	dir := t.TempDir()
	run := scenarios.ToReport("demo", time.Now(), nil, nil)
	if err := writeReportDir(dir, run, parts...); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.html", "junit.xml", "report.json", "report.md",
		"lab-demo/lab.yaml", "lab-demo/sdn/zones.cfg", "lab-demo/configs/node1/sdn", "lab-demo/configs/node1/frr.conf",
		"lab-demo/configs/node1/interfaces", "lab-racks/configs/node3/frr.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("report directory lacks %s", f)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if n := strings.Count(html, `class="topology"`); n != 4 { // figure and svg, twice
		t.Errorf("%d topology elements, want both labs drawn", n)
	}
	for _, want := range []string{`href="lab-demo/configs/node1/frr.conf"`, `href="lab-racks/lab.yaml"`} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %s", want)
		}
	}
	if strings.Contains(html, `href="/`) || strings.Contains(html, dir) {
		t.Error("report.html names an absolute path")
	}
}
