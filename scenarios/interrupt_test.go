package scenarios

import (
	"github.com/sdnlab/sdnlab/reports"

	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/topology"
)

// funcScenario runs fn as its body.
type funcScenario struct {
	name string
	fn   func(ctx context.Context) *Result
}

func (s funcScenario) Name() string                            { return s.name }
func (s funcScenario) Description() string                     { return "test scenario " + s.name }
func (s funcScenario) Params() []Param                         { return nil }
func (s funcScenario) Run(ctx context.Context, _ *Env) *Result { return s.fn(ctx) }

// Ctrl-C during a scenario: its failure (caused by the cancellation) is no
// verdict, and nothing after it runs.
func TestRunnerInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := map[string]bool{}
	sel := []Selected{
		{Scenario: funcScenario{"first", func(context.Context) *Result {
			ran["first"] = true
			r := NewResult("first")
			r.Expect("ok", true, "x", "x", "")
			return r.Finish()
		}}},
		{Scenario: funcScenario{"second", func(context.Context) *Result {
			ran["second"] = true
			cancel() // Ctrl-C arrives while it runs; its probes then fail
			r := NewResult("second")
			r.Expect("broadcast copies", false, "2", "0", "a peer is missing")
			return r.Finish()
		}}},
		{Scenario: funcScenario{"third", func(context.Context) *Result {
			ran["third"] = true
			return NewResult("third").Finish()
		}}},
	}
	var out strings.Builder
	res := (&Runner{Lab: newFake(), Out: &out}).Run(ctx, sel)
	if len(res) != 3 {
		t.Fatalf("%d results, want one per selected scenario", len(res))
	}
	if ran["third"] {
		t.Error("a scenario ran after the interruption")
	}
	if res[0].Verdict != reports.Pass || res[0].Interrupted {
		t.Errorf("first: %s interrupted=%v", res[0].Verdict, res[0].Interrupted)
	}
	for _, r := range res[1:] {
		if r.Verdict != reports.Error || !r.Interrupted || !strings.HasPrefix(r.Reason, ReasonInterrupted) {
			t.Errorf("%s: %s %q interrupted=%v, want an interrupted error", r.Scenario, r.Verdict, r.Reason, r.Interrupted)
		}
	}
	if !Interrupted(res) {
		t.Error("Interrupted: false")
	}
	if strings.Contains(out.String(), "likely cause") || strings.Contains(out.String(), "FAIL") {
		t.Errorf("progress shows a verdict of the interrupted scenario:\n%s", out.String())
	}
	rep := ToReport("fake", time.Now(), res, nil)
	if c := rep.Scenarios[1].Cause; c != ReasonInterrupted {
		t.Errorf("report cause %q, want only %q", c, ReasonInterrupted)
	}
}

// A cancelled overlay wait says so instead of "not ready after 20s".
func TestWaitReadyInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := WaitReady(ctx, newFake(), 20*time.Second)
	if !errors.Is(err, ErrInterrupted) || strings.Contains(err.Error(), "not ready after") {
		t.Fatalf("got %v, want an interrupted error", err)
	}
}

// Parameter values are checked by type when selected, before any lab.
func TestSelectParamValues(t *testing.T) {
	for arg, want := range map[string]string{
		"vm-live-migration:pause=abc":      `parameter pause: "abc" is not a duration`,
		"vm-live-migration:pause=-1s":      `parameter pause: "-1s" is not a duration`,
		"vm-live-migration:return=yes":     `parameter return: "yes" is not true or false`,
		"bgp-only-workaround:address=fd::": `parameter address: "fd::" is not an IPv4 address`,
		"urpf:exit-rp-filter=strict":       `parameter exit-rp-filter: "strict" is not one of`,
	} {
		if _, err := Select([]string{arg}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", arg, err, want)
		}
	}
	if _, err := Select([]string{"vm-live-migration:pause=200ms,return=false,guest=vm1", "urpf:exit-rp-filter=2"}); err != nil {
		t.Errorf("good values refused: %v", err)
	}
	// Every declared default passes its own check.
	for _, s := range All() {
		for _, p := range s.Params() {
			if p.Default == "" {
				continue
			}
			if err := p.check(p.Default); err != nil {
				t.Errorf("%s: default: %v", s.Name(), err)
			}
		}
	}
}

