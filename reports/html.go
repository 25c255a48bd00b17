package reports

import (
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// htmlPage is self-contained: inline CSS and inline SVG drawn here, no
// scripts, no external fonts or assets. html/template escapes every value;
// the SVG is built by this package with every text escaped (svg.go).
var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"figures": func(fs []Figure) string { return figuresText(fs, 6) }, // the details list them all
	"human":   humanDuration,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sdnlab {{.Run.Lab}}: {{.Status}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#24292f;max-width:1100px}
h1 .PASS{color:#1a7f37}h1 .FAIL{color:#cf222e}h1 .WARN,h1 .NO{color:#bc4c00}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #d0d7de;padding:.3em .7em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.time,td.num{text-align:right;white-space:nowrap}
.pass{color:#1a7f37;font-weight:bold}.fail,.error{color:#cf222e;font-weight:bold}.skip{color:#9a6700;font-weight:bold}.warn{color:#bc4c00;background:#fff1e5;font-weight:bold}
details{margin:.5em 0 1em 0}summary{cursor:pointer;font-weight:bold;font-size:1.1em}
details.more{margin:.3em 0 .3em 1em}details.more summary{font-size:1em;font-weight:normal;color:#57606a}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap}
dl{margin:.3em 0}dt{font-weight:bold}dd{margin:0 0 .4em 1.5em}
figure{margin:1em 0;overflow-x:auto}figcaption{color:#57606a;font-size:.9em}
svg{max-width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px}
ul.files{margin:.3em 0}ul.files li{font-family:ui-monospace,monospace;font-size:.9em}
.diff{background:#fff8c5}
</style>
</head>
<body>
<h1>sdnlab {{.Run.Lab}}: <span class="{{.StatusClass}}">{{.Status}}</span></h1>
<p>{{.Counts}} in {{human .Run.Duration}}{{if not .Run.Started.IsZero}}, started {{.Run.Started.UTC.Format "2006-01-02 15:04:05 UTC"}}{{end}}</p>
<table>
<tr><th>Scenario</th>{{if .Engines}}<th>Engine</th>{{end}}<th>Verdict</th><th>Figures</th><th>Time</th></tr>
{{range .Scenarios}}<tr><td><a href="#{{.ID}}">{{.Name}}</a></td>{{if $.Engines}}<td>{{.Engine}}</td>{{end}}<td class="{{.S.Verdict}}">{{.S.Verdict}}</td><td>{{figures .S.Figures}}</td><td class="time">{{human .S.Duration}}</td></tr>
{{end}}</table>
{{if .Topologies}}<h2 id="topology">Topology</h2>
{{range .Topologies}}<figure class="topology">{{.}}<figcaption>Underlay segments (bars), routers, nodes with their engine and VTEP, guests grouped by VNet and coloured by zone.</figcaption></figure>
{{end}}{{end}}
{{if .Compare}}<h2 id="engines">Engines side by side</h2>
<table class="compare">
<tr><th>Scenario</th><th>Figure</th>{{range .Engines}}<th>{{.}}</th>{{end}}</tr>
{{range .Compare}}<tr{{if .Differs}} class="diff"{{end}}><td>{{.Scenario}}</td><td>{{.Figure}}</td>{{range .Values}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Files}}<h2 id="files">Run files</h2>
<ul class="files">{{range .Files}}<li>{{if .Href}}<a href="{{.Href}}">{{.Name}}</a>{{else}}{{.Name}}{{end}} <span>{{.Shown}}</span></li>
{{end}}</ul>{{end}}
{{if .Props}}<h2>Run</h2><table><tr><th>Property</th><th>Value</th></tr>
{{range .Props}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>
{{end}}</table>{{end}}
<h2>Scenarios</h2>
{{range .Scenarios}}
<details id="{{.ID}}"{{if .Open}} open{{end}}>
<summary>{{.S.Name}}{{if .S.Engine}} ({{.S.Engine}}){{end}}: <span class="{{.S.Verdict}}">{{.S.Verdict}}</span></summary>
<dl>
{{if .S.Expected}}<dt>Expected</dt><dd>{{.S.Expected}}</dd>{{end}}
{{if .S.Observed}}<dt>Observed</dt><dd>{{.S.Observed}}</dd>{{end}}
{{if .S.Cause}}<dt>{{if eq .S.Verdict "skip"}}Why skipped{{else if eq .S.Verdict "warn"}}Finding{{else}}Likely cause{{end}}</dt><dd>{{.S.Cause}}</dd>{{end}}
{{if .S.Lab}}<dt>Lab</dt><dd>{{.S.Lab}}</dd>{{end}}
{{if .S.Figures}}<dt>Figures</dt><dd><table>{{range .S.Figures}}<tr><td>{{.Name}}</td><td>{{.String}}</td></tr>{{end}}</table></dd>{{end}}
</dl>
{{range .Timelines}}<figure class="timeline">{{.SVG}}<figcaption>{{.Title}}: a bar per probe (height: round trip), red bands over lost probes, dashed lines at events.</figcaption></figure>
{{end}}
{{if .Files}}<p>Evidence files</p><ul class="files">{{range .Files}}<li>{{if .Href}}<a href="{{.Href}}">{{.Name}}</a>{{else}}{{.Name}}{{end}} <span>{{.Shown}}</span></li>
{{end}}</ul>{{end}}
{{if .Evidence}}<details class="more"><summary>Evidence ({{len .Evidence}})</summary><pre>{{range .Evidence}}{{.}}
{{end}}</pre></details>{{end}}
{{if .S.Steps}}<details class="more"><summary>Checks ({{len .S.Steps}})</summary><pre>{{range .S.Steps}}{{.}}
{{end}}</pre></details>{{end}}
</details>
{{end}}
</body>
</html>
`))

type htmlProp struct{ Name, Value string }

type htmlFile struct {
	Name  string
	Href  string // relative to the report; "" when the file lies outside its directory
	Shown string // the path as shown
}

type htmlTimeline struct {
	Title string
	SVG   template.HTML
}

type htmlScenario struct {
	S         *Scenario
	Name      string // without the engine tag
	Engine    string
	ID        string
	Open      bool
	Timelines []htmlTimeline
	Files     []htmlFile
	Evidence  []string
}

type htmlCompare struct {
	Scenario, Figure string
	Values           []string
	Differs          bool
}

// HTMLOptions say where the page lives.
type HTMLOptions struct {
	// Dir is the report's directory: evidence files under it are linked
	// relative to it, so the directory can be moved or zipped. Files
	// elsewhere are named, not linked. "" links nothing.
	Dir string
}

// WriteHTML writes a self-contained HTML page: a summary table, the
// topology, the engines side by side, and per scenario its figures,
// timelines and evidence (failures open). Files are not linked; see
// WriteHTMLOpts.
func WriteHTML(w io.Writer, r *Run) error { return WriteHTMLOpts(w, r, HTMLOptions{}) }

// WriteHTMLOpts is WriteHTML with links relative to o.Dir.
func WriteHTMLOpts(w io.Writer, r *Run, o HTMLOptions) error {
	status := r.Status()
	var props []htmlProp
	for k, v := range r.Properties {
		props = append(props, htmlProp{k, v})
	}
	slices.SortFunc(props, func(a, b htmlProp) int { return strings.Compare(a.Name, b.Name) })
	data := struct {
		Run         *Run
		Status      string
		StatusClass string
		Counts      string
		Props       []htmlProp
		Topologies  []template.HTML
		Scenarios   []htmlScenario
		Files       []htmlFile
		Engines     []string
		Compare     []htmlCompare
	}{Run: r, Status: status, StatusClass: strings.Fields(status)[0], Counts: r.Counts().String(), Props: props}
	for _, t := range r.Topologies {
		data.Topologies = append(data.Topologies, template.HTML(TopologySVG(t))) // built with every text escaped
	}
	data.Files = linkFiles(r.Files, o.Dir)
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		name, engine := scenarioEngine(*s)
		hs := htmlScenario{S: s, Name: name, Engine: engine, ID: fmt.Sprintf("s%d", i), Open: s.Verdict == Fail || s.Verdict == Error || s.Verdict == Warn || len(s.Timelines) > 0}
		for j := range s.Timelines {
			hs.Timelines = append(hs.Timelines, htmlTimeline{Title: s.Timelines[j].Title, SVG: template.HTML(TimelineSVG(&s.Timelines[j]))})
		}
		hs.Files = linkFiles(s.Files, o.Dir)
		linked := map[string]bool{}
		for _, f := range s.Files {
			linked[f.Name+": "+f.Path] = true
		}
		for _, e := range s.Evidence {
			if !linked[e] {
				hs.Evidence = append(hs.Evidence, e)
			}
		}
		data.Scenarios = append(data.Scenarios, hs)
	}
	data.Engines, data.Compare = compareEngines(r.Scenarios)
	if err := htmlPage.Execute(w, data); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// linkFiles makes each path relative to dir when it lies under it.
func linkFiles(files []File, dir string) []htmlFile {
	var out []htmlFile
	for _, f := range files {
		hf := htmlFile{Name: f.Name, Shown: f.Path}
		if dir != "" {
			if rel, ok := relUnder(dir, f.Path); ok {
				hf.Href, hf.Shown = filepath.ToSlash(rel), filepath.ToSlash(rel)
			} else {
				hf.Shown = f.Path + " (outside the report directory)"
			}
		}
		out = append(out, hf)
	}
	return out
}

func relUnder(dir, path string) (string, bool) {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// compareEngines lines up the figures of scenarios that ran on more than
// one engine: one row per scenario and figure, one column per engine.
func compareEngines(ss []Scenario) ([]string, []htmlCompare) {
	var engines []string
	for _, s := range ss {
		if _, e := scenarioEngine(s); e != "" && !slices.Contains(engines, e) {
			engines = append(engines, e)
		}
	}
	if len(engines) < 2 {
		return engines, nil
	}
	type key struct{ scenario, figure string }
	var order []key
	vals := map[key]map[string]string{}
	for _, s := range ss {
		name, engine := scenarioEngine(s)
		if engine == "" {
			continue
		}
		add := func(fig, v string) {
			k := key{name, fig}
			if vals[k] == nil {
				vals[k] = map[string]string{}
				order = append(order, k)
			}
			vals[k][engine] = v
		}
		add("verdict", string(s.Verdict))
		for _, f := range s.Figures {
			add(f.Name, f.String())
		}
	}
	var rows []htmlCompare
	for _, k := range order {
		row := htmlCompare{Scenario: k.scenario, Figure: k.figure}
		for _, e := range engines {
			v, ok := vals[k][e]
			if !ok {
				v = "—"
			}
			if len(row.Values) > 0 && v != row.Values[0] && k.figure == "verdict" {
				row.Differs = true
			}
			row.Values = append(row.Values, v)
		}
		rows = append(rows, row)
	}
	return engines, rows
}

// scenarioEngine is a scenario's name and engine: Engine, or the engine a
// run on several engines appends to the name ("vm-live-migration [frr]").
func scenarioEngine(s Scenario) (name, engine string) {
	if s.Engine != "" {
		return s.Name, s.Engine
	}
	if i := strings.LastIndex(s.Name, " ["); i > 0 && strings.HasSuffix(s.Name, "]") {
		return s.Name[:i], s.Name[i+2 : len(s.Name)-1]
	}
	return s.Name, ""
}
