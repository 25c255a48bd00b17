package topology

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/realize"
)

// DefaultStateDir holds one directory per running lab.
const DefaultStateDir = "/run/sdnlab"

// Options tune Up and Down.
type Options struct {
	// StateDir is the parent of the per-lab state directory
	// (default /run/sdnlab).
	StateDir string
	// Progress receives one line per step and node; nil is quiet.
	Progress io.Writer
	// StartAgents starts `<AgentPath> agent --lab LAB --node NODE --state DIR`
	// in every node namespace whose plan has a controller (plan.FRR != nil).
	// Off by default: the agent command lives in another package.
	StartAgents bool
	// AgentPath is the sdnlab binary (default os.Executable()).
	AgentPath string
	// RouterPath is the binary run as `router` in the namespace of each
	// underlay router with routing: bgp (default AgentPath, else
	// os.Executable()). BGP routers are always started: without them the
	// underlay has no routes between their segments.
	RouterPath string
	// BGPWait bounds how long Up waits for the underlay BGP routers to
	// learn every segment (default DefaultBGPWait).
	BGPWait time.Duration
	// Workers bounds how many namespaces are built at once (default 4 x CPUs).
	Workers int
	// Caps, when set, replaces kernel capability detection (tests that
	// build many labs assume the reference machine's set).
	Caps *nsutil.Caps
}

func (o *Options) stateRoot() string {
	if o.StateDir == "" {
		return DefaultStateDir
	}
	return o.StateDir
}

// LabDir is the state directory of a lab.
func (o Options) LabDir(lab string) string { return filepath.Join(o.stateRoot(), lab) }

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return 4 * runtime.NumCPU()
}

type progress struct {
	mu sync.Mutex
	w  io.Writer
	t0 time.Time
}

func (p *progress) printf(format string, a ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%7.3fs  %s\n", time.Since(p.t0).Seconds(), fmt.Sprintf(format, a...))
}

