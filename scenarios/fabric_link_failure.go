package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// fabricLinkFailure cuts a point-to-point link of a fabric's mesh while
// UDP streams run both ways between guests on the two nodes of that link,
// and measures from the probes' sequence numbers and arrival times what
// was lost and when the overlay recovered. It passes when both streams
// recover within the timeout and the VTEP route of one node to the other
// then leaves through another link (over the third node): the fabric
// rerouted the overlay. The cut links are restored at the end.
type fabricLinkFailure struct{}

func newFabricLinkFailure() Scenario { return fabricLinkFailure{} }

func (fabricLinkFailure) Name() string { return "fabric-link-failure" }
func (fabricLinkFailure) Description() string {
	return "cut a fabric mesh link under UDP streams between guests on its two nodes; loss, recovery time, the overlay rerouted over another node"
}
func (fabricLinkFailure) Params() []Param {
	return []Param{
		{Name: "link", Default: "", Help: "the link to cut, NODE-NODE (default: the first link whose two nodes have guests on one VNet)"},
		{Name: "also", Default: "", Help: "more links cut at the same moment, NODE-NODE,... (a mesh left without a redundant path)"},
		{Name: "interval", Default: "5ms", Kind: KindDuration, Help: "probe interval of each stream"},
		{Name: "timeout", Default: "45s", Kind: KindDuration, Help: "how long the overlay may take to recover (FRR's default LSP generation interval, 30 s, can hold a reroute that long)"},
	}
}

// Ports of the two streams (a -> b, b -> a).
const flfPort = 41500

// flfPlan is what the scenario found in the lab.
type flfPlan struct {
	a, b   Node
	ga, gb Guest
	cuts   [][2]Node // links cut: [node holding the end set down, the other]
}

