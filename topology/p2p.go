package topology

// Point-to-point links between nodes (underlay.links): the cables of a
// fabric's mesh. Each is a veth whose ends are in the two node namespaces
// under the interface names the fabric configuration uses (ens19, eno1).

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// P2PLink is a point-to-point link between two nodes.
type P2PLink struct {
	A   string `json:"a"`
	AIf string `json:"aIf"`
	B   string `json:"b"`
	BIf string `json:"bIf"`
	MTU int    `json:"mtu"`
	pos config.Pos
}

// String is "a:aif-b:bif".
func (l P2PLink) String() string { return l.A + ":" + l.AIf + "-" + l.B + ":" + l.BIf }

// End returns the interface of node on the link and the node at the other
// end ("" when node is on neither end).
func (l P2PLink) End(node string) (ifname, peer string) {
	switch node {
	case l.A:
		return l.AIf, l.B
	case l.B:
		return l.BIf, l.A
	}
	return "", ""
}

// P2PBetween returns the links joining nodes a and b.
func (l *Lab) P2PBetween(a, b string) []P2PLink {
	var out []P2PLink
	for _, p := range l.P2P {
		if (p.A == a && p.B == b) || (p.A == b && p.B == a) {
			out = append(out, p)
		}
	}
	return out
}

// links resolves underlay.links: both ends on known, different nodes, an
// interface name the kernel takes, each node interface on one link only
// and never one of the node's own underlay interfaces.
func (r *resolver) links() {
	used := map[string]config.Pos{}
	for i, ls := range r.s.Links {
		f := fmt.Sprintf("underlay.links[%d]", i)
		var ends [2][2]string
		ok := true
		for j, e := range ls.Ends {
			node, ifname, found := strings.Cut(e.V, ":")
			n := r.lab.Node(node)
			switch {
			case !found || node == "" || ifname == "":
				r.errf(e.Pos, f, "%q is not node:ifname (e.g. node1:ens19)", e.V)
				ok = false
				continue
			case n == nil:
				r.errf(e.Pos, f, "unknown node %q (nodes: %s)", node, r.nodeNames())
				ok = false
				continue
			}
			if err := nsutil.CheckIfname(ifname); err != nil {
				r.errf(e.Pos, f, "%s: %v", e.V, err)
				ok = false
				continue
			}
			if slices.Contains(n.UnderlayIfaces(), ifname) || ifname == "lo" || (n.host != nil && n.host.Ifaces[ifname] != nil && len(n.host.Ifaces[ifname].BridgePorts) > 0) {
				r.errf(e.Pos, f, "%s: %s is one of node %s's own underlay interfaces (its NIC or a bridge): a link needs an interface of its own", e.V, ifname, node)
				ok = false
				continue
			}
			if prev, dup := used[node+":"+ifname]; dup {
				r.errf(e.Pos, f, "%s is already the end of the link at %s: an interface is on one link", e.V, prev)
				ok = false
				continue
			}
			used[node+":"+ifname] = e.Pos
			ends[j] = [2]string{node, ifname}
		}
		if !ok {
			continue
		}
		if ends[0][0] == ends[1][0] {
			r.errf(ls.Pos, f, "both ends are on node %s: a link joins two nodes", ends[0][0])
			continue
		}
		l := P2PLink{A: ends[0][0], AIf: ends[0][1], B: ends[1][0], BIf: ends[1][1], MTU: DefaultMTU, pos: ls.Pos}
		r.lab.P2P = append(r.lab.P2P, l)
		for _, e := range ends {
			n := r.lab.Node(e[0])
			n.P2P = append(n.P2P, e[1])
		}
	}
}

// checkFabricLinks warns about a fabric interface of a node that no link
// of the lab file provides (the fabric then has no adjacency there: a lab
// may lack a cable on purpose) and about a link no fabric uses.
func (r *resolver) checkFabricLinks() {
	for _, n := range r.lab.Nodes {
		p := r.lab.Plans[n.Name]
		if p == nil {
			continue
		}
		fabricIfs := map[string]bool{}
		var names []string
		for _, ifc := range p.Ifaces {
			if ifc.Kind == plan.KindPhysical {
				names = append(names, ifc.Name)
			}
		}
		// A BGP fabric's unnumbered sessions name their interfaces only
		// in frr.conf (no interfaces.d stanza without an address).
		if r := p.FRR.DefaultRouter(); r != nil {
			for _, g := range r.NeighborGroups {
				names = append(names, g.Interfaces...)
			}
		}
		for _, name := range names {
			if fabricIfs[name] {
				continue
			}
			fabricIfs[name] = true
			if !slices.Contains(n.P2P, name) {
				r.lab.Warnings = append(r.lab.Warnings, fmt.Sprintf("%s: underlay.links: node %s has no link on %s, an interface of its fabric: no adjacency there (add [%s:%s, <node>:<ifname>])",
					n.pos, n.Name, name, n.Name, name))
			}
		}
		for _, l := range r.lab.P2P {
			if ifname, _ := l.End(n.Name); ifname != "" && !fabricIfs[ifname] {
				r.lab.Warnings = append(r.lab.Warnings, fmt.Sprintf("%s: underlay.links: link %s: %s is in no fabric of node %s: it carries nothing", l.pos, l, ifname, n.Name))
			}
		}
	}
}

// buildP2P makes each link's veth between its two node namespaces and
// brings both ends up (the realizer gives them the fabric's addresses).
func buildP2P(lab *Lab) error {
	var errs []error
	for _, l := range lab.P2P {
		if err := buildOneP2P(lab, l); err != nil {
			errs = append(errs, fmt.Errorf("link %s: %w", l, err))
		}
	}
	return errors.Join(errs...)
}

func buildOneP2P(lab *Lab, l P2PLink) error {
	a, err := nsutil.OpenNS(lab.Node(l.A).NS, false)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := nsutil.OpenNS(lab.Node(l.B).NS, false)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := a.EnsureVeth(l.AIf, portMAC(a.Name, l.AIf), l.MTU, b, l.BIf, portMAC(b.Name, l.BIf)); err != nil {
		return err
	}
	if err := a.Up(l.AIf); err != nil {
		return err
	}
	return b.Up(l.BIf)
}
