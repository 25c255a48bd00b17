package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// anycastGateway: the gateway IP and MAC of an EVPN VNet are the same on
// every node, so a guest's gateway keeps working after a migration without
// a new ARP or neighbour solicitation. Each family the guest has a gateway
// of (IPv4, IPv6) is checked apart.
type anycastGateway struct{}

func newAnycastGateway() Scenario { return anycastGateway{} }

func (anycastGateway) Name() string { return "anycast-gateway" }
func (anycastGateway) Description() string {
	return "the gateway IP and MAC are the same on every node; a guest's gateway keeps working after migration"
}
func (anycastGateway) Params() []Param {
	return []Param{
		{Name: "guest", Default: "", Kind: KindGuest, Help: "the guest to check (default: first guest with a gateway in an EVPN VNet)"},
		{Name: "migrate", Default: "true", Kind: KindBool, Help: "also migrate the guest and back"},
		{Name: "pause", Default: "50ms", Kind: KindDuration, Help: "migration pause"},
	}
}

func (s anycastGateway) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	pause, err := env.Duration("pause")
	if err != nil {
		return r.Errorf("%v", err)
	}
	byVNet, vnets, err := v.overlayGuestsAll()
	if err != nil {
		return r.Errorf("%v", err)
	}
	var g Guest
	var vn *overlayVNet
	// A VNet on several nodes first: on one node "the same everywhere"
	// holds vacuously. Then a VM guest, whose migration is QEMU's, then
	// the first name.
	cands := movedFirst(byVNet, env.Params["guest"])
	slices.SortStableFunc(cands, func(a, b Guest) int {
		switch {
		case a.VM && !b.VM:
			return -1
		case b.VM && !a.VM:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, multi := range []bool{true, false} {
		for _, c := range cands {
			cv := vnets[c.VNet]
			if vn == nil && cv.Zone.Type == "evpn" && (c.GW4.IsValid() || c.GW6.IsValid()) && multi == (len(cv.Nodes) > 1) {
				g, vn = c, cv
			}
		}
	}
	if vn == nil {
		return r.Skipf("no guest with a gateway in an EVPN VNet")
	}
	if len(vn.Nodes) < 2 {
		return r.Skipf("VNet %s of %s exists on %d node: an anycast gateway needs two to compare", vn.VNet.ID, g.Name, len(vn.Nodes))
	}
	var gws []netip.Addr
	for _, fam := range ipFams {
		if gw := fam.GW(g); gw.IsValid() {
			gws = append(gws, gw)
		}
	}
	env.progress("gateway %s of VNet %s on %d nodes", addrsString(gws), vn.VNet.ID, len(vn.Nodes))

	// Same IPs and MAC on every node's VNet bridge.
	macs := map[string][]string{}
	missing := map[netip.Addr][]string{}
	for _, n := range vn.Nodes {
		ns, err := v.VNetNS(n.Name, vn.VNet.ID)
		if err != nil {
			return r.Errorf("%v", err)
		}
		mac, err := probe.LinkMAC(ns, vn.VNet.Bridge)
		if err != nil {
			return r.Errorf("%v", err)
		}
		addrs, err := probe.LinkAddrs(ns, vn.VNet.Bridge)
		if err != nil {
			return r.Errorf("%v", err)
		}
		for _, gw := range gws {
			if !slices.ContainsFunc(addrs, func(a netip.Prefix) bool { return a.Addr() == gw }) {
				missing[gw] = append(missing[gw], n.Name)
			}
		}
		macs[mac.String()] = append(macs[mac.String()], n.Name)
	}
	for _, gw := range gws {
		r.Expect("gateway "+gw.String()+" on every node", len(missing[gw]) == 0, "on "+fmt.Sprint(len(vn.Nodes))+" nodes",
			"missing on "+orNone(missing[gw]), "the subnet's gateway is not configured on the VNet bridge of those nodes")
	}
	var macList []string
	for m, ns := range macs {
		macList = append(macList, fmt.Sprintf("%s on %s", m, strings.Join(ns, ",")))
	}
	sort.Strings(macList)
	r.Figure("distinct gateway MACs", float64(len(macs)), "")
	r.Expect("one gateway MAC on every node", len(macs) == 1, "one MAC", strings.Join(macList, "; "),
		fmt.Sprintf("zone %s sets no anycast MAC (zone option mac): each node's bridge keeps its own MAC, so a migrated guest's cached gateway MAC is wrong on the new node", vn.Zone.ID))

	// The guest's view: its ARP (IPv4) and neighbour (IPv6) entry of each
	// gateway. Positive control: the guest really resolved its gateway to
	// its own node's VNet bridge (the MAC the comparison above is about).
	own := ""
	for m, ns := range macs {
		if slices.Contains(ns, g.Node) {
			own = m
		}
	}
	before := map[netip.Addr]string{}
	for _, gw := range gws {
		mac, err := s.gatewayMAC(ctx, v, g, gw)
		if err != nil {
			return r.Errorf("%v", err)
		}
		before[gw] = mac
		r.Text("gateway "+gw.String()+" in "+g.Name+"'s "+famOf(gw).Cache(), mac)
		r.Expect(g.Name+" resolves "+gw.String()+" to "+g.Node+"'s bridge", strings.EqualFold(mac, own),
			own+" (the bridge "+vn.VNet.Bridge+" on "+g.Node+")", mac,
			"something other than the node's VNet bridge answers "+famOf(gw).Resolver()+" for the gateway")
	}
	if env.Params["migrate"] != "true" {
		return r.Finish()
	}
	var target string
	for _, n := range vn.Nodes {
		if n.Name != g.Node {
			target = n.Name
			break
		}
	}
	if target == "" {
		return r.Finish()
	}
	home := g.Node
	if _, err := env.Lab.Migrate(ctx, g.Name, target, pause); err != nil {
		return r.Errorf("migrate %s to %s: %v", g.Name, target, err)
	}
	defer func() {
		if _, err := env.Lab.Migrate(context.WithoutCancel(ctx), g.Name, home, pause); err != nil {
			r.Text("migrate back", err.Error())
		}
	}()
	for _, gw := range gws {
		tag := famOf(gw).Tag()
		// Right after the move the guest has not re-resolved: the cached
		// MAC must already be served by the new node.
		pr, err := v.guestPing(ctx, g, gw, probe.PingOpts{Count: 3, Interval: 50 * time.Millisecond, Timeout: time.Second})
		if err != nil {
			return r.Errorf("%v", err)
		}
		r.Expect(fmt.Sprintf("gateway %s reachable after migrating to %s", gw, target), pr.OK(), "a reply", pr.String(),
			"the new node does not answer for the gateway MAC the guest cached")
		after, ok, err := v.guestNeighFor(ctx, g, gw)
		if err != nil {
			return r.Errorf("%v", err)
		}
		if !ok || after.MAC == "" {
			cause := "flushed by the move (carrier loss of the simulated NIC)"
			if g.VM {
				cause = "gone after QEMU's migration (its NIC keeps its carrier: the guest's kernel dropped it)"
			}
			r.Text("gateway "+gw.String()+" "+famOf(gw).Cache()+" entry", cause+"; the ping above resolved it again")
		}
		obs := "no entry"
		if ok {
			obs = after.MAC
		}
		r.Expect("gateway MAC in the guest unchanged by migration ("+tag+")", ok && after.MAC == before[gw], before[gw], obs,
			"the gateway MAC differs between nodes, so the guest had to learn a new one")
	}
	return r.Finish()
}

// gatewayMAC makes sure the guest has resolved its gateway and returns the MAC.
func (anycastGateway) gatewayMAC(ctx context.Context, v labView, g Guest, a netip.Addr) (string, error) {
	if _, err := v.guestPing(ctx, g, a, probe.PingOpts{Count: 1, Timeout: 500 * time.Millisecond}); err != nil {
		return "", err
	}
	e, ok, err := v.guestNeighFor(ctx, g, a)
	if err != nil {
		return "", err
	}
	if !ok || e.MAC == "" {
		return "", fmt.Errorf("%s did not resolve its gateway %s", g.Name, a)
	}
	return e.MAC, nil
}
