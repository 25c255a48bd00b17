package reports

import (
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
)

// htmlPage is self-contained: inline CSS, no scripts, no external assets.
// html/template escapes every value.
var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"figures": func(fs []Figure) string { return figuresText(fs, 0) },
	"human":   humanDuration,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sdnlab {{.Run.Lab}}: {{.Status}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#222}
h1 .PASS{color:#1a7f37}h1 .FAIL{color:#cf222e}h1 .WARN,h1 .NO{color:#bc4c00}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #d0d7de;padding:.3em .7em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.time{text-align:right;white-space:nowrap}
.pass{color:#1a7f37;font-weight:bold}.fail,.error{color:#cf222e;font-weight:bold}.skip{color:#9a6700;font-weight:bold}.warn{color:#bc4c00;background:#fff1e5;font-weight:bold}
details{margin:.5em 0 1em 0}summary{cursor:pointer;font-weight:bold}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap}
dl{margin:.3em 0}dt{font-weight:bold}dd{margin:0 0 .4em 1.5em}
</style>
</head>
<body>
<h1>sdnlab {{.Run.Lab}}: <span class="{{.StatusClass}}">{{.Status}}</span></h1>
<p>{{.Counts}} in {{human .Run.Duration}}{{if not .Run.Started.IsZero}}, started {{.Run.Started.UTC.Format "2006-01-02 15:04:05 UTC"}}{{end}}</p>
{{if .Props}}<table><tr><th>Property</th><th>Value</th></tr>
{{range .Props}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>
{{end}}</table>{{end}}
<table>
<tr><th>Scenario</th><th>Verdict</th><th>Figures</th><th>Time</th></tr>
{{range $i, $s := .Run.Scenarios}}<tr><td><a href="#s{{$i}}">{{$s.Name}}</a></td><td class="{{$s.Verdict}}">{{$s.Verdict}}</td><td>{{figures $s.Figures}}</td><td class="time">{{human $s.Duration}}</td></tr>
{{end}}</table>
{{range $i, $s := .Run.Scenarios}}
<details id="s{{$i}}"{{if or (eq $s.Verdict "fail") (eq $s.Verdict "error") (eq $s.Verdict "warn")}} open{{end}}>
<summary>{{$s.Name}}: <span class="{{$s.Verdict}}">{{$s.Verdict}}</span></summary>
<dl>
{{if $s.Expected}}<dt>Expected</dt><dd>{{$s.Expected}}</dd>{{end}}
{{if $s.Observed}}<dt>Observed</dt><dd>{{$s.Observed}}</dd>{{end}}
{{if $s.Cause}}<dt>{{if eq $s.Verdict "skip"}}Why skipped{{else if eq $s.Verdict "warn"}}Finding{{else}}Likely cause{{end}}</dt><dd>{{$s.Cause}}</dd>{{end}}
{{if $s.Lab}}<dt>Lab</dt><dd>{{$s.Lab}}</dd>{{end}}
{{if $s.Figures}}<dt>Figures</dt><dd><table>{{range $s.Figures}}<tr><td>{{.Name}}</td><td>{{.String}}</td></tr>{{end}}</table></dd>{{end}}
</dl>
{{if $s.Evidence}}<p>Evidence</p><pre>{{range $s.Evidence}}{{.}}
{{end}}</pre>{{end}}
{{if $s.Steps}}<p>Steps</p><pre>{{range $s.Steps}}{{.}}
{{end}}</pre>{{end}}
</details>
{{end}}
</body>
</html>
`))

type htmlProp struct{ Name, Value string }

// WriteHTML writes a self-contained HTML page: a summary table and a
// details section per scenario (failures open).
func WriteHTML(w io.Writer, r *Run) error {
	status := r.Status()
	var props []htmlProp
	for k, v := range r.Properties {
		props = append(props, htmlProp{k, v})
	}
	slices.SortFunc(props, func(a, b htmlProp) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	data := struct {
		Run         *Run
		Status      string
		StatusClass string
		Counts      string
		Props       []htmlProp
	}{r, status, strings.Fields(status)[0], r.Counts().String(), props}
	if err := htmlPage.Execute(w, data); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}
