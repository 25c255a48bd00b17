package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/scenarios/probe"
)

// bgpOnlyWorkaround builds the non-overlay alternative to EVPN that people
// try for VM mobility across racks: a routed VM (/32 host route with its
// hypervisor as next hop, announced to the underlay router), static ARP for
// a link-local gateway inside the guest, ip_forward on the hypervisors. It
// shows, as a teaching contrast, that a stock guest does not work (changes
// inside the guest are needed) and that after a move the router's strict
// uRPF drops the guest's traffic until the /32 follows it. The VM, its
// routes and sysctls are removed again afterwards. Commands run through
// iproute2 inside the lab namespaces, so each change reads as the command a
// person would type.
type bgpOnlyWorkaround struct{}

func newBGPOnlyWorkaround() Scenario { return bgpOnlyWorkaround{} }

func (bgpOnlyWorkaround) Name() string { return "bgp-only-workaround" }
func (bgpOnlyWorkaround) Description() string {
	return "the non-overlay alternative (/32 host routes, static ARP in the guest, ip_forward): needs guest changes, fails under strict uRPF"
}
func (bgpOnlyWorkaround) Params() []Param {
	return []Param{{Name: "address", Default: "10.250.0.10", Kind: KindIPv4, Help: "the routed VM's address (outside every lab subnet)"}}
}

var reRouteGet = regexp.MustCompile(`dev (\S+).* src (\S+)`)

