package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// portIsolation: on a VNet with isolate-ports, two guests on one node do
// not reach each other, while each reaches its gateway (the control that
// the guests work at all).
type portIsolation struct{}

func newPortIsolation() Scenario { return portIsolation{} }

func (portIsolation) Name() string { return "port-isolation" }
func (portIsolation) Description() string {
	return "guests of an isolate-ports VNet on one node cannot reach each other; each reaches its gateway"
}
func (portIsolation) Params() []Param { return nil }

type isoProbe struct {
	from Guest
	dst  netip.Addr
	peer bool // a guest of the same VNet on the node (else the gateway)
	to   string
	res  probe.PingResult
	err  error
}

func guestAddr(g Guest) (netip.Addr, netip.Addr) {
	if g.IPv4.IsValid() {
		return g.IPv4.Addr(), g.GW4
	}
	return g.IPv6.Addr(), g.GW6
}

func (s portIsolation) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	groups := map[string][]Guest{} // node/vnet -> guests
	for _, g := range v.Guests() {
		_, vn, err := v.zoneOf(g)
		if err != nil {
			return r.Errorf("%v", err)
		}
		if a, _ := guestAddr(g); vn.IsolatePorts && a.IsValid() {
			groups[g.Node+"/"+g.VNet] = append(groups[g.Node+"/"+g.VNet], g)
		}
	}
	var keys []string
	for k, gs := range groups {
		if len(gs) >= 2 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return r.Skipf("needs two guests of one isolate-ports VNet on one node")
	}
	var probes []*isoProbe
	for _, k := range keys {
		for _, a := range groups[k] {
			src, gw := guestAddr(a)
			if !gw.IsValid() {
				return r.Errorf("guest %s: no gateway: the control (the guest reaches its gateway) cannot run", a.Name)
			}
			probes = append(probes, &isoProbe{from: a, dst: gw, to: "gateway " + gw.String()})
			for _, b := range groups[k] {
				if dst, _ := guestAddr(b); b.Name != a.Name && dst.Is4() == src.Is4() {
					probes = append(probes, &isoProbe{from: a, dst: dst, peer: true, to: b.Name})
				}
			}
		}
	}
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.res, p.err = probe.Ping(ctx, p.from.NS, p.dst, probe.PingOpts{Count: 2, Interval: 100 * time.Millisecond, Timeout: time.Second})
		}()
	}
	wg.Wait()
	leaks := 0
	for _, p := range probes {
		if p.err != nil {
			return r.Errorf("ping %s -> %s: %v", p.from.Name, p.to, p.err)
		}
		name := fmt.Sprintf("%s -> %s (vnet %s on %s)", p.from.Name, p.to, p.from.VNet, p.from.Node)
		if !p.peer {
			r.Expect("reaches "+name, p.res.OK(), "a reply", p.res.String(),
				"the guest does not reach its gateway: isolation cannot be judged")
			continue
		}
		if p.res.OK() {
			leaks++
		}
		r.Expect("isolated "+name, !p.res.OK(), "no reply (isolate-ports)", p.res.String(),
			"the guests' ports on the VNet bridge are not isolated: a tap plugged without the bridge port flag isolated on")
	}
	r.Figure("guest pairs that reached each other", float64(leaks), "")
	return r.Finish()
}
