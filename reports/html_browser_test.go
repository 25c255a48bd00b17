package reports

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/headless"
)

// sampleTopology is a two-rack lab as topology.Graph would give it.
func sampleTopology() *Topology {
	return &Topology{
		Lab: "racks",
		Segments: []TopoSegment{
			{Name: "rack1", Subnets: []string{"192.168.0.0/24"}, MTU: 1500},
			{Name: "rack2", Subnets: []string{"192.168.1.0/24"}, MTU: 1500},
			{Name: "core", Subnets: []string{"172.16.0.0/24"}, MTU: 1500},
			{Name: "internet", Subnets: []string{"203.0.113.0/24"}, External: true},
		},
		Routers: []TopoRouter{
			{Name: "r1", Routing: "static", Links: []TopoLink{
				{Segment: "rack1", Addrs: []string{"192.168.0.254"}, Note: "uRPF strict"},
				{Segment: "rack2", Addrs: []string{"192.168.1.254"}, Note: "uRPF strict"},
				{Segment: "core", Addrs: []string{"172.16.0.1"}}}},
			{Name: "upstream", Upstream: true, Routing: "static", Links: []TopoLink{
				{Segment: "core", Addrs: []string{"172.16.0.254"}},
				{Segment: "internet", Addrs: []string{"203.0.113.1"}}}},
		},
		Hosts: []TopoHost{{Name: "inet", Link: TopoLink{Segment: "internet", Addrs: []string{"203.0.113.10"}}}},
		Nodes: []TopoNode{
			{Name: "node1", Engine: "agent", VTEP: "192.168.0.1", Exit: []string{"evpnz1"}, Links: []TopoLink{{Segment: "rack1", Ifname: "eth0", Addrs: []string{"192.168.0.1"}}}},
			{Name: "node2", Engine: "frr", VTEP: "192.168.0.2", Exit: []string{"evpnz1"}, Links: []TopoLink{{Segment: "rack1", Ifname: "eth0", Addrs: []string{"192.168.0.2"}, Note: "down"}}},
			{Name: "node3", Engine: "agent", VTEP: "192.168.1.3", Down: true, Links: []TopoLink{{Segment: "rack2", Ifname: "eth0", Addrs: []string{"192.168.1.3"}}}},
		},
		Zones: []TopoZone{{Name: "evpnz1", Type: "evpn", VNI: 10000}, {Name: "tenantb", Type: "evpn", VNI: 20000}},
		Guests: []TopoGuest{
			{Name: "vm11", Node: "node1", VNet: "rvnet1", Zone: "evpnz1", Tag: 11000, Addrs: []string{"10.0.1.11/24", "fd00:1::11/64"}},
			{Name: "vm13", Node: "node3", VNet: "rvnet1", Zone: "evpnz1", Tag: 11000, Addrs: []string{"10.0.1.13/24"}},
			{Name: "vm21", Node: "node2", VNet: "rvnet2", Zone: "evpnz1", Tag: 12000, Addrs: []string{"10.0.2.21/24"}},
			{Name: "vm31", Node: "node2", VNet: "bvnet1", Zone: "tenantb", Tag: 13000, Addrs: []string{"10.0.3.31/24"}},
		},
		Impaired: []TopoImpaired{{Thing: "node3", Ifname: "eth0", Text: "loss 2%, delay 5ms"}},
	}
}

// sampleTimeline is a migration as the scenario would record it: probes
// every 10 ms both ways, four lost around the move, and its events.
func sampleTimeline() Timeline {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	tl := Timeline{Title: "vm11 node1 → node3 (pause 50ms)"}
	for _, name := range []string{"vm12 → vm11 (IPv4)", "vm11 → vm12 (IPv6)"} {
		s := Series{Name: name}
		for i := 0; i < 300; i++ {
			at := ms(float64(i) * 10)
			p := Probe{Seq: i, SentAt: at}
			if at >= ms(1500) && at < ms(1500+float64(len(name))*3) {
				p.Lost = true
			} else {
				p.RecvAt = at + ms(0.3+float64(i%7)*0.05)
			}
			s.Probes = append(s.Probes, p)
		}
		tl.Series = append(tl.Series, s)
	}
	tl.Events = []Event{
		{At: ms(1490), Kind: "pause", Label: "pause start"},
		{At: ms(1540), Kind: "pause", Label: "pause end"},
		{At: ms(1541), Kind: "carrier", Label: "carrier up on node3"},
		{At: ms(1542), Kind: "announce", Label: "RARP 1"},
		{At: ms(1545), Kind: "bgp", Label: "BGP UPDATE vm11 seq 1"},
		{At: ms(1546), Kind: "bgp", Label: "BGP WITHDRAW from node1"},
		{At: ms(1549), Kind: "fdb", Label: "FDB converged"},
		{At: ms(1560), Kind: "recovery", Label: "traffic recovered"},
	}
	return tl
}

func browserRun(dir string) *Run {
	r := sampleRun()
	r.Topologies = []*Topology{sampleTopology()}
	r.Scenarios[1].Timelines = []Timeline{sampleTimeline()}
	r.Scenarios[1].Files = []File{{Name: "merged", Path: filepath.Join(dir, "pcap", "live-migration", "merged.pcapng")}}
	r.Files = []File{{Name: "lab file", Path: filepath.Join(dir, "lab.yaml")}, {Name: "elsewhere", Path: "/etc/hostname"}}
	return r
}