func (s fabricLinkFailure) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	interval, err1 := env.Duration("interval")
	timeout, err2 := env.Duration("timeout")
	if err := firstErr(err1, err2); err != nil {
		return r.Errorf("%v", err)
	}
	p, skip, err := s.plan(env)
	if err != nil {
		return r.Errorf("%v", err)
	}
	if skip != "" {
		return r.Skipf("%s", skip)
	}
	var cutNames []string
	for _, c := range p.cuts {
		cutNames = append(cutNames, fmt.Sprintf("%s-%s (%s:%s)", c[0].Name, c[1].Name, c[0].Name, c[0].Links[c[1].Name]))
	}
	r.Text("failure", "cut "+strings.Join(cutNames, ", "))
	r.Text("streams", fmt.Sprintf("%s (on %s) <-> %s (on %s), every %s", p.ga.Name, p.a.Name, p.gb.Name, p.b.Name, interval))
	env.progress("cutting %s under streams %s <-> %s", strings.Join(cutNames, ", "), p.ga.Name, p.gb.Name)

	st := NewSteps(env, r)
	defer st.Close()
	ab, ba := "a-b", "b-a"
	if err := st.StartStream(ab, StreamSpec{Label: p.ga.Name + " -> " + p.gb.Name, From: p.ga.NS, To: p.gb.NS, Dst: p.gb.IPv4.Addr(), Port: flfPort, Interval: interval}); err != nil {
		return r.Errorf("stream: %v", err)
	}
	if err := st.StartStream(ba, StreamSpec{Label: p.gb.Name + " -> " + p.ga.Name, From: p.gb.NS, To: p.ga.NS, Dst: p.ga.IPv4.Addr(), Port: flfPort + 1, Interval: interval}); err != nil {
		return r.Errorf("stream: %v", err)
	}
	// Both streams must carry before the cut, or the loss says nothing.
	if _, ok, _ := st.WaitFor(ctx, 5*time.Second, 50*time.Millisecond, func() (bool, error) {
		return arrived(st, ab) > 20 && arrived(st, ba) > 20, nil
	}); !ok {
		return r.Errorf("the streams %s <-> %s carried nothing before the cut: the overlay does not work here", p.ga.Name, p.gb.Name)
	}
	vtepB := p.b.VTEP
	before, _ := s.routeDev(env, p.a, vtepB)

	cutAt := time.Now()
	defer s.restore(env, p)
	for _, c := range p.cuts {
		if err := s.setLink(env, c[0], c[1], false); err != nil {
			return r.Errorf("cut %s-%s: %v", c[0].Name, c[1].Name, err)
		}
	}
	st.Event(cutAt, "failure", "cut "+strings.Join(cutNames, ", "))

	// Until the timeout: watch node A's route to B's VTEP leave through
	// another mesh link, and both streams recover (five arrivals in a row
	// after the loss); at least a second after the cut, so that a loss
	// still in flight is seen.
	cutIf := p.a.Links[p.b.Name]
	meshIf := func(dev string) bool {
		for _, ifn := range p.a.Links {
			if dev == ifn && dev != cutIf {
				return true
			}
		}
		return false
	}
	var rerouteAt time.Time
	st.WaitFor(ctx, timeout, 20*time.Millisecond, func() (bool, error) {
		if rerouteAt.IsZero() {
			if dev, err := s.routeDev(env, p.a, vtepB); err == nil && meshIf(dev) {
				rerouteAt = time.Now()
			}
		}
		if time.Since(cutAt) < time.Second || rerouteAt.IsZero() {
			return false, nil
		}
		for _, n := range []string{ab, ba} {
			sm, _ := st.Stream(n)
			if o := outageAt(sm.Records(), cutAt, 5); o.Affected && o.Recovered.IsZero() {
				return false, nil
			}
		}
		return true, nil
	})
	after, afterErr := s.routeDev(env, p.a, vtepB)
	if !rerouteAt.IsZero() {
		r.Ms("VTEP route rerouted after the cut", rerouteAt.Sub(cutAt))
		st.Event(rerouteAt, "route", p.a.Name+"'s route to "+p.b.Name+"'s VTEP via another link")
	}
	_, recs, err := st.StopStreams([]string{ab, ba}, 300*time.Millisecond)
	if err != nil {
		return r.Errorf("%v", err)
	}

	allRecovered := true
	var worst time.Duration
	for _, n := range []string{ab, ba} {
		lbl := p.ga.Name + " -> " + p.gb.Name
		if n == ba {
			lbl = p.gb.Name + " -> " + p.ga.Name
		}
		o := outageAt(recs[n], cutAt, 5)
		r.Figure(lbl+": lost", float64(o.Lost), "datagrams")
		switch {
		case !o.Affected && o.Recovered.IsZero():
			allRecovered = false
			r.Text(lbl, "no datagram sent after the cut arrived or was lost: the stream says nothing about the reroute")
		case !o.Affected:
			r.Text(lbl, "nothing lost: the reroute was hitless")
		case o.Recovered.IsZero():
			allRecovered = false
			r.Text(lbl, fmt.Sprintf("never recovered within %s (first lost seq %d)", timeout, o.FirstLost))
		default:
			rec := o.Recovered.Sub(cutAt)
			r.Ms(lbl+": recovery after the cut", rec)
			r.Ms(lbl+": gap seen by the receiver", o.Gap())
			st.Event(o.Recovered, "recovery", lbl+" recovered")
			if rec > worst {
				worst = rec
			}
		}
	}
	// Where node A's route to B's VTEP leaves after the cut.
	var via string
	if afterErr == nil {
		via = after
		for peer, ifn := range p.a.Links {
			if ifn == after {
				via = fmt.Sprintf("%s (towards %s)", after, peer)
			}
		}
	}
	routeText := fmt.Sprintf("%s's route to %s's VTEP %s: before the cut via %s, after via %s", p.a.Name, p.b.Name, vtepB, devOrNone(before), devOrNone(via))
	if afterErr != nil {
		routeText = fmt.Sprintf("%s's route to %s's VTEP %s: before the cut via %s, after: %v", p.a.Name, p.b.Name, vtepB, devOrNone(before), afterErr)
	}
	r.Text("route", routeText)
	// Another link of the mesh, not the node's default route (the
	// underlay segment, where the loopbacks are not routed).
	rerouted := !rerouteAt.IsZero() && afterErr == nil && meshIf(after)
	r.Expect("the fabric rerouted the VTEP route", rerouted,
		fmt.Sprintf("%s reaches %s's VTEP through another link once %s is cut", p.a.Name, p.b.Name, cutIf), routeText,
		"no redundant path: the mesh left "+p.a.Name+" no other way to "+p.b.Name+"'s loopback (a full mesh of three nodes has one over the third node)")
	r.Expect("the overlay recovered", allRecovered,
		fmt.Sprintf("both streams recover within %s of the cut", timeout),
		fmt.Sprintf("recovered: %v (slowest %s)", allRecovered, worst.Round(time.Millisecond)),
		"the overlay did not reroute: the guests on "+p.a.Name+" and "+p.b.Name+" stayed cut off from each other")
	st.Timeline(fmt.Sprintf("cut %s: %s <-> %s", strings.Join(cutNames, ", "), p.ga.Name, p.gb.Name))
	return r.Finish()
}

func devOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// arrived counts the datagrams of a running stream that arrived.
func arrived(st *Steps, name string) int {
	sm, ok := st.Stream(name)
	if !ok {
		return 0
	}
	n := 0
	for _, rc := range sm.Records() {
		if !rc.Lost {
			n++
		}
	}
	return n
}

// plan picks the link, the extra cuts and the two guests.
func (fabricLinkFailure) plan(env *Env) (flfPlan, string, error) {
	var p flfPlan
	nodes := env.Lab.Nodes()
	byName := map[string]Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	parse := func(s string) ([2]Node, error) {
		a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
		na, okA := byName[a]
		nb, okB := byName[b]
		if !ok || !okA || !okB {
			return [2]Node{}, fmt.Errorf("link %q: want NODE-NODE with two nodes of the lab", s)
		}
		if na.Links[nb.Name] == "" {
			return [2]Node{}, fmt.Errorf("link %q: no point-to-point link joins %s and %s (lab file underlay.links)", s, a, b)
		}
		return [2]Node{na, nb}, nil
	}
	guestsOn := func(a, b Node) (Guest, Guest, bool) {
		// Namespace guests only: a VM guest has no namespace to stream
		// from (an empty one would be the host's).
		gs := labView{env.Lab}.Guests()
		sort.Slice(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name })
		for _, ga := range gs {
			if ga.Node != a.Name || !ga.IPv4.IsValid() || ga.DHCP {
				continue
			}
			for _, gb := range gs {
				if gb.Node == b.Name && gb.VNet == ga.VNet && gb.IPv4.IsValid() && !gb.DHCP {
					return ga, gb, true
				}
			}
		}
		return Guest{}, Guest{}, false
	}
	if l := env.Params["link"]; l != "" {
		c, err := parse(l)
		if err != nil {
			return p, "", err
		}
		p.a, p.b = c[0], c[1]
	} else {
		for _, a := range nodes {
			peers := make([]string, 0, len(a.Links))
			for peer := range a.Links {
				peers = append(peers, peer)
			}
			sort.Strings(peers)
			for _, peer := range peers {
				if _, _, ok := guestsOn(a, byName[peer]); ok && p.a.Name == "" {
					p.a, p.b = a, byName[peer]
				}
			}
		}
		if p.a.Name == "" {
			return p, "the lab has no point-to-point link whose two nodes have guests on one VNet (lab file underlay.links)", nil
		}
	}
	var ok bool
	if p.ga, p.gb, ok = guestsOn(p.a, p.b); !ok {
		return p, "", fmt.Errorf("nodes %s and %s have no two guests (IPv4) on one VNet to stream between", p.a.Name, p.b.Name)
	}
	if !p.b.VTEP.IsValid() {
		return p, "", fmt.Errorf("node %s has no VTEP address", p.b.Name)
	}
	p.cuts = [][2]Node{{p.a, p.b}}
	if also := env.Params["also"]; also != "" {
		for _, l := range strings.Split(also, ",") {
			c, err := parse(l)
			if err != nil {
				return p, "", err
			}
			p.cuts = append(p.cuts, c)
		}
	}
	return p, "", nil
}

// setLink sets node a's end of its link to b down or up: b's end loses
// carrier, as when the cable is pulled.
func (fabricLinkFailure) setLink(env *Env, a, b Node, up bool) error {
	if err := env.Lab.SetLink(context.Background(), a.Name, b.Name, up); err != nil {
		return fmt.Errorf("%s-%s: %w", a.Name, b.Name, err)
	}
	return nil
}

// restore brings every cut link back up.
func (s fabricLinkFailure) restore(env *Env, p flfPlan) {
	for _, c := range p.cuts {
		if err := s.setLink(env, c[0], c[1], true); err != nil {
			env.progress("restore %s-%s: %v", c[0].Name, c[1].Name, err)
		}
	}
}

// routeDev is the device node n's kernel route to dst leaves through.
func (fabricLinkFailure) routeDev(env *Env, n Node, dst netip.Addr) (string, error) {
	var dev string
	err := env.Lab.Do(n.NS, func() error {
		rs, err := netlink.RouteGet(net.IP(dst.AsSlice()))
		if err != nil {
			return fmt.Errorf("%s: no route to %s: %w", n.Name, dst, err)
		}
		if len(rs) == 0 {
			return fmt.Errorf("%s: no route to %s", n.Name, dst)
		}
		l, err := netlink.LinkByIndex(rs[0].LinkIndex)
		if err != nil {
			return err
		}
		dev = l.Attrs().Name
		return nil
	})
	return dev, err
}
