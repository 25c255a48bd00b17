package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// wireGuardFabric checks a WireGuard fabric as its users rely on it: each
// member reaches every address it routes to each peer in the lab (the
// peer's router IP and interface addresses, its AllowedIPs) through the
// tunnel, from its own fabric address of that family (services bind the
// router IP), and the LAN between them carries those probes only as
// WireGuard data messages, never in the clear.
type wireGuardFabric struct{}

func newWireGuardFabric() Scenario { return wireGuardFabric{} }

func (wireGuardFabric) Name() string { return "wireguard-fabric" }
func (wireGuardFabric) Description() string {
	return "every WireGuard fabric member reaches its peers' addresses through the tunnel, and the LAN carries the probes only encrypted"
}
func (wireGuardFabric) Params() []Param {
	return []Param{{Name: "count", Default: "3", Kind: KindInt, Help: "echo requests per address"}}
}

// wgTarget is one address a member must reach over one of its interfaces.
type wgTarget struct {
	from     Node
	ifname   string
	peer     string // node name
	pubkey   string // the peer's public key in from's configuration
	endpoint netip.AddrPort
	src, dst netip.Addr
}

func (t wgTarget) label() string {
	return fmt.Sprintf("%s (%s) -> %s's %s over %s", t.from.Name, t.src, t.peer, t.dst, t.ifname)
}

func (s wireGuardFabric) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	count, err := env.Int("count")
	if err != nil {
		return r.Errorf("%v", err)
	}
	v := labView{env.Lab}
	targets, notes, err := s.targets(v)
	if err != nil {
		return r.Errorf("%v", err)
	}
	for _, n := range notes {
		r.Text("not probed", n)
	}
	if len(targets) == 0 {
		return r.Skipf("no WireGuard fabric with a peer in the lab: nothing to reach through a tunnel")
	}
	// A tunnel carries nothing before its first handshake. Right after up
	// one may wait for WireGuard's retry (5 s): an initiation that reached
	// a peer not configured yet is lost. The probes then run all at once.
	t0 := time.Now()
	pending := s.pending(ctx, env, targets)
	lastPrime := time.Time{}
	for len(pending) > 0 && time.Since(t0) < handshakeWait && ctx.Err() == nil {
		// Without keepalives a tunnel's first handshake waits for traffic:
		// one echo per silent pair, from one side only (both sides at once
		// is the simultaneous initiation wireguard-go can wedge on).
		if time.Since(lastPrime) > time.Second {
			s.prime(ctx, env, targets)
			lastPrime = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
		pending = s.pending(ctx, env, targets)
	}
	if len(pending) == 0 {
		r.Ms("every tunnel had a handshake after", time.Since(t0))
	} else {
		r.Text("no handshake within "+handshakeWait.String(), strings.Join(pending, "\n"))
	}
	env.progress("%d addresses to reach through WireGuard tunnels, capturing the LAN", len(targets))
	results := make([]ping.Result, len(targets))
	// The LAN side only: inside the tunnels the probes are in the clear.
	var lan []capture.Point
	for _, n := range v.Nodes() {
		for _, u := range n.Uplinks {
			lan = append(lan, capture.Point{Netns: n.NS, Ifname: u, Label: n.Name + "_" + u})
		}
	}
	res, err := captureDuring(ctx, env, r, "wireguard", lan, func() error {
		var wg sync.WaitGroup
		for i, t := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, _ := env.Lab.Exec(ctx, t.from.NS, "ping", "-n", "-c", fmt.Sprint(count), "-i", "0.2", "-w", fmt.Sprint(int(probeDeadline.Seconds())), "-I", t.src.String(), t.dst.String())
				results[i] = ping.Parse(out)
			}()
		}
		wg.Wait()
		time.Sleep(100 * time.Millisecond) // the last reply's frames land in the capture
		return nil
	})
	if err != nil {
		return r.Errorf("%v", err)
	}

	// Through the tunnel: the replies, and when none came, whether the
	// two ends ever completed a handshake (keys, endpoint) or not (routes).
	reached := 0
	for i, t := range targets {
		pr := results[i]
		ok := pr.Received > 0
		cause := ""
		if !ok {
			cause = s.cause(ctx, env, t)
		} else {
			reached++
		}
		r.Expect(t.label(), ok, "echo replies through the tunnel", pr.String(), cause)
	}
	r.Figure("addresses reached", float64(reached), "")
	r.Figure("addresses probed", float64(len(targets)), "")

	s.judgeWire(r, res, targets, results)

	// Proxmox routes a peer's router IPv4 over the tunnel but not its
	// router IPv6: its generated AllowedIPs name the node's ip and the
	// interfaces' ip and ip6 only.
	for _, n := range v.Nodes() {
		p, err := v.Plan(n.Name)
		if err != nil || len(p.WireGuard) == 0 {
			continue
		}
		for _, t := range s.unrouted6(v, n, p) {
			r.ExpectWarn(fmt.Sprintf("%s routes %s's router IPv6 %s over the fabric", n.Name, t.peer, t.dst), false,
				"a route to it over "+t.ifname, "no AllowedIPs entry of "+t.peer+" covers it",
				"Proxmox's WireGuard configuration puts a node's IPv6 router IP (ip6) in no peer's AllowedIPs, only its ip and its interfaces' ip and ip6: give the interfaces an ip6, or add the address to the node's allowed_ips")
		}
	}
	return r.Finish()
}