func (s bgpOnlyWorkaround) Run(ctx context.Context, env *Env) *Result {
	r := NewResult(s.Name())
	v := labView{env.Lab}
	vmIP, err := netip.ParseAddr(env.Params["address"])
	if err != nil || !vmIP.Is4() {
		return r.Errorf("parameter address: %q is not an IPv4 address", env.Params["address"])
	}
	// Two nodes in different segments and a router joining them.
	var a, b Node
	var rt Host
	nodes := v.Nodes()
	for _, h := range v.Routers() {
		if h.Upstream {
			continue
		}
		for _, x := range nodes {
			for _, y := range nodes {
				if rt.Name == "" && x.Segment != y.Segment && hostOnSegmentOf(h, x) && hostOnSegmentOf(h, y) {
					a, b, rt = x, y, h
				}
			}
		}
	}
	if rt.Name == "" {
		return r.Skipf("needs two nodes in different segments joined by an underlay router (like examples/evpn-racks)")
	}
	var changes, guestChanges []string
	run := func(who, ns string, argv ...string) error {
		line := who + "# " + strings.Join(argv, " ")
		changes = append(changes, line)
		if argv[0] == "sysctl" { // written directly: procps may be absent
			k, val, _ := strings.Cut(argv[len(argv)-1], "=")
			return nsutil.Sysctl(ns, k, val)
		}
		out, err := env.Lab.Exec(ctx, ns, argv...)
		if err != nil {
			return fmt.Errorf("%s: %v: %s", line, err, strings.TrimSpace(out))
		}
		return nil
	}
	rA, rIfA, err := s.routeTo(ctx, env, rt, a.VTEP)
	if err != nil {
		return r.Errorf("%v", err)
	}
	_, rIfB, err := s.routeTo(ctx, env, rt, b.VTEP)
	if err != nil {
		return r.Errorf("%v", err)
	}
	rpB := effectiveRP(rt.NS, []string{rIfB})
	r.Text("router", fmt.Sprintf("%s joins %s (%s, via %s) and %s (%s, via %s); rp_filter %s", rt.Name, a.Name, a.Segment, rIfA, b.Name, b.Segment, rIfB, rpB))

	// The VM: a namespace of the lab with a veth to node a.
	prefix := strings.TrimSuffix(a.NS, a.Name)
	vmNS := prefix + "bgpvm"
	if err := nsutil.Create(vmNS); err != nil {
		return r.Errorf("%v", err)
	}
	var restore []func()
	defer func() {
		for i := len(restore) - 1; i >= 0; i-- {
			restore[i]()
		}
		_ = nsutil.Delete(vmNS)
		r.Text("commands run", strings.Join(changes, "\n"))
	}()
	for _, n := range []Node{a, b} {
		old, err := nsutil.ReadSysctl(n.NS, "net.ipv4.ip_forward")
		if err != nil {
			return r.Errorf("%v", err)
		}
		ns := n.NS
		restore = append(restore, func() { _ = nsutil.Sysctl(ns, "net.ipv4.ip_forward", old) })
	}
	host32 := vmIP.String() + "/32"
	restore = append(restore, func() {
		_, _ = env.Lab.Exec(context.WithoutCancel(ctx), rt.NS, "ip", "route", "del", host32)
	})
	steps := [][]string{
		{a.Name, a.NS, "ip", "link", "add", "bgptap", "type", "veth", "peer", "name", "bgpvm0", "netns", vmNS},
		{a.Name, a.NS, "ip", "link", "set", "bgptap", "up"},
		{a.Name, a.NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{a.Name, a.NS, "ip", "route", "add", host32, "dev", "bgptap"},
		// What BGP would announce: the /32 with the hypervisor as next hop.
		{rt.Name, rt.NS, "ip", "route", "replace", host32, "via", a.VTEP.String()},
		{"vm", vmNS, "ip", "link", "set", "bgpvm0", "name", "eth0"},
		{"vm", vmNS, "ip", "link", "set", "eth0", "up"},
		// A stock guest: an address in a /24 and a gateway at .1, as on a VNet.
		{"vm", vmNS, "ip", "addr", "add", netip.PrefixFrom(vmIP, 24).String(), "dev", "eth0"},
		{"vm", vmNS, "ip", "route", "add", "default", "via", netip.PrefixFrom(vmIP, 24).Masked().Addr().Next().String()},
	}
	for _, st := range steps {
		if err := run(st[0], st[1], st[2:]...); err != nil {
			return r.Errorf("%v", err)
		}
	}
	ping := func() (probe.PingResult, error) {
		return probe.Ping(ctx, vmNS, rA, probe.PingOpts{Count: 3, Interval: 100 * time.Millisecond, Timeout: time.Second})
	}
	// 1. A stock guest gets nowhere: nobody answers for its gateway on a
	// routed port.
	pr, err := ping()
	if err != nil {
		return r.Errorf("%v", err)
	}
	r.Expect("a stock guest does not work on a routed port", !pr.OK(), "no reply (no gateway answers ARP on the routed tap)", pr.String(),
		"something answers ARP for the guest's gateway: the port is not a pure routed port")

	// 2. Changes inside the guest make it work.
	tapMAC, err := probe.LinkMAC(a.NS, "bgptap")
	if err != nil {
		return r.Errorf("%v", err)
	}
	guest := [][]string{
		{"ip", "addr", "flush", "dev", "eth0"},
		{"ip", "addr", "add", host32, "dev", "eth0"},
		{"ip", "route", "add", "169.254.0.1", "dev", "eth0"},
		{"ip", "route", "add", "default", "via", "169.254.0.1", "dev", "eth0"},
		{"ip", "neigh", "add", "169.254.0.1", "lladdr", tapMAC.String(), "dev", "eth0", "nud", "permanent"},
	}
	for _, g := range guest {
		guestChanges = append(guestChanges, strings.Join(g, " "))
		if err := run("vm", vmNS, g...); err != nil {
			return r.Errorf("%v", err)
		}
	}
	r.Figure("changes inside the guest", float64(len(guest)), "")
	r.Text("changes inside the guest", strings.Join(guestChanges, "\n"))
	if pr, err = ping(); err != nil {
		return r.Errorf("%v", err)
	}
	r.Expect(fmt.Sprintf("with the guest changed (/32, static ARP for 169.254.0.1) it reaches %s (%s)", rt.Name, rA), pr.OK(), "replies", pr.String(),
		"the routed path does not work: /32 route, ip_forward or the router's route missing")

	// 3. The VM moves to b; the router still has the /32 via a (BGP has not
	// converged, or the announcement never follows): strict uRPF drops.
	moves := [][]string{
		{a.Name, a.NS, "ip", "link", "set", "bgptap", "netns", b.NS},
		{b.Name, b.NS, "ip", "link", "set", "bgptap", "up"},
		{b.Name, b.NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{b.Name, b.NS, "ip", "route", "add", host32, "dev", "bgptap"},
	}
	for _, st := range moves {
		if err := run(st[0], st[1], st[2:]...); err != nil {
			return r.Errorf("%v", err)
		}
	}
	// An unreadable counter is missing evidence, not "0 drops".
	before, err := rpDrops([]Host{rt})
	if err != nil {
		return r.Errorf("%v", err)
	}
	if pr, err = ping(); err != nil {
		return r.Errorf("%v", err)
	}
	after, err := rpDrops([]Host{rt})
	if err != nil {
		return r.Errorf("%v", err)
	}
	drops := familyDrops(before, after, false) // the routed VM is IPv4
	r.Figure("uRPF drops after the move", float64(drops), "")
	r.Expect(fmt.Sprintf("after the move to %s, %s's strict uRPF drops the guest's traffic", b.Name, rt.Name), drops > 0 && !pr.OK(),
		fmt.Sprintf("packets from %s arriving on %s dropped by rp_filter while the /32 still points at %s", vmIP, rIfB, a.Name),
		fmt.Sprintf("%d rp_filter drops on %s; ping %s", drops, rt.Name, pr.String()),
		fmt.Sprintf("%s does not run strict uRPF on %s (%s): this lab cannot show the failure; the BGP-only design only works where uRPF is relaxed", rt.Name, rIfB, rpB))

	// 4. Once the /32 follows the VM it works again.
	if err := run(rt.Name, rt.NS, "ip", "route", "replace", host32, "via", b.VTEP.String()); err != nil {
		return r.Errorf("%v", err)
	}
	if pr, err = ping(); err != nil {
		return r.Errorf("%v", err)
	}
	r.Expect("with the /32 re-announced via "+b.Name+" it works again", pr.OK(), "replies", pr.String(),
		"the re-announced route does not lead back to the guest")
	r.Text("contrast", "EVPN keeps the guest untouched (same /24, same gateway IP and MAC on every node), the underlay only sees VTEP addresses (uRPF-safe), and a move is one MAC/IP route with a higher mobility sequence; the BGP-only workaround changes every guest, puts a /32 per VM into the underlay and needs uRPF relaxed (or perfect /32 convergence) on every router")
	return r.Finish()
}

// hostOnSegmentOf tells whether a router has an address in the same /24 as
// the node's VTEP (the lab's segments are /24 or wider).
func hostOnSegmentOf(h Host, n Node) bool {
	for _, a := range h.Addrs {
		if a.Is4() && n.VTEP.Is4() && netip.PrefixFrom(n.VTEP, 24).Masked().Contains(a) {
			return true
		}
	}
	return false
}

// routeTo asks the router which interface and source address it uses
// towards dst.
func (bgpOnlyWorkaround) routeTo(ctx context.Context, env *Env, h Host, dst netip.Addr) (netip.Addr, string, error) {
	out, err := env.Lab.Exec(ctx, h.NS, "ip", "-o", "route", "get", dst.String())
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("%s: ip route get %s: %v", h.Name, dst, err)
	}
	m := reRouteGet.FindStringSubmatch(out)
	if m == nil {
		return netip.Addr{}, "", fmt.Errorf("%s: cannot read the route to %s: %s", h.Name, dst, out)
	}
	src, err := netip.ParseAddr(m[2])
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("%s: route to %s: %v", h.Name, dst, err)
	}
	return src, m[1], nil
}
