package capture

import (
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// Filter selects frames. Filters see every frame, outer (Depth 0) and inner
// (inside VXLAN), unless they restrict the depth themselves.
type Filter func(*Packet) bool

// All is true when every filter is (no filters: always true).
func All(fs ...Filter) Filter {
	return func(p *Packet) bool {
		for _, f := range fs {
			if f != nil && !f(p) {
				return false
			}
		}
		return true
	}
}

// Any is true when one of the filters is.
func Any(fs ...Filter) Filter {
	return func(p *Packet) bool {
		for _, f := range fs {
			if f != nil && f(p) {
				return true
			}
		}
		return false
	}
}

// Not negates f.
func Not(f Filter) Filter { return func(p *Packet) bool { return !f(p) } }

// AtPoint keeps frames captured on one of the labelled points.
func AtPoint(labels ...string) Filter {
	return func(p *Packet) bool { return slices.Contains(labels, p.Point) }
}

// Outgoing keeps frames sent by the capture interface; Incoming those received.
func Outgoing() Filter { return func(p *Packet) bool { return p.Dir == DirOut } }

// Incoming keeps frames received by the capture interface.
func Incoming() Filter { return func(p *Packet) bool { return p.Dir == DirIn } }

// Outer keeps captured frames only (Depth 0).
func Outer() Filter { return func(p *Packet) bool { return p.Depth == 0 } }

// InVXLAN keeps frames carried inside VXLAN; with VNIs, only inside those.
func InVXLAN(vnis ...uint32) Filter {
	return func(p *Packet) bool {
		return p.Parent != nil && p.Parent.VXLAN != nil && (len(vnis) == 0 || slices.Contains(vnis, p.Parent.VXLAN.VNI))
	}
}

// HasVXLAN keeps frames that carry VXLAN; with VNIs, only those VNIs.
func HasVXLAN(vnis ...uint32) Filter {
	return func(p *Packet) bool {
		return p.VXLAN != nil && (len(vnis) == 0 || slices.Contains(vnis, p.VXLAN.VNI))
	}
}

// ARPRequestFor keeps ARP requests asking for ip. Gratuitous requests (the
// owner of ip announcing itself) are not questions and do not match.
func ARPRequestFor(ip netip.Addr) Filter {
	return func(p *Packet) bool {
		return p.ARP != nil && p.ARP.Op == ARPRequest && p.ARP.TargetIP == ip && !p.ARP.Gratuitous()
	}
}

// NeighborSolicitFor keeps ND neighbor solicitations for target.
func NeighborSolicitFor(target netip.Addr) Filter {
	return func(p *Packet) bool { return p.ND != nil && p.ND.Kind == NDNeighborSolicit && p.ND.Target == target }
}

// IPBetween keeps IP packets between a and b in either direction (an invalid
// address matches any).
func IPBetween(a, b netip.Addr) Filter {
	m := func(x, y netip.Addr) bool { return !x.IsValid() || x == y }
	return func(p *Packet) bool {
		return p.SrcIP.IsValid() && (m(a, p.SrcIP) && m(b, p.DstIP) || m(a, p.DstIP) && m(b, p.SrcIP))
	}
}

// FromMAC keeps frames whose source MAC is mac (e.g. "02:00:00:00:00:01").
func FromMAC(mac string) Filter {
	return func(p *Packet) bool { return strings.EqualFold(p.SrcMAC.String(), mac) }
}

// Broadcast keeps frames sent to ff:ff:ff:ff:ff:ff.
func Broadcast() Filter { return (*Packet).IsBroadcast }

// IsFragment keeps IPv4 fragments and IPv6 packets with a fragment header.
func IsFragment() Filter { return func(p *Packet) bool { return p.Frag != nil } }

// Frames returns every frame (outer and inner) matching all filters, in
// capture order.
func (r *Result) Frames(fs ...Filter) []*Packet {
	f := All(fs...)
	var out []*Packet
	for _, p := range r.Packets {
		for _, q := range p.Frames() {
			if f(q) {
				out = append(out, q)
			}
		}
	}
	return out
}

// CountMatching counts the frames matching all filters.
func (r *Result) CountMatching(fs ...Filter) int { return len(r.Frames(fs...)) }

// VNIsSeen lists the VNIs of VXLAN frames matching the filters, ascending.
func (r *Result) VNIsSeen(fs ...Filter) []uint32 {
	var out []uint32
	for _, p := range r.Frames(append(fs, HasVXLAN())...) {
		if !slices.Contains(out, p.VXLAN.VNI) {
			out = append(out, p.VXLAN.VNI)
		}
	}
	slices.Sort(out)
	return out
}

// AssertionError is a failed assertion with the packets that show why.
type AssertionError struct {
	Assertion string    // what was asserted
	Detail    string    // what was found instead
	Evidence  []*Packet // the offending frames (may be inner frames)
}

// MaxEvidence bounds the packets listed in an AssertionError's text.
const MaxEvidence = 10

func (e *AssertionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Assertion, e.Detail)
	for i, p := range e.Evidence {
		if i == MaxEvidence {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Evidence)-MaxEvidence)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.Evidence())
	}
	return b.String()
}