// Node, guest and host names are checked against the lab file.
func TestCheckNames(t *testing.T) {
	lab, err := topology.Load(filepath.Join("..", "examples", "evpn", "lab.yaml"), sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[string]string{
		"vm-live-migration:to=node9":  `has no node "node9"`,
		"vm-live-migration:guest=vm9": `has no guest "vm9"`,
		"vxlan-injection:from=r9":     `has no router or external host "r9"`,
	} {
		sel, err := Select([]string{arg})
		if err != nil {
			t.Fatal(err)
		}
		err = CheckNames(lab, sel)
		var pe *ParamError
		if !errors.As(err, &pe) || !pe.BadInput() || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a bad-input error with %q", arg, err, want)
		}
	}
	sel, _ := Select([]string{"vm-live-migration:to=node2,guest=vm11", "vxlan-injection:from=external", "mtu"})
	if err := CheckNames(lab, sel); err != nil {
		t.Errorf("names of the lab refused: %v", err)
	}
}

// Scenario files go through the input size cap and the regular-file check.
func TestLoadFileNotRegular(t *testing.T) {
	link := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(link)
	if err == nil || err.Error() != link+": cannot read: not a regular file (a device)" {
		t.Fatalf("got %v", err)
	}
}

// A warn finding gives warn (exit 0), and --strict (Runner.Strict) turns it
// into a failure; an unproven check makes the scenario an error.
func TestWarnStrictUnproven(t *testing.T) {
	warn := funcScenario{"warns", func(context.Context) *Result {
		r := NewResult("warns")
		r.Expect("works", true, "x", "x", "")
		r.ExpectWarn("foreign VXLAN dropped", false, "dropped", "delivered", "Proxmox accepts VXLAN from anyone: filter UDP 4789")
		return r.Finish()
	}}
	unproven := funcScenario{"unproven", func(context.Context) *Result {
		r := NewResult("unproven")
		r.Expect("works", true, "x", "x", "")
		r.Unproven("nothing crossed", "no frame", "the capture lost frames")
		return r.Finish()
	}}
	res := (&Runner{Lab: newFake()}).Run(context.Background(), []Selected{{Scenario: warn}, {Scenario: unproven}})
	if res[0].Verdict != reports.Warn || AnyFailed(res[:1]) || !strings.Contains(res[0].Explain(), `"foreign VXLAN dropped" is a warning`) {
		t.Errorf("warn: %s failed=%v %q", res[0].Verdict, AnyFailed(res[:1]), res[0].Explain())
	}
	if res[0].Lab != newFake().Name() {
		t.Errorf("result not attributed to its lab: %q", res[0].Lab)
	}
	if res[1].Verdict != reports.Error || !strings.Contains(res[1].Reason, "could not be judged: the capture lost frames") {
		t.Errorf("unproven: %s %q", res[1].Verdict, res[1].Reason)
	}
	res = (&Runner{Lab: newFake(), Strict: true}).Run(context.Background(), []Selected{{Scenario: warn}})
	if res[0].Verdict != reports.Fail || !AnyFailed(res) || !strings.Contains(res[0].Explain(), "failed by --strict") {
		t.Errorf("strict: %s %q", res[0].Verdict, res[0].Explain())
	}
	if !strings.Contains(Summary(res), "0 of 1 passed") || NothingRan(res) {
		t.Errorf("summary:\n%s", Summary(res))
	}
	skipped := []*Result{NewResult("a").Skipf("no EVPN zone")}
	if !NothingRan(skipped) || !strings.Contains(Summary(skipped), NoCheckRan) || !strings.Contains(Summary(skipped), "no EVPN zone") {
		t.Errorf("nothing ran:\n%s", Summary(skipped))
	}
}

// The demo runs scenarios on two labs: each keeps its own lab in the
// report, so JUnit files them under the lab they ran on.
func TestReportAttributesLabs(t *testing.T) {
	a := NewResult("snat")
	a.Expect("ok", true, "x", "x", "")
	a.Lab = "demo"
	b := NewResult("cross-rack-migration")
	b.Expect("ok", true, "x", "x", "")
	b.Lab = "demoracks"
	run := ToReport("demo", time.Now(), []*Result{a.Finish(), b.Finish()}, nil)
	var buf strings.Builder
	if err := reports.WriteJUnit(&buf, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<testcase name="cross-rack-migration" classname="sdnlab.demoracks"`) ||
		!strings.Contains(buf.String(), `<testsuite name="sdnlab.demoracks"`) {
		t.Errorf("rack scenario not under its lab:\n%s", buf.String())
	}
}
