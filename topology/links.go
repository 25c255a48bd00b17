package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// Failing a link. Between a node, router or external host and a segment,
// the switch's port of that link goes down: the other end loses carrier,
// as when a cable is pulled. Between two of them on one segment (node to
// node), the segment's switch drops what it would forward from one's port
// to the other's (an nftables bridge rule in the switch namespace), so
// both keep carrier and every other path works: a broken path, not a
// broken port.

// LinkFault is a failed link recorded in the lab's state.
type LinkFault struct {
	A       string `json:"a"`
	B       string `json:"b"`
	Segment string `json:"segment"`
	// Ports are the switch ports involved: one for thing-segment, two for
	// thing-thing.
	Ports []string `json:"ports"`
	// P2P is the point-to-point link between two nodes that is cut (its
	// first node's end is down); Segment and Ports are then empty.
	P2P string `json:"p2p,omitempty"`
}

func linksFile(dir string) string { return filepath.Join(dir, "links.json") }

// ReadLinkFaults lists the failed links of a running lab.
func ReadLinkFaults(l *Lab, opts Options) ([]LinkFault, error) {
	b, err := os.ReadFile(linksFile(opts.LabDir(l.Name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []LinkFault
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("lab %s: bad links.json: %w", l.Name, err)
	}
	return out, nil
}

// linkOf returns the underlay links of a node, router or external host.
func (l *Lab) linksOf(thing string) []Link {
	switch {
	case l.Node(thing) != nil:
		return []Link{l.Node(thing).Link}
	case l.Router(thing) != nil:
		return l.Router(thing).Links
	case l.Host(thing) != nil:
		return []Link{l.Host(thing).Link}
	}
	return nil
}

// ResolveLink finds what joins a and b (a segment and its switch ports),
// or says why nothing does.
func (l *Lab) ResolveLink(a, b string) (LinkFault, error) {
	f := LinkFault{A: a, B: b}
	// Two nodes cabled to each other (a fabric's mesh): that cable.
	if ps := l.P2PBetween(a, b); len(ps) > 0 {
		f.P2P = ps[0].String()
		return f, nil
	}
	if l.Segment(a) != nil && l.Segment(b) == nil {
		a, b = b, a
	}
	if seg := l.Segment(b); seg != nil {
		links := l.linksOf(a)
		if links == nil {
			return f, fmt.Errorf("lab %s has no node, router or external host %q", l.Name, a)
		}
		for _, ln := range links {
			if ln.Segment == seg.Name {
				f.Segment, f.Ports = seg.Name, []string{ln.Port}
				return f, nil
			}
		}
		return f, fmt.Errorf("%s has no link on segment %s", a, seg.Name)
	}
	la, lb := l.linksOf(a), l.linksOf(b)
	if la == nil {
		return f, fmt.Errorf("lab %s has no node, router, external host or segment %q", l.Name, a)
	}
	if lb == nil {
		return f, fmt.Errorf("lab %s has no node, router, external host or segment %q", l.Name, b)
	}
	if a == b {
		return f, fmt.Errorf("a link joins two different things (got %s twice)", a)
	}
	for _, x := range la {
		for _, y := range lb {
			if x.Segment == y.Segment {
				f.Segment, f.Ports = x.Segment, []string{x.Port, y.Port}
				return f, nil
			}
		}
	}
	return f, fmt.Errorf("%s and %s share no segment: no link joins them", a, b)
}

// SetLink fails (up false) or restores the link between a and b and
// returns what it did.
func SetLink(l *Lab, opts Options, a, b string, up bool) (LinkFault, error) {
	f, err := l.ResolveLink(a, b)
	if err != nil {
		return f, err
	}
	seg := l.Segment(f.Segment)
	faults, err := ReadLinkFaults(l, opts)
	if err != nil {
		return f, err
	}
	same := func(o LinkFault) bool {
		return o.Segment == f.Segment && slices.Equal(sorted(o.Ports), sorted(f.Ports)) && o.P2P == f.P2P
	}
	faults = slices.DeleteFunc(faults, same)
	if !up {
		faults = append(faults, f)
	}
	if f.P2P != "" {
		// a's end goes administratively down, so b's end loses carrier,
		// as when the cable is pulled (whichever way the lab file lists it).
		p := l.P2PBetween(a, b)[0]
		node, ifname := p.A, p.AIf
		if p.B == a {
			node, ifname = p.B, p.BIf
		}
		if err := nsutil.SetLinkUp(l.Node(node).NS, ifname, up); err != nil {
			return f, fmt.Errorf("link %s: %w", p, err)
		}
	} else if len(f.Ports) == 1 {
		if err := nsutil.SetLinkUp(seg.NS, f.Ports[0], up); err != nil {
			return f, fmt.Errorf("switch port %s: %w", f.Ports[0], err)
		}
	} else if err := syncPathRules(seg, faults); err != nil {
		return f, err
	}
	return f, writeJSON(linksFile(opts.LabDir(l.Name)), faults)
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// pathTable is the bridge table in a switch namespace holding the drop
// rules of failed thing-to-thing links.
const pathTable = "sdnlab_links"

// syncPathRules rewrites the switch's table from the faults on its segment.
func syncPathRules(seg *Segment, faults []LinkFault) error {
	return nsutil.NFT(seg.NS, func(c *nftables.Conn) error { return pathRules(c, seg, faults) })
}

func pathRules(c *nftables.Conn, seg *Segment, faults []LinkFault) error {
	t := &nftables.Table{Family: nftables.TableFamilyBridge, Name: pathTable}
	// Add then delete empties an existing table and tolerates a missing one.
	c.AddTable(t)
	c.DelTable(t)
	var pairs [][2]string
	for _, f := range faults {
		if f.Segment == seg.Name && len(f.Ports) == 2 {
			pairs = append(pairs, [2]string{f.Ports[0], f.Ports[1]}, [2]string{f.Ports[1], f.Ports[0]})
		}
	}
	if len(pairs) > 0 {
		c.AddTable(t)
		policy := nftables.ChainPolicyAccept
		ch := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &policy})
		for _, p := range pairs {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameBytes(p[0])},
				&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameBytes(p[1])},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("switch %s: nftables: %w", seg.Name, err)
	}
	return nil
}

func ifnameBytes(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

// portsDown are the links of namespace ns (a switch's ports) that are
// administratively down, from one dump; nil when it cannot be read.
func portsDown(ns string) map[string]bool {
	h, err := nsutil.Handle(ns)
	if err != nil {
		return nil
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil
	}
	down := map[string]bool{}
	for _, ln := range links {
		if ln.Attrs().Flags&net.FlagUp == 0 {
			down[ln.Attrs().Name] = true
		}
	}
	return down
}
