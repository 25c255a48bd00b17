package topology

import (
	"context"
	"fmt"

	"github.com/sdnlab/sdnlab/topology/impair"
)

// DeclaredImpairment is an impairment the lab file puts on a segment (all
// its switch ports) or on one link (Thing's interface on Segment, both
// directions). Up applies it once the lab is built.
type DeclaredImpairment struct {
	Segment string      `json:"segment"`
	Thing   string      `json:"thing,omitempty"` // a node or router; "" for the whole segment
	Spec    impair.Spec `json:"spec"`
}

func (d DeclaredImpairment) String() string {
	if d.Thing == "" {
		return "segment " + d.Segment + ": " + d.Spec.String()
	}
	return d.Thing + " on " + d.Segment + ": " + d.Spec.String()
}

// impairments collects the lab file's impair: settings. Names were checked
// by segments, nodes and routers; ranges by the parser.
func (r *resolver) impairments() {
	for _, ss := range r.s.Segments {
		if ss.Impair.Set && !ss.Impair.Spec.Zero() && r.lab.Segment(ss.Name.V) != nil {
			r.lab.Impairments = append(r.lab.Impairments, DeclaredImpairment{Segment: ss.Name.V, Spec: ss.Impair.Spec})
		}
	}
	for _, ns := range r.s.Nodes {
		if n := r.lab.Node(ns.Name.V); n != nil && ns.Impair.Set && !ns.Impair.Spec.Zero() {
			r.lab.Impairments = append(r.lab.Impairments, DeclaredImpairment{Segment: n.Link.Segment, Thing: n.Name, Spec: ns.Impair.Spec})
		}
	}
	for _, rs := range r.s.Routers {
		for _, ri := range rs.Ifaces {
			if ri.Impair.Set && !ri.Impair.Spec.Zero() && r.lab.Router(rs.Name.V) != nil && r.lab.Segment(ri.Segment.V) != nil {
				r.lab.Impairments = append(r.lab.Impairments, DeclaredImpairment{Segment: ri.Segment.V, Thing: rs.Name.V, Spec: ri.Impair.Spec})
			}
		}
	}
}

// declaredRefs are the interfaces a declared impairment covers: every port
// of the segment's switch, or both ends of one link.
func (l *Lab) declaredRefs(d DeclaredImpairment) ([]IfaceRef, error) {
	seg := l.Segment(d.Segment)
	if seg == nil {
		return nil, fmt.Errorf("impairment on unknown segment %s", d.Segment)
	}
	if d.Thing == "" {
		return l.ResolveIfaces(d.Segment)
	}
	ns := l.NS(d.Thing)
	for _, ln := range l.linksOf(d.Thing) {
		if ln.Segment == d.Segment {
			via := "link " + d.Thing + "-" + d.Segment
			return []IfaceRef{
				{Thing: d.Thing, NS: ns, Ifname: ln.Ifname, Via: via},
				{Thing: "sw-" + seg.Name, NS: seg.NS, Ifname: ln.Port, Via: via},
			}, nil
		}
	}
	return nil, fmt.Errorf("%s has no link on segment %s", d.Thing, d.Segment)
}

// applyDeclared puts the lab file's impairments on the built lab. Where a
// link's impairment meets its segment's on the same switch port, the two
// combine (the link's values win where both set one).
func applyDeclared(ctx context.Context, l *Lab, opts Options, pr *progress) error {
	type one struct {
		ref  IfaceRef
		spec impair.Spec
	}
	var all []*one
	at := map[string]*one{}
	for _, d := range l.Impairments {
		refs, err := l.declaredRefs(d)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			key := ref.NS + "\x00" + ref.Ifname
			o := at[key]
			if o == nil {
				o = &one{ref: ref}
				at[key] = o
				all = append(all, o)
			} else {
				o.ref.Via = ref.Via
			}
			o.spec = combine(o.spec, d.Spec)
		}
		pr.printf("impair %s", d)
	}
	for _, o := range all {
		if _, err := Impair(ctx, l, opts, []IfaceRef{o.ref}, o.spec); err != nil {
			return fmt.Errorf("impair %s:%s: %w", o.ref.Thing, o.ref.Ifname, err)
		}
	}
	return nil
}

// combine lays b over a: each value b sets replaces a's.
func combine(a, b impair.Spec) impair.Spec {
	if b.Loss > 0 {
		a.Loss = b.Loss
	}
	if b.Delay > 0 {
		a.Delay = b.Delay
	}
	if b.Jitter > 0 {
		a.Jitter = b.Jitter
	}
	if b.Rate > 0 {
		a.Rate = b.Rate
	}
	return a
}
