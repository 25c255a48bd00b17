package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// LiveGraph is Graph for a running lab read from its state: the SDN
// configuration is read again from the lab's SDN directory and the plans
// from the state directory, and what the kernel and the processes say now
// is added: a node whose control plane is not running is marked down, an
// underlay interface that is down is marked so, and the impairments in
// force are listed.
func LiveGraph(l *Lab, stateDir string) *reports.Topology {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	dir := filepath.Join(stateDir, l.Name)
	l.loadLive(stateDir)
	t := l.Graph()
	// One link dump per switch, not a netlink handle per port.
	down := map[string]map[string]bool{}
	portDown := func(segment, port string) bool {
		ports, ok := down[segment]
		if !ok {
			if seg := l.Segment(segment); seg != nil {
				ports = portsDown(seg.NS)
			}
			down[segment] = ports
		}
		return ports[port]
	}
	// A failed link is a switch port set down (sdnlab link).
	for i, n := range l.Nodes {
		// Without root a process's namespace cannot be read: no verdict.
		if t.Nodes[i].Engine != "" && os.Geteuid() == 0 && !engineRunning(l, dir, n.Name) {
			t.Nodes[i].Down = true
		}
		if portDown(n.Link.Segment, n.Link.Port) {
			t.Nodes[i].Links[0].Note = "down"
		}
	}
	for i, r := range l.Routers {
		for j, ln := range r.Links {
			if portDown(ln.Segment, ln.Port) {
				t.Routers[i].Links[j].Note = "down"
			}
		}
	}
	for i, h := range l.Hosts {
		if portDown(h.Link.Segment, h.Link.Port) {
			t.Hosts[i].Link.Note = "down"
		}
	}
	if faults, err := ReadLinkFaults(l, Options{StateDir: stateDir}); err == nil {
		for _, f := range faults {
			if len(f.Ports) == 2 {
				t.Notes = append(t.Notes, fmt.Sprintf("link %s ↔ %s on %s is down", f.A, f.B, f.Segment))
			}
			if f.P2P != "" {
				t.Notes = append(t.Notes, fmt.Sprintf("point-to-point link %s is down", f.P2P))
			}
		}
	}
	if imps, err := ReadImpairments(stateDir, l.Name); err == nil {
		for _, im := range imps {
			if seg, ok := strings.CutPrefix(im.Via, "segment "); ok {
				for i := range t.Segments {
					if t.Segments[i].Name == seg {
						t.Segments[i].Impaired = im.Spec.String()
					}
				}
				continue
			}
			t.Impaired = append(t.Impaired, reports.TopoImpaired{Thing: im.Thing, Ifname: im.Ifname, Text: im.Spec.String()})
		}
	}
	return t
}

// loadLive fills Config and Plans of a lab read from its state: the SDN
// configuration from the lab's SDN directory, the plans from the state
// directory. Best effort: what cannot be read stays empty.
func (l *Lab) loadLive(stateDir string) {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	dir := filepath.Join(stateDir, l.Name)
	if l.Config == nil && l.SDNDir != "" {
		if cfg, err := config.Load(l.SDNDir, registry.Config()); err == nil {
			l.Config = cfg
		}
	}
	if l.Plans == nil {
		l.Plans = map[string]*plan.NodePlan{}
		for _, n := range l.Nodes {
			if p, err := readPlan(dir, n.Name); err == nil {
				l.Plans[n.Name] = p
			}
		}
	}
}

// VXLANPorts are the UDP ports the lab's VXLAN zones use (4789 unless a
// zone sets vxlan-port), read from the plans.
func (l *Lab) VXLANPorts(stateDir string) []uint16 {
	l.loadLive(stateDir)
	ports := []uint16{4789}
	for _, p := range l.Plans {
		for _, z := range p.Zones {
			if z.VxlanPort > 0 && !slices.Contains(ports, uint16(z.VxlanPort)) {
				ports = append(ports, uint16(z.VxlanPort))
			}
		}
	}
	return ports
}

func engineRunning(l *Lab, dir, node string) bool {
	ok, _ := EngineRunning(l, dir, node)
	return ok
}