// judgeWire checks the capture of the LAN: no probe in the clear on any
// node's LAN interface, and for each address that answered, WireGuard
// data messages from the member's LAN address to the peer's endpoint, at
// least one per reply (each echo crossed as one).
func (wireGuardFabric) judgeWire(r *Result, res *capture.Result, targets []wgTarget, results []ping.Result) {
	clear, data := 0, 0
	for _, p := range res.Frames(capture.Outer()) {
		if p.WireGuard != nil && p.WireGuard.Type == capture.WireGuardData {
			data++
		}
		if p.ICMP == nil {
			continue
		}
		for _, t := range targets {
			if (p.SrcIP == t.src && p.DstIP == t.dst) || (p.SrcIP == t.dst && p.DstIP == t.src) {
				clear++
				break
			}
		}
	}
	r.Figure("WireGuard data messages on the LAN", float64(data), "")
	r.ExpectNone(res, "the probes never crossed the LAN in the clear", clear, "0 echo packets between fabric addresses on the LAN",
		fmt.Sprint(clear), "traffic between fabric addresses bypassed the tunnel: a route to the peer's address over the LAN, not over the WireGuard interface")
	for i, t := range targets {
		if results[i].Received == 0 {
			continue
		}
		n := 0
		for _, p := range res.Frames(capture.Outer()) {
			if w := p.WireGuard; w != nil && w.Type == capture.WireGuardData && p.DstIP == t.endpoint.Addr() && p.DstPort == t.endpoint.Port() && slices.Contains(t.from.Addrs, p.SrcIP) {
				n++
			}
		}
		r.Expect(t.label()+": carried as WireGuard data", n >= results[i].Received,
			fmt.Sprintf("at least %d WireGuard data messages from %s to %s", results[i].Received, t.from.Name, t.endpoint), fmt.Sprint(n),
			"the replies came back but not as WireGuard data messages to the peer's endpoint: the probes took another path")
	}
}

// probeDeadline bounds each address's probe: ping sends until count
// replies came or this passed. A tunnel both ends initiated at once may
// report its handshake a moment before it carries data (seen in 3 of 20
// runs with wireguard-go, one pair silent for its three echoes in 0.6 s).
const probeDeadline = 6 * time.Second

// handshakeWait bounds the wait for the tunnels' first handshakes: two
// of WireGuard's 5 s retries.
const handshakeWait = 11 * time.Second

// prime sends one echo over each pair of targets that has no handshake
// yet, from the member whose name sorts first, all pairs at once.
func (s wireGuardFabric) prime(ctx context.Context, env *Env, targets []wgTarget) {
	silent := map[string]bool{}
	for _, p := range s.pending(ctx, env, targets) {
		silent[p] = true
	}
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for _, t := range targets {
		key := t.from.Name + " " + t.peer
		if t.from.Name > t.peer || seen[key] || !silent[tunnelKey(t)] {
			continue
		}
		seen[key] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = env.Lab.Exec(ctx, t.from.NS, "ping", "-n", "-c", "1", "-W", "1", "-I", t.src.String(), t.dst.String())
		}()
	}
	wg.Wait()
}

// tunnelKey names the tunnel of t as pending lists it.
func tunnelKey(t wgTarget) string {
	return fmt.Sprintf("%s %s: none with %s", t.from.Name, t.ifname, t.peer)
}

// pending lists the tunnels of targets without a handshake yet.
func (wireGuardFabric) pending(ctx context.Context, env *Env, targets []wgTarget) []string {
	var out []string
	seen := map[string]bool{}
	asked := map[string]map[string]time.Time{}
	for _, t := range targets {
		key := t.from.Name + " " + t.ifname + " " + t.peer
		if seen[key] {
			continue
		}
		seen[key] = true
		dev := t.from.Name + "/" + t.ifname
		hs, ok := asked[dev]
		if !ok {
			hs, _ = env.Lab.WireGuardHandshakes(ctx, t.from.Name, t.ifname)
			asked[dev] = hs
		}
		if _, ok := hs[t.pubkey]; !ok {
			out = append(out, tunnelKey(t))
		}
	}
	return out
}