// EvidenceLines is the evidence as text lines (for reports), at most MaxEvidence.
func (e *AssertionError) EvidenceLines() []string {
	var out []string
	for i, p := range e.Evidence {
		if i == MaxEvidence {
			out = append(out, fmt.Sprintf("... and %d more", len(e.Evidence)-MaxEvidence))
			break
		}
		out = append(out, p.Evidence())
	}
	return out
}

func fail(assertion string, evidence []*Packet, format string, args ...any) error {
	return &AssertionError{Assertion: assertion, Detail: fmt.Sprintf(format, args...), Evidence: evidence}
}

// None fails when any frame matches; what names the frames in the message.
// When nothing matched but the capture lost frames it returns an
// *IncompleteError: absence is not shown by an incomplete capture.
func (r *Result) None(what string, fs ...Filter) error {
	if m := r.Frames(fs...); len(m) > 0 {
		return fail("no "+what, m, "%d seen", len(m))
	}
	if lost := r.Lost(); lost != "" {
		return &IncompleteError{Assertion: "no " + what, Lost: lost}
	}
	return nil
}

// Some fails when no frame matches.
func (r *Result) Some(what string, fs ...Filter) error {
	if r.CountMatching(fs...) == 0 {
		return fail("some "+what, nil, "none seen in %d captured frames", len(r.Packets))
	}
	return nil
}

// NoARPRequestFor fails if an ARP request for ip was captured, at any depth
// (restrict with filters, e.g. AtPoint(...), InVXLAN()).
func (r *Result) NoARPRequestFor(ip netip.Addr, fs ...Filter) error {
	return r.None(fmt.Sprintf("ARP request for %s", ip), append(fs, ARPRequestFor(ip))...)
}

