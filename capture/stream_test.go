package capture

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A stream is a pcapng file as it grows: each frame readable back under
// its point's label, with its direction, in the order written.
func TestStreamReadsBack(t *testing.T) {
	points := []Point{{Netns: "ns1", Ifname: "up", Label: "node1:up"}, {Netns: "ns2", Ifname: "eth0"}}
	var buf bytes.Buffer
	s, err := NewStream(&buf, points, 0)
	if err != nil {
		t.Fatal(err)
	}
	frames := replication(t, "x", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	write := []struct {
		point int
		dir   Direction
	}{{0, DirOut}, {1, DirIn}, {0, DirIn}}
	for i, w := range write {
		if err := s.Write(w.point, frames[i].Time, w.dir, len(frames[i].raw), frames[i].raw); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "s.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Points) != 2 || back.Points[0].Label != "node1:up" || back.Points[1].Label != "ns2_eth0" {
		t.Fatalf("points %+v", back.Points)
	}
	if len(back.Packets) != len(write) {
		t.Fatalf("%d packets read back, want %d", len(back.Packets), len(write))
	}
	for i, p := range back.Packets {
		want := back.Points[write[i].point].Label
		if p.Point != want || p.Dir != write[i].dir || !p.Time.Equal(frames[i].Time) || p.VXLAN == nil {
			t.Errorf("packet %d: %s %v at %s (vxlan %v), want %s %v at %s", i, p.Point, p.Dir, p.Time, p.VXLAN != nil, want, write[i].dir, frames[i].Time.Format(time.RFC3339Nano))
		}
	}
	if _, err := NewStream(&buf, nil, 0); err == nil {
		t.Error("a stream of no points was accepted")
	}
}