// parallel runs fn(0..n-1) on up to workers goroutines and joins errors.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, workers)
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Up builds the lab: switches, nodes with their host interfaces, routers,
// the upstream and external hosts, then realizes every node's SDN plan and
// attaches the guests. It is idempotent: on a lab running from the same
// lab file it converges (re-realizing changed plans); a lab of the same
// name up from another file is an *InUseError. lab comes from Load; Up
// records in it what was detected and skipped, and returns it.
func Up(ctx context.Context, lab *Lab, opts Options) (*Lab, error) {
	pr := &progress{w: opts.Progress, t0: time.Now()}
	// Another lab file's lab of this name would be taken over (its guests
	// left behind): refuse before writing any state.
	if err := CheckTakeover(lab, opts); err != nil {
		return nil, err
	}
	dir := opts.LabDir(lab.Name)
	lab.StateDir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	// The state is written first, so down finds everything even if up dies.
	if err := writeJSON(filepath.Join(dir, "lab.json"), lab); err != nil {
		return nil, err
	}
	if opts.Caps != nil {
		lab.Caps = *opts.Caps
	} else {
		c, err := kernelCaps(opts.stateRoot(), lab.Prefix()+"caps")
		if err != nil {
			return nil, err
		}
		lab.Caps = c
	}
	pr.printf("lab %s: kernel: %s", lab.Name, lab.Caps)
	for _, w := range lab.Warnings {
		pr.printf("warning: %s", w)
	}
	w := opts.workers()

	// 1. Switches.
	if err := parallel(ctx, len(lab.Segments), w, func(i int) error {
		return buildSegment(lab.Segments[i])
	}); err != nil {
		return lab, err
	}
	pr.printf("segments: %d", len(lab.Segments))

	// 2. Nodes, routers, external hosts (all independent of each other).
	type job struct {
		name string
		fn   func() error
	}
	var jobs []job
	for _, n := range lab.Nodes {
		jobs = append(jobs, job{"node " + n.Name, func() error { return buildNode(lab, n, dir) }})
	}
	for _, r := range lab.Routers {
		jobs = append(jobs, job{"router " + r.Name, func() error { return buildRouter(lab, r) }})
	}
	for _, h := range lab.Hosts {
		jobs = append(jobs, job{"external " + h.Name, func() error { return buildHost(lab, h) }})
	}
	if err := parallel(ctx, len(jobs), w, func(i int) error {
		if err := jobs[i].fn(); err != nil {
			return fmt.Errorf("%s: %w", jobs[i].name, err)
		}
		if len(lab.Nodes) <= 10 {
			pr.printf("%s: up", jobs[i].name)
		}
		return nil
	}); err != nil {
		return lab, err
	}
	pr.printf("underlay: %d nodes, %d routers, %d external hosts", len(lab.Nodes), len(lab.Routers), len(lab.Hosts))
	// BGP routers converge while the SDN is realized.
	if err := startRouters(lab, opts, dir, pr); err != nil {
		return lab, err
	}

	// 3. Each node's SDN plan.
	var mu sync.Mutex
	lab.Skipped = nil
	if err := parallel(ctx, len(lab.Nodes), w, func(i int) error {
		n := lab.Nodes[i]
		plan := lab.Plans[n.Name]
		if plan == nil {
			return nil
		}
		rep, err := realize.Apply(ctx, realize.Target{
			NS:    n.NS,
			VRFNS: func(zone string) string { return VRFNS(lab.Name, n.Name, zone) },
			Keep:  n.keep,
		}, plan, lab.Caps)
		if err != nil {
			return fmt.Errorf("node %s: realize: %w", n.Name, err)
		}
		if err := writeJSON(filepath.Join(dir, "nodes", n.Name, "plan.json"), plan); err != nil {
			return err
		}
		mu.Lock()
		for _, s := range rep.Skipped {
			lab.Skipped = append(lab.Skipped, fmt.Sprintf("node %s: %s", n.Name, s))
		}
		mu.Unlock()
		if len(lab.Nodes) <= 10 {
			pr.printf("node %s: SDN realized (%d devices)", n.Name, len(rep.Devices))
		}
		return nil
	}); err != nil {
		return lab, err
	}
	pr.printf("SDN realized on %d nodes", len(lab.Nodes))

	// 4. Guests.
	if err := parallel(ctx, len(lab.Guests), w, func(i int) error {
		g := lab.Guests[i]
		note, err := buildGuest(lab, g)
		if err != nil {
			return fmt.Errorf("guest %s: %w", g.Name, err)
		}
		if note != "" {
			mu.Lock()
			lab.Skipped = append(lab.Skipped, note)
			mu.Unlock()
		}
		return nil
	}); err != nil {
		return lab, err
	}
	pr.printf("guests: %d", len(lab.Guests))
	for _, s := range lab.Skipped {
		pr.printf("not realized: %s", s)
	}

	// 5. The underlay's BGP routes (node agents peer across it), then the
	// node agents.
	if err := waitBGP(ctx, lab, dir, opts.BGPWait, pr); err != nil {
		return lab, err
	}
	if opts.StartAgents {
		if err := startAgents(lab, opts, dir, pr); err != nil {
			return lab, err
		}
	}
	if err := writeJSON(filepath.Join(dir, "lab.json"), lab); err != nil {
		return lab, err
	}
	// 6. The lab file's impairments (after lab.json: a lab whose
	// impairment fails can still be brought down).
	if err := applyDeclared(ctx, lab, opts, pr); err != nil {
		return lab, err
	}
	if err := writeJSON(filepath.Join(dir, "lab.json"), lab); err != nil {
		return lab, err
	}
	pr.printf("lab %s is up", lab.Name)
	return lab, nil
}

// keep tells the realizer which devices of the node namespace are the
// host's own (from its interfaces file) and not SDN devices.
func (n *Node) keep(name string) bool {
	if name == n.Link.Ifname {
		return true
	}
	if n.host != nil {
		_, ok := n.host.Ifaces[name]
		return ok
	}
	return false
}