// chromium returns the browser or skips: outside CI a machine without
// Chromium is fine, in CI (.ci/run sets SDNLAB_CI) it is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	bin := headless.Find()
	if bin == "" {
		if os.Getenv("SDNLAB_CI") != "" || os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the browser test (.ci/run installs it)")
		}
		t.Skip("chromium is not installed (apt-get install chromium): the report is not checked in a browser")
	}
	return bin
}

// inkedFraction is the share of pixels that are not (near) white, and the
// number of distinct colours among them.
func inkedFraction(t *testing.T, data []byte) (float64, int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is no PNG: %v", err)
	}
	b := img.Bounds()
	inked, colours := 0, map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 < 235 || g>>8 < 235 || bl>>8 < 235 {
				inked++
				colours[(r>>12)<<8|(g>>12)<<4|bl>>12] = true
			}
		}
	}
	return float64(inked) / float64(max(1, b.Dx()*b.Dy())), len(colours)
}

type drawn struct {
	Rect     headless.Rect `json:"rect"`
	Elements int           `json:"elements"`
}

// lookAt opens page in Chromium and checks that every SVG of the given
// classes is drawn (elements inside, a visible box, ink of several
// colours in its screenshot) and that the page reported no problem.
func lookAt(t *testing.T, br *headless.Browser, page string, classes []string, shot string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := br.Open(ctx, "file://"+page, 1200, 900)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, class := range classes {
		var found []drawn
		expr := `Array.from(document.querySelectorAll("svg.` + class + `")).map(e => { const r = e.getBoundingClientRect();
			return {rect: {x: r.x + window.scrollX, y: r.y + window.scrollY, width: r.width, height: r.height}, elements: e.querySelectorAll("rect,line,path,circle,text").length}; })`
		if err := p.Eval(ctx, expr, &found); err != nil {
			t.Fatal(err)
		}
		if len(found) == 0 {
			problems = append(problems, "no svg."+class+" on the page")
		}
		for i, d := range found {
			if d.Elements < 5 || d.Rect.Width < 200 || d.Rect.Height < 80 {
				problems = append(problems, "svg."+class+" is empty or tiny")
				continue
			}
			png, err := p.Screenshot(ctx, &d.Rect)
			if err != nil {
				t.Fatal(err)
			}
			if d := os.Getenv("SDNLAB_PICTURES"); d != "" {
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%s-%d.png", class, i)), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ink, colours := inkedFraction(t, png)
			t.Logf("svg.%s #%d: %.0fx%.0f px, %d elements, %.1f%% inked, %d colours", class, i, d.Rect.Width, d.Rect.Height, d.Elements, ink*100, colours)
			if ink < 0.02 || colours < 4 {
				problems = append(problems, "svg."+class+" looks blank in the screenshot")
			}
		}
	}
	if shot != "" {
		png, err := p.Screenshot(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	problems = append(problems, p.Problems...)
	if len(problems) > 0 {
		return &problemList{problems}
	}
	return nil
}

// startBrowser starts Chromium for the test (one fresh profile each).
func startBrowser(t *testing.T, bin string) *headless.Browser {
	t.Helper()
	br, err := headless.Start(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(br.Close)
	return br
}

type problemList struct{ l []string }

func (p *problemList) Error() string { return strings.Join(p.l, "; ") }

// TestReportInChromium renders report.html in headless Chromium: the
// topology and the timeline must be drawn and the page must report no
// console error. SDNLAB_SCREENSHOT=FILE keeps a full-page PNG.
// SDNLAB_PICTURES=DIR keeps a PNG of each picture.
// SDNLAB_REPORT_JSON=FILE draws a real run's report.json instead of the
// sample.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	run := browserRun(dir)
	// SDNLAB_REPORT_JSON=report.json looks at a real run's timelines.
	if f := os.Getenv("SDNLAB_REPORT_JSON"); f != "" {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		real, err := ReadJSON(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		real.Topologies = run.Topologies
		run = real
	}
	if err := WriteFile(page, HTML, run); err != nil {
		t.Fatal(err)
	}
	if err := lookAt(t, startBrowser(t, bin), page, []string{"topology", "timeline"}, os.Getenv("SDNLAB_SCREENSHOT")); err != nil {
		t.Fatalf("report.html in chromium: %v", err)
	}
}

// TestBrowserCheckCatchesBrokenPages: a page with a console error, a
// script exception, a missing image, and an SVG drawn blank must each fail
// the check that report.html passes.
func TestBrowserCheckCatchesBrokenPages(t *testing.T) {
	br := startBrowser(t, chromium(t))
	dir := t.TempDir()
	cases := map[string]string{
		"console error": `<svg class="timeline"></svg><script>console.error("boom")</script>`,
		"exception":     `<script>undefinedFunction()</script>`,
		"missing image": `<img src="does-not-exist.png">`,
		"blank svg": `<svg class="timeline" width="600" height="200"><rect x="0" y="0" width="600" height="200" fill="#fff"/>` +
			strings.Repeat(`<rect x="1" y="1" width="1" height="1" fill="#fff"/>`, 6) + `</svg>`,
		"no svg": `<p>nothing drawn</p>`,
	}
	for name, body := range cases {
		page := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".html")
		if err := os.WriteFile(page, []byte("<!DOCTYPE html><html><body>"+body+"</body></html>"), 0o644); err != nil {
			t.Fatal(err)
		}
		classes := []string{"timeline"}
		if name == "exception" || name == "missing image" {
			classes = nil
		}
		err := lookAt(t, br, page, classes, "")
		if err == nil {
			t.Errorf("%s: the browser check passed a broken page", name)
		} else {
			t.Logf("%s: caught: %v", name, err)
		}
	}
}
