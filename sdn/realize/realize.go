// Package realize turns a node's NodePlan into kernel state inside the
// node's network namespace, through netlink and nftables only (no `ip`,
// `bridge` or `iptables` commands): bridges, VXLAN devices with their flood
// lists and port flags, MTUs, MACs, addresses, sysctls, routes and SNAT.
//
// An EVPN zone's VRF is a namespace of its own: its VNet bridges, their
// VXLAN devices (created in the node namespace and moved in, so their UDP
// sockets stay on the underlay) and the L3VNI bridge live there. Exit nodes
// get a veth between the node and the VRF namespace with routes both ways;
// with exitnodes-local-routing also the plan's xvrf veth pair, and the
// frr.conf static routes over it (what zebra would install).
//
// Apply converges: run again after the plan changed, it adds, changes and
// removes only the difference, as "apply" in Proxmox's SDN panel does.
package realize

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/realize/softvlan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// Target says where a node's plan goes.
type Target struct {
	// NS is the node's namespace.
	NS string
	// VRFNS names the namespace of an EVPN zone's VRF on this node.
	// VRFNS("") is the common prefix of them all (for cleanup).
	VRFNS func(zone string) string
	// Keep reports the devices of the node namespace that are not the
	// realizer's (the host's own interfaces); lo and tap* are always kept.
	Keep func(name string) bool
	// WireGuard, when set, brings up the WireGuard device of c in NS,
	// configured as `wg syncconf` would (the device must exist when it
	// returns), and says what of c it did not realize (Report.Skipped);
	// the realizer then gives it its addresses and routes. Nil: WireGuard
	// interfaces are not realized.
	WireGuard func(ctx context.Context, c plan.WireGuardConfig) (notRealized []string, err error)
}

// Report says what Apply did.
type Report struct {
	// Devices are the devices realized, as "namespace/device".
	Devices []string
	// Skipped names what could not be realized here and why.
	Skipped []string
	// Models says how each vlan and qinq zone is realized (kernel VLAN
	// devices or software tagging), one line per zone.
	Models []string
}

// device is one device to realize and where.
type device struct {
	ifc  *plan.Iface
	ns   string // final namespace
	zone *plan.ZonePlan
}

// DefaultVxlanPort is the IANA port; the kernel's own default is 8472.
const DefaultVxlanPort = 4789

// Apply realizes plan in the target namespaces.
func Apply(ctx context.Context, t Target, plan *plan.NodePlan, caps nsutil.Caps) (*Report, error) {
	a := &applier{t: t, plan: plan, caps: caps, rep: &Report{}, open: map[string]*nsutil.NS{}}
	defer a.closeAll()
	if err := a.run(ctx); err != nil {
		return a.rep, err
	}
	return a.rep, nil
}

type applier struct {
	t    Target
	plan *plan.NodePlan
	caps nsutil.Caps
	rep  *Report
	open map[string]*nsutil.NS

	devs    []*device
	byName  map[string]*device // by "ns/name"
	skipped map[string]bool    // zone IDs not realized
	vrfNS   map[string]string  // zone ID -> VRF namespace (evpn)
	ipfwd   bool               // the node namespace forwards (SNAT, exit node)
	// src6 are ipv6Source's answers by remote: the VXLAN devices of a
	// zone share their peers, so one route lookup serves them all.
	src6 map[netip.Addr]net.IP
}

func (a *applier) ns(name string, create bool) (*nsutil.NS, error) {
	if n := a.open[name]; n != nil {
		return n, nil
	}
	n, err := nsutil.OpenNS(name, create)
	if err != nil {
		return nil, err
	}
	a.open[name] = n
	return n, nil
}

func (a *applier) closeAll() {
	for _, n := range a.open {
		n.Close()
	}
}

func (a *applier) skip(format string, args ...any) {
	a.rep.Skipped = append(a.rep.Skipped, fmt.Sprintf(format, args...))
}

