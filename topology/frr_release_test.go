package topology

import (
	"strings"
	"testing"
)

// --frr takes what the lab file's frr: takes, and a release it does not
// run is refused naming it.
func TestSetFRR(t *testing.T) {
	l := &Lab{Nodes: []*Node{{Name: "node1", FRRRelease: "10"}}}
	if err := l.SetFRR(""); err != nil || l.Nodes[0].FRRRelease != "10" {
		t.Fatalf("SetFRR(\"\"): %v, release %q: want the lab file's choice kept", err, l.Nodes[0].FRRRelease)
	}
	if err := l.SetFRR("8.4"); err != nil || l.Nodes[0].FRRRelease != "" {
		t.Fatalf("SetFRR(8.4): %v, release %q: want the host's", err, l.Nodes[0].FRRRelease)
	}
	if err := l.SetFRR("9"); err == nil || !strings.Contains(err.Error(), `"9"`) {
		t.Fatalf("SetFRR(9): %v, want a refusal naming 9", err)
	}
}