func buildSegment(s *Segment) error {
	ns, err := nsutil.OpenNS(s.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if _, err := ns.EnsureBridge(s.Bridge, s.MTU, ""); err != nil {
		return err
	}
	// A switch only switches: no addresses, no IPv6 autoconf noise.
	if err := nsutil.Sysctls(s.NS, [2]string{"net.ipv6.conf.all.disable_ipv6", "1"}, [2]string{"net.ipv6.conf.default.disable_ipv6", "1"}); err != nil {
		return err
	}
	return ns.Up(s.Bridge)
}

// attach plugs a namespace into a segment: a veth whose far end is a port
// of the segment's switch bridge.
func attach(lab *Lab, ns *nsutil.NS, l *Link, mtu int) error {
	seg := lab.Segment(l.Segment)
	sw, err := nsutil.OpenNS(seg.NS, false)
	if err != nil {
		return err
	}
	defer sw.Close()
	if l.Port == "" {
		l.Port = portName(ns.Name, lab.Prefix())
	}
	if err := ns.EnsureVeth(l.Ifname, l.MAC, mtu, sw, l.Port, ""); err != nil {
		return err
	}
	if err := sw.SetMaster(l.Port, seg.Bridge); err != nil {
		return err
	}
	return sw.Up(l.Port)
}

// portName names a switch port after the namespace plugged into it; names
// longer than an interface name allows get a short hash.
func portName(ns, prefix string) string {
	n := strings.TrimPrefix(ns, prefix)
	if len(n) <= 15 {
		return n
	}
	return "p" + shortHash(n, 12)
}

func buildNode(lab *Lab, n *Node, dir string) error {
	ns, err := nsutil.OpenNS(n.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := noDAD(ns.Name); err != nil {
		return err
	}
	seg := lab.Segment(n.Link.Segment)
	if err := attach(lab, ns, &n.Link, seg.MTU); err != nil {
		return err
	}
	if n.InterfacesText != "" {
		p := filepath.Join(dir, "nodes", n.Name, "interfaces")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(n.InterfacesText), 0o644); err != nil {
			return err
		}
		n.Interfaces = p
	}
	if err := realizeHost(ns, n, seg); err != nil {
		return err
	}
	return nodeRPFilter(n)
}

// nodeRPFilter applies the node's rp_filter to its underlay NIC and the
// bridge that carries it (and holds the node's address). conf.all is set to
// 0 so the per-interface value is what counts (the kernel uses the larger of
// the two); the node's other interfaces keep their own values.
func nodeRPFilter(n *Node) error {
	if n.RPFilter == "" {
		return nil
	}
	v := fmt.Sprint(n.Link.RPFilter)
	kv := [][2]string{
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net/ipv4/conf/" + n.Link.Ifname + "/rp_filter", v},
	}
	for _, name := range n.UnderlayIfaces() {
		if name != n.Link.Ifname {
			kv = append(kv, [2]string{"net/ipv4/conf/" + name + "/rp_filter", v})
		}
	}
	return nsutil.Sysctls(n.NS, kv...)
}

// UnderlayIfaces names the node's underlay NIC and the host bridges that
// have it as a port.
func (n *Node) UnderlayIfaces() []string {
	out := []string{n.Link.Ifname}
	if n.host == nil {
		return out
	}
	for _, name := range n.host.Order {
		ifc := n.host.Ifaces[name]
		if ifc == nil {
			continue
		}
		for _, p := range ifc.BridgePorts {
			if p == n.Link.Ifname {
				out = append(out, name)
			}
		}
	}
	return out
}

// realizeHost brings up a node's host interfaces file: the underlay NIC (our
// veth), bridges with their ports, addresses, MTUs and default routes.
func realizeHost(ns *nsutil.NS, n *Node, seg *Segment) error {
	hi := n.host
	if hi == nil {
		return fmt.Errorf("no host interfaces")
	}
	var gws []netip.Addr
	for _, name := range hi.Order {
		ifc := hi.Ifaces[name]
		if name == "lo" || ifc == nil || ifc.Method4 == "loopback" {
			continue
		}
		if ifc.OVSType != "" || strings.Contains(name, ".") {
			continue // Open vSwitch and VLAN sub-interfaces are not part of the lab underlay
		}
		isBridge := len(ifc.BridgePorts) > 0 || strings.HasPrefix(name, "vmbr")
		if !isBridge && name != n.Link.Ifname {
			continue // a NIC the lab has no wire for
		}
		mtu := ifc.MTU
		if isBridge {
			carriesLink := false
			for _, p := range ifc.BridgePorts {
				if p == n.Link.Ifname {
					carriesLink = true
				}
			}
			mac := ""
			if carriesLink {
				mac = n.UnderlayMAC
				if mtu == 0 {
					mtu = seg.MTU
				}
			}
			if _, err := ns.EnsureBridge(name, mtu, mac); err != nil {
				return err
			}
			for _, p := range ifc.BridgePorts {
				if l, _ := ns.Link(p); l != nil {
					if err := ns.SetMaster(p, name); err != nil {
						return err
					}
				}
			}
		}
		if err := ns.SetAddrs(name, ifc.Addresses); err != nil {
			return err
		}
		if err := ns.Up(name); err != nil {
			return err
		}
		if ifc.Gateway.IsValid() {
			gws = append(gws, ifc.Gateway)
		}
		if ifc.Gateway6.IsValid() {
			gws = append(gws, ifc.Gateway6)
		}
	}
	if err := ns.Up(n.Link.Ifname); err != nil {
		return err
	}
	if len(gws) == 0 {
		gws = []netip.Addr{n.Gateway4, n.Gateway6}
	}
	return defaultRoutes(ns, gws...)
}

// defaultRoutes installs a default route through each valid gateway (of
// its own address family).
func defaultRoutes(ns *nsutil.NS, gws ...netip.Addr) error {
	for _, gw := range gws {
		if !gw.IsValid() {
			continue
		}
		if err := ns.ReplaceRoute(defaultRoute(gw.Is4()), []netip.Addr{gw}, ""); err != nil {
			return err
		}
	}
	return nil
}

func buildRouter(lab *Lab, r *Router) error {
	ns, err := nsutil.OpenNS(r.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := noDAD(ns.Name); err != nil {
		return err
	}
	kv := [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
	}
	for i := range r.Links {
		l := &r.Links[i]
		if l.MAC == "" {
			l.MAC = portMAC(r.NS, l.Ifname)
		}
		if err := attach(lab, ns, l, lab.Segment(l.Segment).MTU); err != nil {
			return err
		}
		if err := ns.SetAddrs(l.Ifname, l.Addrs); err != nil {
			return err
		}
		if err := ns.Up(l.Ifname); err != nil {
			return err
		}
		kv = append(kv, [2]string{"net/ipv4/conf/" + l.Ifname + "/rp_filter", fmt.Sprint(l.RPFilter)})
	}
	if err := nsutil.Sysctls(r.NS, kv...); err != nil {
		return err
	}
	for _, rt := range r.Routes {
		if err := ns.ReplaceRoute(rt.Dst, rt.Via, ""); err != nil {
			return err
		}
	}
	return nil
}

func buildHost(lab *Lab, h *Host) error {
	ns, err := nsutil.OpenNS(h.NS, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := noDAD(ns.Name); err != nil {
		return err
	}
	if err := attach(lab, ns, &h.Link, lab.Segment(h.Link.Segment).MTU); err != nil {
		return err
	}
	if err := ns.SetAddrs(h.Link.Ifname, h.Link.Addrs); err != nil {
		return err
	}
	if err := ns.Up(h.Link.Ifname); err != nil {
		return err
	}
	return defaultRoutes(ns, h.Gateway4, h.Gateway6)
}

// buildGuest makes the guest namespace and its NIC, and plugs the tap into
// the VNet bridge on its node. When the bridge was not realized (zone type
// the kernel cannot do) the guest is built unplugged and a note returned.
func buildGuest(lab *Lab, g *Guest) (string, error) {
	brNS := lab.BridgeNS(g.Node, g.VNet)
	host, err := nsutil.OpenNS(brNS, false)
	if err != nil {
		return "", err
	}
	defer host.Close()
	bridge, err := host.Link(g.VNet)
	if err != nil {
		return "", err
	}
	// The tap may already be on another node's bridge (migrated earlier):
	// then leave it where it is. Only a guest that exists can have moved.
	if nsutil.Exists(g.NS) {
		if l, _ := host.Link(g.Tap); l == nil {
			if cur := guestTapNS(lab, g); cur != "" && cur != brNS {
				return "", nil
			}
		}
	}
	ns, err := nsutil.OpenNS(g.NS, true)
	if err != nil {
		return "", err
	}
	defer ns.Close()
	if err := ns.EnsureVeth(g.Ifname, g.MAC, g.MTU, host, g.Tap, ""); err != nil {
		return "", err
	}
	if err := guestSysctls(g.NS, g.Ifname); err != nil {
		return "", err
	}
	if err := ns.SetAddrs(g.Ifname, g.Addrs); err != nil {
		return "", err
	}
	if err := ns.Up(g.Ifname); err != nil {
		return "", err
	}
	if err := defaultRoutes(ns, g.Gateway4, g.Gateway6); err != nil {
		return "", err
	}
	if bridge == nil {
		return fmt.Sprintf("guest %s: not plugged in: vnet %s has no bridge on node %s", g.Name, g.VNet, g.Node), nil
	}
	if err := host.SetMaster(g.Tap, g.VNet); err != nil {
		return "", err
	}
	return "", host.Up(g.Tap)
}

// guestTapNS finds the namespace that holds a guest's tap on any node of
// the lab ("" when none does yet).
func guestTapNS(lab *Lab, g *Guest) string {
	for _, n := range lab.Nodes {
		ns := lab.BridgeNS(n.Name, g.VNet)
		h, err := nsutil.OpenNS(ns, false)
		if err != nil {
			continue
		}
		l, _ := h.Link(g.Tap)
		h.Close()
		if l != nil {
			return ns
		}
	}
	return ""
}

// noDAD turns IPv6 duplicate address detection off for the interfaces a
// namespace gets: addresses are usable at once (a lab decides them, no
// duplicates), instead of tentative for a second or two after up.
func noDAD(ns string) error {
	return nsutil.Sysctls(ns, [2]string{"net.ipv6.conf.all.accept_dad", "0"}, [2]string{"net.ipv6.conf.default.accept_dad", "0"})
}

// guestSysctls turns DAD off on a guest's NIC and makes the guest keep its
// ARP and ND caches when the NIC loses carrier, in one namespace switch.
//
// A QEMU guest's NIC keeps carrier through a live migration; the lab's veth
// loses it while its host end changes namespace, and Linux would then flush
// the cache a real guest keeps. The evict_nocarrier knobs exist from Linux
// 5.16 on; older kernels keep the flush.
func guestSysctls(ns, ifname string) error {
	set := func(key string, optional bool) error {
		path, err := nsutil.SysctlPath(key)
		if err != nil {
			return fmt.Errorf("%s: %w", ns, err)
		}
		if _, err := os.Stat(path); err != nil && optional {
			return nil
		}
		if err := os.WriteFile(path, []byte("0"), 0o644); err != nil {
			return fmt.Errorf("%s: sysctl %s=%s: %w", ns, key, "0", err)
		}
		return nil
	}
	return nsutil.Do(ns, func() error {
		if err := set("net/ipv6/conf/"+ifname+"/accept_dad", false); err != nil {
			return err
		}
		for _, key := range []string{
			"net/ipv4/conf/all/arp_evict_nocarrier",
			"net/ipv4/conf/" + ifname + "/arp_evict_nocarrier",
			"net/ipv6/conf/" + ifname + "/ndisc_evict_nocarrier",
		} {
			if err := set(key, true); err != nil {
				return err
			}
		}
		return nil
	})
}