// EveryVXLANFrom checks that every VXLAN frame matching the filters (for
// example AtPoint("n1-uplink"), Outgoing()) has outer source vtep and VNI vni.
// It fails when no VXLAN frame matches: an empty capture proves nothing.
func (r *Result) EveryVXLANFrom(vtep netip.Addr, vni uint32, fs ...Filter) error {
	name := fmt.Sprintf("every VXLAN frame from %s has VNI %d", vtep, vni)
	all := r.Frames(append(fs, HasVXLAN())...)
	if len(all) == 0 {
		return fail(name, nil, "no VXLAN frame matched (of %d captured)", len(r.Packets))
	}
	var bad []*Packet
	for _, p := range all {
		if p.SrcIP != vtep || p.VXLAN.VNI != vni {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		return fail(name, bad, "%d of %d VXLAN frames differ", len(bad), len(all))
	}
	return nil
}

// NoOuterFragments fails if a captured (outer) frame is an IP fragment.
func (r *Result) NoOuterFragments(fs ...Filter) error {
	return r.None("outer IP fragments", append(fs, Outer(), IsFragment())...)
}

// BroadcastReplicatedOnce checks head-end replication of a broadcast (or
// multicast) frame in vni: among the VXLAN frames matching the filters
// (typically the sender's uplink point(s)) whose inner frame is a
// broadcast or multicast matching inner (nil: any), each VTEP in remotes
// received exactly one copy and no other destination received any. A copy
// seen at several points counts once: copies are told apart by outer
// source, destination, IPv4 ID and inner bytes, and where those are equal
// (an IPv6 outer header has no ID) by how often one point saw them.
func (r *Result) BroadcastReplicatedOnce(vni uint32, remotes []netip.Addr, inner Filter, fs ...Filter) error {
	name := fmt.Sprintf("broadcast in VNI %d replicated once to each of %v", vni, remotes)
	type copyKey struct {
		src, dst netip.Addr
		id       uint32
		inner    uint64
	}
	type copies struct {
		perPoint map[string][]*Packet
	}
	byKey := map[copyKey]*copies{}
	var keys []copyKey
	for _, p := range r.Frames(append(fs, HasVXLAN(vni))...) {
		in := p.VXLAN.Inner
		if in == nil || !in.IsMulticast() || (inner != nil && !inner(in)) {
			continue
		}
		k := copyKey{src: p.SrcIP, dst: p.DstIP, id: p.IPID, inner: in.hash()}
		c := byKey[k]
		if c == nil {
			c = &copies{perPoint: map[string][]*Packet{}}
			byKey[k] = c
			keys = append(keys, k)
		}
		c.perPoint[p.Point] = append(c.perPoint[p.Point], p)
	}
	perDst := map[netip.Addr][]*Packet{}
	for _, k := range keys {
		var most []*Packet
		for _, ps := range byKey[k].perPoint {
			if len(ps) > len(most) || len(ps) == len(most) && len(ps) > 0 && ps[0].Index < most[0].Index {
				most = ps
			}
		}
		perDst[k.dst] = append(perDst[k.dst], most...)
	}
	var problems []string
	var evidence []*Packet
	for _, v := range remotes {
		if n := len(perDst[v]); n != 1 {
			problems = append(problems, fmt.Sprintf("%s got %d copies", v, n))
			evidence = append(evidence, perDst[v]...)
		}
	}
	var others []netip.Addr
	for d := range perDst {
		if !slices.Contains(remotes, d) {
			others = append(others, d)
		}
	}
	slices.SortFunc(others, netip.Addr.Compare)
	for _, d := range others {
		problems = append(problems, fmt.Sprintf("%s (not a remote VTEP) got %d", d, len(perDst[d])))
		evidence = append(evidence, perDst[d]...)
	}
	if len(problems) > 0 {
		return fail(name, evidence, "%s", strings.Join(problems, ", "))
	}
	// "Exactly once, nowhere else" claims the absence of other copies.
	if lost := r.Lost(); lost != "" {
		return &IncompleteError{Assertion: name, Lost: lost}
	}
	return nil
}

// hash identifies a frame's content (for de-duplicating copies of one frame
// seen at several points).
func (p *Packet) hash() uint64 {
	h := fnv.New64a()
	h.Write(p.raw)
	return h.Sum64()
}

// WriteText writes one Evidence line per captured frame whose outer or
// inner frame matches the filters (all frames without filters), in time order.
func (r *Result) WriteText(w io.Writer, fs ...Filter) error {
	f := All(fs...)
	for _, p := range r.Packets {
		if slices.ContainsFunc(p.Frames(), f) {
			if _, err := fmt.Fprintln(w, p.Evidence()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Data returns the captured bytes of the frame (for an inner frame, the
// bytes after the VXLAN header).
func (p *Packet) Data() []byte { return p.raw }
