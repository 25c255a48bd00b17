package scenarios

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/capture"
)

// A merged capture in the evidence brings its per-interface pcaps along,
// each a file the HTML report links.
func TestToReportLinksCaptures(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{capture.MergedFile, "node1_eth0.pcap", "vm11_eth0.pcap", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := NewResult("x")
	r.Pcap("migration", filepath.Join(dir, capture.MergedFile))
	run := ToReport("lab", time.Now(), []*Result{r}, nil)
	files := run.Scenarios[0].Files
	if len(files) != 3 || files[0].Name != "migration" || files[1].Name != "migration node1_eth0" || files[2].Path != filepath.Join(dir, "vm11_eth0.pcap") {
		t.Fatalf("files %+v", files)
	}
}
