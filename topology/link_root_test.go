package topology

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Pulling a point-to-point cable takes down the end on the node named
// first, whichever way the lab file lists the cable (it took down the lab
// file's first end), records the fault, and plugging it back restores it.
func TestSetLinkP2PEnd(t *testing.T) {
	needRoot(t)
	abs, err := filepath.Abs("../examples/vxlan")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(file, []byte(`sdn: `+abs+`
nodes:
  node1: {interfaces: `+abs+`/interfaces.node1}
  node2: {interfaces: `+abs+`/interfaces.node2}
  node3: {interfaces: `+abs+`/interfaces.node3}
underlay:
  segments:
    lan: {subnet: 192.168.0.0/24, mtu: 1500}
  links:
    - [node1:ens19, node2:ens19]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{StateDir: t.TempDir()}
	lab := upLab(t, file, "ln", opts)
	adminUp := func(node, ifname string) bool {
		h, err := nsutil.Handle(lab.Node(node).NS)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		l, err := h.LinkByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().RawFlags&1 != 0 // IFF_UP
	}
	if _, err := SetLink(lab, opts, "node2", "node1", false); err != nil {
		t.Fatal(err)
	}
	if adminUp("node2", "ens19") || !adminUp("node1", "ens19") {
		t.Errorf("link node2 node1 down: node2's end up %v, node1's end up %v; want only node2's end down",
			adminUp("node2", "ens19"), adminUp("node1", "ens19"))
	}
	if faults, err := ReadLinkFaults(lab, opts); err != nil || len(faults) != 1 {
		t.Errorf("recorded faults %v, %v; want the one cut", faults, err)
	}
	if _, err := SetLink(lab, opts, "node2", "node1", true); err != nil {
		t.Fatal(err)
	}
	if !adminUp("node2", "ens19") {
		t.Error("link node2 node1 up: node2's end still down")
	}
	if faults, err := ReadLinkFaults(lab, opts); err != nil || len(faults) != 0 {
		t.Errorf("recorded faults after up %v, %v; want none", faults, err)
	}
}
