package scenarios

import (
	"slices"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/reports"
)

// Which exit node carries a guest's flows is the ECMP hash's choice (its
// seed is random per boot), so the two engines' runs fail different exit
// nodes. The checks and figures the cross-check compares by name must not
// name the failed node, or the same outcome reads as an engine divergence.
func TestExitNodeFailoverNamesIndependentOfVictim(t *testing.T) {
	run := func(victim string) *Result {
		r := NewResult("exit-node-failover")
		fo := &foRun{r: r, victim: Node{Name: victim}}
		fo.reportWithdrawal(time.Second)
		flows := []foFlow{{name: "out1", port: foOutPort, via: victim, recs: mkRecords(time.Now(), 10, func(int) bool { return false })}}
		exitNodeFailover{}.direction(r, nil, nil, flows, false, Node{Name: victim}, time.Now(), foSetup{}, 2)
		r.Verdict = reports.Fail
		return r
	}
	a, f := run("node1"), run("node2")
	names := func(r *Result) []string {
		var out []string
		for _, c := range r.Checks {
			out = append(out, "check "+c.Name)
		}
		for _, x := range r.Figures {
			if x.Text == "" {
				out = append(out, "figure "+x.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	if na, nf := names(a), names(f); !slices.Equal(na, nf) {
		t.Errorf("check and figure names depend on the failed node:\nnode1: %q\nnode2: %q", na, nf)
	}
	if c := Compare([]*Result{a}, []*Result{f}); c.Verdict != reports.Pass {
		t.Errorf("same outcome on two exit nodes compared as %s:\n%s", c.Verdict, c.Explain())
	}
}