// cause says why no reply came: no handshake with the peer (keys or
// endpoint), or one but no reply (routes, allowed IPs).
func (wireGuardFabric) cause(ctx context.Context, env *Env, t wgTarget) string {
	hs, err := env.Lab.WireGuardHandshakes(ctx, t.from.Name, t.ifname)
	if err != nil {
		return fmt.Sprintf("the WireGuard interface %s of %s could not be asked for its peers: %v", t.ifname, t.from.Name, err)
	}
	if _, ok := hs[t.pubkey]; !ok {
		return fmt.Sprintf("no WireGuard handshake between %s and %s on %s: the keys or the endpoint are wrong (%s's public key in fabrics.cfg must be the one of its private key in priv/wg-keys.cfg; endpoint %s)",
			t.from.Name, t.peer, t.ifname, t.peer, t.endpoint)
	}
	return fmt.Sprintf("the handshake with %s completed, yet %s did not answer: a route or an AllowedIPs entry is missing on one side", t.peer, t.dst)
}

// targets lists, for every member's WireGuard interface, the addresses
// of its AllowedIPs that a peer in the lab holds, with the member's own
// address to probe from; notes say what was left out.
func (wireGuardFabric) targets(v labView) (targets []wgTarget, notes []string, err error) {
	nodes := v.Nodes()
	owner := map[netip.Addr]Node{}
	for _, n := range nodes {
		for _, a := range n.Addrs {
			owner[a] = n
		}
	}
	held := map[string][]netip.Prefix{} // node -> its fabric addresses
	plans := map[string]*plan.NodePlan{}
	for _, n := range nodes {
		p, err := v.Plan(n.Name)
		if err != nil {
			continue // a node without SDN
		}
		plans[n.Name] = p
		held[n.Name] = fabricAddrs(p)
	}
	for _, n := range nodes {
		p := plans[n.Name]
		if p == nil {
			continue
		}
		for _, c := range p.WireGuard {
			for _, pe := range c.Peers {
				ep, perr := netip.ParseAddrPort(pe.Endpoint)
				m, inLab := owner[ep.Addr()]
				if perr != nil || !inLab {
					notes = append(notes, fmt.Sprintf("%s %s: peer %s (endpoint %q) is not a node of the lab", n.Name, c.Name, pe.PublicKey, pe.Endpoint))
					continue
				}
				for _, a := range pe.AllowedIPs {
					if !a.IsSingleIP() || !holds(held[m.Name], a.Addr()) {
						continue
					}
					src, ok := sourceFor(held[n.Name], a.Addr())
					if !ok {
						notes = append(notes, fmt.Sprintf("%s has no fabric address of %s's family to reach it from", n.Name, a.Addr()))
						continue
					}
					targets = append(targets, wgTarget{from: n, ifname: c.Name, peer: m.Name, pubkey: pe.PublicKey, endpoint: ep, src: src, dst: a.Addr()})
				}
			}
		}
	}
	return targets, notes, nil
}

// unrouted6 are the router IPv6 addresses of n's peers that none of their
// AllowedIPs covers.
func (wireGuardFabric) unrouted6(v labView, n Node, p *plan.NodePlan) []wgTarget {
	owner := map[netip.Addr]string{}
	for _, o := range v.Nodes() {
		for _, a := range o.Addrs {
			owner[a] = o.Name
		}
	}
	var out []wgTarget
	for _, c := range p.WireGuard {
		for _, pe := range c.Peers {
			ep, err := netip.ParseAddrPort(pe.Endpoint)
			m := owner[ep.Addr()]
			if err != nil || m == "" {
				continue
			}
			mp, err := v.Plan(m)
			if err != nil {
				continue
			}
			for _, ifc := range mp.Ifaces {
				if ifc.Kind != plan.KindDummy {
					continue
				}
				for _, a := range ifc.Addresses {
					if a.Addr().Is6() && !slices.ContainsFunc(pe.AllowedIPs, func(q netip.Prefix) bool { return q.Contains(a.Addr()) }) {
						out = append(out, wgTarget{from: n, ifname: c.Name, peer: m, dst: a.Addr()})
					}
				}
			}
		}
	}
	return out
}

// fabricAddrs are a node's addresses on its fabric loopbacks and
// WireGuard interfaces.
func fabricAddrs(p *plan.NodePlan) []netip.Prefix {
	var out []netip.Prefix
	for _, ifc := range p.Ifaces {
		if ifc.Kind == plan.KindDummy || ifc.Kind == plan.KindWireGuard {
			out = append(out, ifc.Addresses...)
		}
	}
	return out
}

func holds(ps []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Addr() == a })
}

// sourceFor picks the address to probe dst from: one on dst's subnet (an
// interface address), else a host address of its family (the router IP).
func sourceFor(own []netip.Prefix, dst netip.Addr) (netip.Addr, bool) {
	for _, p := range own {
		if p.Bits() < p.Addr().BitLen() && p.Contains(dst) {
			return p.Addr(), true
		}
	}
	for _, p := range own {
		if p.Addr().Is4() == dst.Is4() && p.IsSingleIP() {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}
