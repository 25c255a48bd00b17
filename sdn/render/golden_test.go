package render_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
	"github.com/sdnlab/sdnlab/sdn/render"
)

var (
	update    = flag.Bool("update", false, "rewrite expected/sdn (and expected/frr.conf where it exists) from the current output")
	updateFRR = flag.Bool("update-frr", false, "with -update: also create expected/frr.conf for cases that produce one")
)

// TestGolden compiles and renders every case under testdata/<case>/:
//
//	cfg/*.cfg            the SDN configuration
//	interfaces           the node's /etc/network/interfaces
//	frr.conf.local       optional
//	node                 optional node name (default node1)
//	underlay-mac         optional
//	expected/sdn         the expected interfaces.d/sdn
//	expected/frr.conf    optional: the expected frr.conf (compared only when present,
//	                     rendered for render.DefaultFRRVersion)
//	expected/wireguard/  one IFACE.conf per WireGuard interface the node has
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if st, err := os.Stat(filepath.Join(dir, "cfg")); err != nil || !st.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) { runGolden(t, dir) })
	}
	if n == 0 {
		t.Fatal("no golden cases found under testdata/")
	}
}

func readOptional(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runGolden(t *testing.T, dir string) {
	cfg, err := config.Load(filepath.Join(dir, "cfg"), registry.Config())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	hi, err := config.ParseInterfaces(filepath.Join(dir, "interfaces"))
	if err != nil {
		t.Fatalf("interfaces: %v", err)
	}
	node := strings.TrimSpace(readOptional(t, filepath.Join(dir, "node")))
	if node == "" {
		node = "node1"
	}
	facts := plan.NodeFacts{
		Node:        node,
		Interfaces:  hi,
		UnderlayMAC: strings.TrimSpace(readOptional(t, filepath.Join(dir, "underlay-mac"))),
		FRRLocal:    readOptional(t, filepath.Join(dir, "frr.conf.local")),
	}
	plan, err := sdn.Compile(cfg, facts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	for _, n := range plan.Notes {
		t.Logf("note: %s", n)
	}
	checkTyped(t, plan)
	compare(t, filepath.Join(dir, "expected", "sdn"), render.Interfaces(plan))
	frrPath := filepath.Join(dir, "expected", "frr.conf")
	_, statErr := os.Stat(frrPath)
	switch {
	case statErr == nil:
		compare(t, frrPath, render.FRR(plan, ""))
	case *update && *updateFRR && plan.FRR != nil:
		compare(t, frrPath, render.FRR(plan, ""))
	}
	// expected/wireguard/<iface>.conf: one per WireGuard interface, no more.
	want, _ := filepath.Glob(filepath.Join(dir, "expected", "wireguard", "*.conf"))
	got := map[string]bool{}
	for _, wc := range plan.WireGuard {
		p := filepath.Join(dir, "expected", "wireguard", wc.Name+".conf")
		got[p] = true
		compare(t, p, render.WireGuard(wc))
	}
	for _, p := range want {
		if !got[p] {
			t.Errorf("%s: no such WireGuard interface rendered", p)
		}
	}
	compareDnsmasq(t, filepath.Join(dir, "expected", "dnsmasq"), render.DnsmasqFiles(plan))
}

// compareDnsmasq checks the DHCP files against expected/dnsmasq/<path>
// (the absolute path without its leading "/"): the same set of files, each
// with the same content.
func compareDnsmasq(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for path, got := range files {
		compare(t, filepath.Join(dir, strings.TrimPrefix(path, "/")), got)
	}
	if *update {
		return
	}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if _, ok := files["/"+rel]; !ok {
			t.Errorf("%s is expected but not rendered", p)
		}
		return nil
	})
}

// compare checks got against the file at path, or rewrites it with -update.
func compare(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sdn/render -update to create it)", err)
	}
	w, g := string(want), got
	if w != g {
		t.Errorf("%s differs:\n%s", path, lineDiff(w, g))
	}
}

// lineDiff shows the region around the first differing line, expected
// lines prefixed "-", produced lines "+".
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	from := max(0, i-3)
	var b strings.Builder
	b.WriteString("first difference at line " + strconv.Itoa(i+1) + "\n")
	for j := from; j < min(len(w), i+6); j++ {
		b.WriteString("- " + w[j] + "\n")
	}
	for j := from; j < min(len(g), i+6); j++ {
		b.WriteString("+ " + g[j] + "\n")
	}
	return b.String()
}