func (a *applier) run(ctx context.Context) error {
	a.classify()
	node, err := a.ns(a.t.NS, false)
	if err != nil {
		return err
	}
	// VRF namespaces first: devices are moved into them.
	for _, zid := range sortedKeys(a.vrfNS) {
		ns := a.vrfNS[zid]
		if _, err := a.ns(ns, true); err != nil {
			return err
		}
		if err := nsutil.Sysctls(ns,
			[2]string{"net.ipv4.ip_forward", "1"},
			[2]string{"net.ipv6.conf.all.forwarding", "1"},
			[2]string{"net.ipv4.conf.all.rp_filter", "0"},
			[2]string{"net.ipv4.conf.default.rp_filter", "0"},
			[2]string{"net.ipv6.conf.default.accept_dad", "0"},
		); err != nil {
			return err
		}
	}
	if err := a.cleanup(); err != nil {
		return err
	}
	// Bridges, then VXLAN devices, then veths: ports need their bridge.
	// WireGuard devices last: each is a process to start.
	for _, kind := range []plan.IfaceKind{plan.KindBridge, plan.KindDummy, plan.KindVxlan, plan.KindVeth, plan.KindWireGuard} {
		for _, d := range a.devs {
			if d.ifc.Kind != kind || ctx.Err() != nil {
				continue
			}
			if err := a.create(ctx, node, d); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.createVlans(node); err != nil {
		return err
	}
	for _, d := range a.devs {
		if err := a.configure(d); err != nil {
			return err
		}
		a.rep.Devices = append(a.rep.Devices, d.ns+"/"+d.ifc.Name)
	}
	if err := a.exitPaths(); err != nil {
		return err
	}
	if err := a.frrStaticRoutes(); err != nil {
		return err
	}
	if err := a.routes(); err != nil {
		return err
	}
	if err := a.snat(); err != nil {
		return err
	}
	if a.ipfwd {
		if err := nsutil.Sysctls(a.t.NS, [2]string{"net.ipv4.ip_forward", "1"}, [2]string{"net.ipv6.conf.all.forwarding", "1"}); err != nil {
			return err
		}
	}
	return nil
}

// classify decides, for every stanza, whether it can be realized here and in
// which namespace.
func (a *applier) classify() {
	a.byName = map[string]*device{}
	a.skipped = map[string]bool{}
	a.vrfNS = map[string]string{}
	zoneOf := map[string]*plan.ZonePlan{}
	for i := range a.plan.Zones {
		z := &a.plan.Zones[i]
		for n := range a.zoneMembers(z) {
			zoneOf[n] = z
		}
		if why := a.zoneUnsupported(z); why != "" {
			a.skipped[z.ID] = true
			a.skip("zone %s (%s): not realized: %s", z.ID, z.Type, why)
			continue
		}
		if inVRF(z) {
			a.vrfNS[z.ID] = a.t.VRFNS(z.ID)
		}
		if t, ok := registry.Zone(z.Type); ok && t.Traits().VLAN {
			a.rep.Models = append(a.rep.Models, a.zoneModel(z))
		}
	}
	// The namespace of a port follows its bridge.
	portOf := map[string]string{}
	for i := range a.plan.Ifaces {
		ifc := &a.plan.Ifaces[i]
		for _, p := range ifc.BridgePorts {
			portOf[p] = ifc.Name
		}
	}
	for i := range a.plan.Ifaces {
		ifc := &a.plan.Ifaces[i]
		z := zoneOf[ifc.Name]
		if z != nil && a.skipped[z.ID] {
			continue
		}
		switch ifc.Kind {
		case plan.KindBridge, plan.KindVxlan, plan.KindVeth:
		case plan.KindVlan:
			if z == nil {
				a.skip("%s (vlan): not realized: it belongs to no zone", ifc.Name)
				continue
			}
		case plan.KindVRF:
			continue // a namespace, made above
		case plan.KindDummy, plan.KindPhysical:
			a.fabricDevice(ifc)
			continue
		case plan.KindWireGuard:
			if a.t.WireGuard == nil {
				a.skip("%s (wireguard): not realized: the lab runs no WireGuard here", ifc.Name)
				continue
			}
			a.fabricDevice(ifc)
			continue
		default:
			if !ifc.Amends && z == nil {
				a.skip("%s (%s): not realized by the lab", ifc.Name, ifc.Kind)
			}
			continue
		}
		if ifc.Amends {
			continue
		}
		d := &device{ifc: ifc, ns: a.t.NS, zone: z}
		if z != nil && inVRF(z) {
			vrfDev := ifc.VRF != "" || ifc.Name == z.L3Bridge || ifc.Name == z.L3Vxlan || ifc.Name == z.XVRFPeer
			if br, ok := portOf[ifc.Name]; ok {
				if bi := a.plan.Iface(br); bi != nil && bi.VRF != "" {
					vrfDev = true
				}
			}
			if vrfDev {
				d.ns = a.vrfNS[z.ID]
			}
		}
		if ifc.Kind == plan.KindVxlan && !a.caps.Vxlan {
			a.skip("%s (vxlan): not realized: no vxlan support in this kernel", ifc.Name)
			continue
		}
		a.devs = append(a.devs, d)
		a.byName[d.ns+"/"+ifc.Name] = d
		if len(ifc.SNAT) > 0 {
			a.ipfwd = true
		}
	}
}

// zoneUnsupported says why a zone cannot be realized here ("" if it can):
// the lab runs no Open vSwitch, and the zone's type knows what else it
// needs from the kernel.
func (a *applier) zoneUnsupported(z *plan.ZonePlan) string {
	if z.BridgeOVS {
		return "its bridge " + z.Bridge + " is Open vSwitch, which the lab does not run"
	}
	t, ok := registry.Zone(z.Type)
	if !ok {
		return "unknown zone type " + z.Type
	}
	return t.Unsupported(z, kernel{a})
}

// kernel is what a zone type asks about the node being built.
type kernel struct{ a *applier }

func (k kernel) Caps() nsutil.Caps                        { return k.a.caps }
func (k kernel) Plan() *plan.NodePlan                     { return k.a.plan }
func (k kernel) Members(z *plan.ZonePlan) map[string]bool { return k.a.zoneMembers(z) }
func (k kernel) LinkExists(name string) bool {
	n, err := k.a.ns(k.a.t.NS, false)
	if err != nil {
		return true // cannot tell: let creating the devices report it
	}
	l, _ := n.Link(name)
	return l != nil
}

// inVRF reports whether zone z is a VRF (a namespace of its own).
func inVRF(z *plan.ZonePlan) bool {
	t, ok := registry.Zone(z.Type)
	return ok && t.Traits().VRF
}

// zoneMembers returns the devices of a zone: those the ZonePlan names,
// and, transitively, the bridges that have one of them as a port, their
// ports and veth peers (the vmbr0v100 bridge, eth0.100, pr_<vnet> of a vlan
// zone). Stanzas that only amend a host interface are not members.
func (a *applier) zoneMembers(z *plan.ZonePlan) map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{z.VRF, z.L3Bridge, z.L3Vxlan, z.ZoneBridge, z.XVRF, z.XVRFPeer} {
		if n != "" {
			m[n] = true
		}
	}
	for _, v := range z.VNets {
		for _, n := range []string{v.Bridge, v.Vxlan, v.Uplink} {
			if n != "" {
				m[n] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		add := func(n string) {
			if n != "" && !m[n] {
				m[n] = true
				changed = true
			}
		}
		for i := range a.plan.Ifaces {
			ifc := &a.plan.Ifaces[i]
			if ifc.Amends {
				continue
			}
			if m[ifc.Name] {
				add(ifc.VethPeer)
				for _, p := range ifc.BridgePorts {
					add(p)
				}
				continue
			}
			for _, p := range ifc.BridgePorts {
				if m[p] {
					add(ifc.Name)
				}
			}
		}
	}
	return m
}

// cleanup removes what an earlier Apply made and this plan no longer has:
// devices in the node namespace that are neither the host's nor wanted, and
// VRF namespaces of zones that are gone.
func (a *applier) cleanup() error {
	var vrfs []string
	if a.t.VRFNS != nil {
		l, err := nsutil.List(a.t.VRFNS(""))
		if err != nil {
			return err
		}
		vrfs = l
	}
	wantNS := map[string]bool{}
	for _, ns := range a.vrfNS {
		wantNS[ns] = true
	}
	for _, ns := range vrfs {
		if !wantNS[ns] {
			if err := nsutil.Delete(ns); err != nil {
				return err
			}
		}
	}
	// Ports the wanted bridges list (implicit VLAN devices) stay too.
	ports := map[string]bool{}
	for _, d := range a.devs {
		for _, p := range d.ifc.BridgePorts {
			ports[d.ns+"/"+p] = true
		}
	}
	// The hidden ends of software VLAN devices stay with their device.
	for _, v := range a.vlanDevs() {
		ports[a.t.NS+"/"+softvlan.PeerName(v.name)] = true
	}
	check := append([]string{a.t.NS}, sortedValues(a.vrfNS)...)
	for _, nsName := range check {
		n, err := a.ns(nsName, false)
		if err != nil {
			return err
		}
		links, err := n.H.LinkList()
		if err != nil {
			return fmt.Errorf("%s: list links: %w", nsName, err)
		}
		for _, l := range links {
			name := l.Attrs().Name
			if name == "lo" || strings.HasPrefix(name, "tap") || (nsName == a.t.NS && a.t.Keep != nil && a.t.Keep(name)) {
				continue
			}
			if _, ok := a.byName[nsName+"/"+name]; ok || ports[nsName+"/"+name] {
				continue
			}
			if a.isExitPath(nsName, name) {
				continue
			}
			if err := n.H.LinkDel(l); err != nil {
				return fmt.Errorf("%s: remove %s: %w", nsName, name, err)
			}
		}
	}
	return nil
}

func (a *applier) isExitPath(ns, name string) bool {
	for i := range a.plan.Zones {
		z := &a.plan.Zones[i]
		if inVRF(z) && z.ExitNode && !a.skipped[z.ID] && name == exitLink(z.ID) && (ns == a.t.NS || ns == a.vrfNS[z.ID]) {
			return true
		}
	}
	return false
}

// create makes a device (or keeps it when it matches the plan).
func (a *applier) create(ctx context.Context, node *nsutil.NS, d *device) error {
	ifc := d.ifc
	target, err := a.ns(d.ns, false)
	if err != nil {
		return err
	}
	switch ifc.Kind {
	case plan.KindBridge:
		_, err := target.EnsureBridge(ifc.Name, ifc.MTU, ifc.HWAddress)
		return err
	case plan.KindDummy:
		return a.createLoopback(target, ifc.Name)
	case plan.KindVxlan:
		return a.createVxlan(node, target, d)
	case plan.KindWireGuard:
		for _, c := range a.plan.WireGuard {
			if c.Name == ifc.Name {
				notes, err := a.t.WireGuard(ctx, c)
				a.rep.Skipped = append(a.rep.Skipped, notes...)
				return err
			}
		}
		return fmt.Errorf("%s (wireguard): no configuration for it (priv/wg-keys.cfg, fabrics.cfg)", ifc.Name)
	case plan.KindVeth:
		if ifc.VethPeer == "" {
			a.skip("%s (veth): no peer name", ifc.Name)
			return nil
		}
		// Create the pair once, from the end listed first.
		peerNS := a.t.NS
		for _, o := range a.devs {
			if o.ifc.Name == ifc.VethPeer {
				peerNS = o.ns
			}
		}
		if l, _ := target.Link(ifc.Name); l != nil {
			return nil
		}
		peer, err := a.ns(peerNS, false)
		if err != nil {
			return err
		}
		return target.EnsureVeth(ifc.Name, ifc.HWAddress, ifc.MTU, peer, ifc.VethPeer, "")
	}
	return nil
}

func (a *applier) createVxlan(node, target *nsutil.NS, d *device) error {
	ifc := d.ifc
	port := ifc.VxlanPort
	if port == 0 && d.zone != nil {
		port = d.zone.VxlanPort
	}
	if port == 0 {
		port = DefaultVxlanPort
	}
	learning := ifc.Learning == nil || *ifc.Learning
	want := &netlink.Vxlan{VxlanId: ifc.VxlanID, Port: port, Learning: learning}
	want.Name = ifc.Name
	want.MTU = ifc.MTU
	if ifc.VxlanLocal.IsValid() {
		want.SrcAddr = net.IP(ifc.VxlanLocal.AsSlice())
	} else if src := a.ipv6Source(node, ifc.VxlanRemotes); src != nil {
		want.SrcAddr = src
	}
	if l, _ := target.Link(ifc.Name); l != nil {
		if vx, ok := l.(*netlink.Vxlan); ok && vx.VxlanId == want.VxlanId && vx.Port == port &&
			vx.Learning == learning && vx.SrcAddr.Equal(want.SrcAddr) {
			return nil
		}
		if err := target.H.LinkDel(l); err != nil {
			return target.Errf(ifc.Name, err)
		}
	}
	// Created in the node namespace so its socket lives on the underlay.
	if target != node {
		if l, _ := node.Link(ifc.Name); l != nil {
			if err := node.H.LinkDel(l); err != nil {
				return node.Errf(ifc.Name, err)
			}
		}
	}
	// Asked for through the node namespace's netlink socket with the VRF
	// namespace as destination (IFLA_NET_NS_FD): the kernel makes the device
	// in the node namespace's context, so its UDP socket is there, and puts
	// it in the VRF namespace, which is what creating and then moving it
	// does, without the ~20 ms RCU wait of a move under the RTNL lock.
	if target != node {
		want.Namespace = netlink.NsFd(int(target.Fd))
	}
	if err := node.H.LinkAdd(want); err != nil {
		return node.Errf(ifc.Name, fmt.Errorf("add vxlan %d in %s: %w", ifc.VxlanID, target.Name, err))
	}
	return nil
}

// configure sets what may change on an existing device: master, port
// flags, MTU, MAC, alias, addresses, flood list, sysctls, up.
func (a *applier) configure(d *device) error {
	ifc := d.ifc
	n, err := a.ns(d.ns, false)
	if err != nil {
		return err
	}
	l, err := n.Link(ifc.Name)
	if err != nil {
		return err
	}
	if l == nil {
		return nil // skipped at create
	}
	if err := n.SetAttrs(l, ifc.MTU, ifc.HWAddress); err != nil {
		return err
	}
	if l.Attrs().Alias != ifc.Alias {
		if err := n.H.LinkSetAlias(l, ifc.Alias); err != nil {
			return n.Errf(ifc.Name, err)
		}
	}
	if ifc.Kind == plan.KindBridge {
		for _, p := range ifc.BridgePorts {
			pl, _ := n.Link(p)
			if pl == nil {
				if err := a.implicitVlan(n, p); err != nil {
					a.skip("%s: port %s: %v", ifc.Name, p, err)
					continue
				}
			}
			if err := n.SetMaster(p, ifc.Name); err != nil {
				return err
			}
			if pd := a.byName[d.ns+"/"+p]; pd != nil {
				if err := a.portFlags(n, pd.ifc); err != nil {
					return err
				}
			}
		}
		if err := a.vlanFiltering(n, ifc); err != nil {
			return err
		}
	}
	if err := n.SetAddrs(ifc.Name, ifc.Addresses); err != nil {
		return err
	}
	// A VXLAN device without learning and without static remotes is
	// an EVPN one: its flood list is the control plane's (the agent or
	// zebra installs it from type 3 routes), so a re-applied plan must
	// not take it away.
	if ifc.Kind == plan.KindVxlan && !controlPlaneFlood(ifc) {
		if err := a.floodList(n, ifc); err != nil {
			return err
		}
	}
	var kv [][2]string
	if ifc.IPForward {
		kv = append(kv, [2]string{"net/ipv4/conf/" + ifc.Name + "/forwarding", "1"})
	}
	if ifc.IP6Forward {
		kv = append(kv, [2]string{"net/ipv6/conf/" + ifc.Name + "/forwarding", "1"})
	}
	if ifc.ARPAccept {
		kv = append(kv, [2]string{"net/ipv4/conf/" + ifc.Name + "/arp_accept", "1"})
	}
	if len(kv) > 0 {
		if err := nsutil.Sysctls(d.ns, kv...); err != nil {
			return err
		}
	}
	return n.Up(ifc.Name)
}

// portFlags sets the bridge-port flags of a VXLAN port: learning off and
// ARP/ND suppression as the plan says.
func (a *applier) portFlags(n *nsutil.NS, ifc *plan.Iface) error {
	l, err := n.H.LinkByName(ifc.Name)
	if err != nil {
		return n.Errf(ifc.Name, err)
	}
	if ifc.Learning != nil {
		if err := n.H.LinkSetLearning(l, *ifc.Learning); err != nil {
			return n.Errf(ifc.Name, fmt.Errorf("bridge-learning: %w", err))
		}
	}
	if err := n.H.LinkSetBrNeighSuppress(l, ifc.ARPNDSuppress); err != nil {
		return n.Errf(ifc.Name, fmt.Errorf("neigh_suppress: %w", err))
	}
	return nil
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// controlPlaneFlood tells whether a VXLAN device's flood list belongs to
// the control plane rather than to the plan.
func controlPlaneFlood(ifc *plan.Iface) bool {
	return ifc.Learning != nil && !*ifc.Learning && len(ifc.VxlanRemotes) == 0
}

// floodList makes the all-zero FDB entries of a VXLAN device (head-end
// replication) exactly the plan's remotes.
func (a *applier) floodList(n *nsutil.NS, ifc *plan.Iface) error {
	l, err := n.H.LinkByName(ifc.Name)
	if err != nil {
		return n.Errf(ifc.Name, err)
	}
	have, err := n.H.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return n.Errf(ifc.Name, fmt.Errorf("fdb: %w", err))
	}
	want := map[netip.Addr]bool{}
	for _, r := range ifc.VxlanRemotes {
		want[r] = true
	}
	for _, e := range have {
		if e.HardwareAddr.String() != zeroMAC.String() || e.IP == nil {
			continue
		}
		ip, _ := netip.AddrFromSlice(e.IP)
		ip = ip.Unmap()
		if want[ip] {
			delete(want, ip)
			continue
		}
		e := e
		if err := n.H.NeighDel(&e); err != nil {
			return n.Errf(ifc.Name, fmt.Errorf("fdb del %s: %w", ip, err))
		}
	}
	for _, r := range ifc.VxlanRemotes {
		if !want[r] {
			continue
		}
		e := &netlink.Neigh{
			LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE,
			State: netlink.NUD_PERMANENT | netlink.NUD_NOARP, Flags: netlink.NTF_SELF,
			IP: net.IP(r.AsSlice()), HardwareAddr: zeroMAC,
		}
		if err := n.H.NeighAppend(e); err != nil {
			return n.Errf(ifc.Name, fmt.Errorf("fdb append %s: %w", r, err))
		}
	}
	return nil
}

// routes installs the routes the stanzas' commands install: connected
// routes and the VRF's unreachable default (absent on exit nodes).
func (a *applier) routes() error {
	for _, d := range a.devs {
		for _, r := range d.ifc.Routes {
			n, err := a.ns(d.ns, false)
			if err != nil {
				return err
			}
			if r.VRF != "" {
				z := a.zoneByVRF(r.VRF)
				if z == nil || a.vrfNS[z.ID] == "" {
					continue
				}
				if n, err = a.ns(a.vrfNS[z.ID], false); err != nil {
					return err
				}
			}
			switch {
			case r.Unreachable:
				if err := n.Unreachable(r.Prefix, r.Metric, !r.Delete); err != nil {
					return err
				}
			case r.Dev != "" && !r.Delete:
				if err := n.ReplaceRoute(r.Prefix, nil, r.Dev); err != nil {
					return err
				}
			}
		}
	}
	// A VRF of a non-exit node without any default gets the unreachable
	// default Proxmox installs, so lookups fail fast instead of leaking.
	return nil
}

func (a *applier) zoneByVRF(vrf string) *plan.ZonePlan {
	for i := range a.plan.Zones {
		if a.plan.Zones[i].VRF == vrf {
			return &a.plan.Zones[i]
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

// implicitVlan creates a port such as "eth0.100" that ifupdown2 makes on
// its own when a bridge lists it (needs 8021q).
func (a *applier) implicitVlan(n *nsutil.NS, name string) error {
	raw, id, ok := plan.ImplicitVlan(name)
	if !ok {
		return fmt.Errorf("no such device in %s", n.Name)
	}
	if !a.caps.Vlan {
		return fmt.Errorf("not created: 8021q is not available on this kernel")
	}
	parent, err := n.H.LinkByName(raw)
	if err != nil {
		return fmt.Errorf("no device %s in %s", raw, n.Name)
	}
	la := netlink.NewLinkAttrs()
	la.Name = name
	la.ParentIndex = parent.Attrs().Index
	if err := n.H.LinkAdd(&netlink.Vlan{LinkAttrs: la, VlanId: id}); err != nil {
		return fmt.Errorf("add vlan %d on %s: %w", id, raw, err)
	}
	return n.Up(name)
}

// ipv6Source is the node's source address towards the first of IPv6
// remotes (nil: the remotes are IPv4, or no route). A vxlan zone has no
// local tunnel IP in Proxmox's stanza; without one the kernel makes an
// IPv4 device, which refuses IPv6 flood entries (EAFNOSUPPORT), so the
// device takes the address the route to its peers would use.
func (a *applier) ipv6Source(node *nsutil.NS, remotes []netip.Addr) net.IP {
	if len(remotes) == 0 || !remotes[0].Is6() || remotes[0].Is4In6() {
		return nil
	}
	if src, ok := a.src6[remotes[0]]; ok {
		return src
	}
	var src net.IP
	rs, err := node.H.RouteGet(net.IP(remotes[0].AsSlice()))
	if err == nil && len(rs) > 0 && rs[0].Src != nil && !rs[0].Src.IsLoopback() {
		src = rs[0].Src
	}
	if a.src6 == nil {
		a.src6 = map[netip.Addr]net.IP{}
	}
	a.src6[remotes[0]] = src
	return src
}
