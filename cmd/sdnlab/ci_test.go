package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The sharded CI templates pass each job its own K of the same N and merge
// what every job wrote: checked on the files, since no CI runs them here.
func TestCITemplatesShard(t *testing.T) {
	type step struct {
		Run  string         `yaml:"run"`
		With map[string]any `yaml:"with"`
	}
	var gh struct {
		Jobs map[string]struct {
			Needs    any    `yaml:"needs"`
			If       string `yaml:"if"`
			Strategy struct {
				FailFast *bool            `yaml:"fail-fast"`
				Matrix   map[string][]int `yaml:"matrix"`
			} `yaml:"strategy"`
			Steps []step `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, "../../ci/github-actions-sharded.yml", &gh)
	conf, report := gh.Jobs["conformance"], gh.Jobs["report"]
	shards := conf.Strategy.Matrix["shard"]
	if len(shards) < 2 || conf.Strategy.FailFast == nil || *conf.Strategy.FailFast {
		t.Errorf("github: conformance matrix %v, fail-fast %v: want shards 1..N and fail-fast false", shards, conf.Strategy.FailFast)
	}
	for i, k := range shards {
		if k != i+1 {
			t.Errorf("github: matrix shard %v is not 1..N", shards)
		}
	}
	runs := func(ss []step) string {
		var b strings.Builder
		for _, s := range ss {
			b.WriteString(s.Run + "\n")
			for _, v := range s.With {
				b.WriteString(strings.TrimSpace(strings.ReplaceAll(toString(v), "\n", " ")) + "\n")
			}
		}
		return b.String()
	}
	for _, want := range []string{"--shard ${{ matrix.shard }}/${{ strategy.job-total }}", "sdnlab-shard-${{ matrix.shard }}"} {
		if !strings.Contains(runs(conf.Steps), want) {
			t.Errorf("github: conformance job lacks %q", want)
		}
	}
	if report.Needs != "conformance" || report.If != "always()" || !strings.Contains(runs(report.Steps), "sdnlab junit-merge sdnlab-junit.xml shards/*/junit.xml") ||
		!strings.Contains(runs(report.Steps), "sdnlab-shard-*") {
		t.Errorf("github: report job does not merge every shard: needs %v, if %q, steps:\n%s", report.Needs, report.If, runs(report.Steps))
	}

	type glJob struct {
		Parallel  int      `yaml:"parallel"`
		When      string   `yaml:"when"`
		Script    []string `yaml:"script"`
		Artifacts struct {
			When    string            `yaml:"when"`
			Paths   []string          `yaml:"paths"`
			Reports map[string]string `yaml:"reports"`
		} `yaml:"artifacts"`
	}
	var gl struct {
		Conformance glJob `yaml:"sdnlab-conformance"`
		Report      glJob `yaml:"sdnlab-report"`
	}
	readYAML(t, "../../ci/gitlab-ci-sharded.yml", &gl)
	c, r := gl.Conformance, gl.Report
	script := strings.Join(c.Script, "\n")
	if c.Parallel < 2 || !strings.Contains(script, `"sdnlab-out/shard-$CI_NODE_INDEX" -- --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"`) ||
		c.Artifacts.When != "always" || !slices.Contains(c.Artifacts.Paths, "sdnlab-out/") {
		t.Errorf("gitlab: conformance job: parallel %d, artifacts %+v, script:\n%s", c.Parallel, c.Artifacts, script)
	}
	if r.When != "always" || !slices.Contains(r.Script, "sdnlab junit-merge sdnlab-junit.xml sdnlab-out/shard-*/junit.xml") ||
		r.Artifacts.Reports["junit"] != "sdnlab-junit.xml" {
		t.Errorf("gitlab: report job: %+v", r)
	}
	// The values the templates produce are accepted by the real flag.
	for k := 1; k <= c.Parallel; k++ {
		v := strings.NewReplacer("$CI_NODE_INDEX", strconv.Itoa(k), "$CI_NODE_TOTAL", strconv.Itoa(c.Parallel)).Replace("$CI_NODE_INDEX/$CI_NODE_TOTAL")
		if err := (&shardFlag{}).Set(v); err != nil {
			t.Errorf("gitlab shard %s: %v", v, err)
		}
	}
	for _, k := range shards {
		v := strconv.Itoa(k) + "/" + strconv.Itoa(len(shards)) // matrix.shard / strategy.job-total
		if err := (&shardFlag{}).Set(v); err != nil {
			t.Errorf("github shard %s: %v", v, err)
		}
	}
	if !slices.ContainsFunc(commands(), func(c *command) bool { return c.name == "junit-merge" }) {
		t.Error("no junit-merge command")
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
