package render

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/frr"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// DefaultFRRVersion is the version current Proxmox VE writes on frr.conf's
// first line (pve-network's "frr version 10.4.1").
const DefaultFRRVersion = "10.4.1"

// FRR renders /etc/frr/frr.conf for a node as Proxmox VE writes it, or ""
// when the node has no routing configuration (plan.FRR nil). version is
// the "frr version" line's value ("" for DefaultFRRVersion): the caller
// passes the one FRR release it renders for (the lab's FRR, or a flag), so
// the text and the daemons that read it agree.
//
// The block order is Proxmox's: vrfs, bgp instances (default first), isis,
// prefix-lists, the unmerged frr.conf.local lines, openfabric, ospf,
// access-lists, route-maps, static routes, zebra protocol route-maps. Every
// block starts with a "!" line; named maps are written in byte order of
// their names.
func FRR(plan *plan.NodePlan, version string) string {
	if plan == nil || plan.FRR == nil {
		return ""
	}
	if version == "" {
		version = DefaultFRRVersion
	}
	c := plan.FRR
	w := &frrWriter{}
	w.line("frr version " + version)
	w.line("frr defaults datacenter")
	w.line("hostname " + plan.Node)
	w.line("log syslog informational")
	w.line("service integrated-vtysh-config")
	w.bgp(&c.BGP)
	w.isis(&c.ISIS)
	w.prefixLists(c.PrefixLists)
	w.lines(c.Custom)
	w.openFabric(&c.OpenFabric)
	w.ospf(&c.OSPF)
	w.accessLists(c.AccessLists)
	w.routeMaps(c.RouteMaps)
	for _, r := range c.IPRoutes {
		w.line("!")
		w.line(ipRoute(r))
	}
	w.protocolRouteMaps(c.ProtocolRouteMaps)
	w.line("!")
	w.line("line vty")
	w.line("!")
	return w.b.String()
}

type frrWriter struct{ b strings.Builder }

func (w *frrWriter) line(s string) {
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *frrWriter) lines(ls []string) {
	for _, l := range ls {
		w.line(l)
	}
}

func (w *frrWriter) bgp(b *frr.BGP) {
	for _, name := range frr.SortedKeys(b.VRFs) {
		v := b.VRFs[name]
		w.line("!")
		w.line("vrf " + name)
		if v.VNI != 0 {
			w.line(" vni " + strconv.Itoa(v.VNI))
		}
		for _, r := range v.IPRoutes {
			w.line(" " + ipRoute(r))
		}
		w.lines(v.Custom)
		w.line("exit-vrf")
	}
	for _, name := range frr.SortedKeys(b.Routers) {
		r := b.Routers[name]
		w.line("!")
		hdr := "router bgp " + strconv.FormatUint(uint64(r.ASN), 10)
		if name != frr.DefaultVRF {
			hdr += " vrf " + name
		}
		w.line(hdr)
		w.bgpRouter(r)
		w.line("exit")
	}
}

func (w *frrWriter) bgpRouter(r *frr.BGPRouter) {
	w.line(" bgp router-id " + r.RouterID.String())
	if r.NoHardAdministrativeReset {
		w.line(" no bgp hard-administrative-reset")
	}
	if r.NoDefaultIPv4Unicast {
		w.line(" no bgp default ipv4-unicast")
	}
	if r.CoalesceTime != 0 {
		w.line(" coalesce-time " + strconv.Itoa(r.CoalesceTime))
	}
	if r.NoGracefulRestartNotification {
		w.line(" no bgp graceful-restart notification")
	}
	if r.DisableEBGPConnectedRouteCheck {
		w.line(" bgp disable-ebgp-connected-route-check")
	}
	if r.BestpathASPathMultipathRelax {
		w.line(" bgp bestpath as-path multipath-relax")
	}
	for _, g := range r.NeighborGroups {
		n := " neighbor " + g.Name
		w.line(n + " peer-group")
		w.line(n + " remote-as " + g.RemoteAS)
		if g.LocalAS != 0 {
			l := n + " local-as " + strconv.FormatUint(uint64(g.LocalAS), 10)
			if g.LocalASMode != "" {
				l += " " + g.LocalASMode
			}
			w.line(l)
		}
		if g.BFD {
			w.line(n + " bfd")
		}
		if g.EBGPMultihop != 0 {
			w.line(n + " ebgp-multihop " + strconv.Itoa(g.EBGPMultihop))
		}
		if g.UpdateSource != "" {
			w.line(n + " update-source " + g.UpdateSource)
		}
		for _, ip := range g.Peers {
			w.line(" neighbor " + ip.String() + " peer-group " + g.Name)
		}
		for _, i := range g.Interfaces {
			w.line(" neighbor " + i + " interface peer-group " + g.Name)
		}
	}
	w.lines(r.Custom)
	if af := r.IPv4Unicast; af != nil {
		w.unicastAF("ipv4", af)
	}
	if af := r.IPv6Unicast; af != nil {
		w.unicastAF("ipv6", af)
	}
	if af := r.L2VPNEVPN; af != nil {
		w.line(" !")
		w.line(" address-family l2vpn evpn")
		w.afCommon(af.ImportVRF, af.Neighbors)
		if af.AdvertiseAllVNI {
			w.line("  advertise-all-vni")
		}
		if af.AdvertiseDefaultGW {
			w.line("  advertise-default-gw")
		}
		if af.AutoRTAS != 0 {
			w.line("  autort as " + strconv.FormatUint(uint64(af.AutoRTAS), 10))
		}
		for _, d := range af.DefaultOriginate {
			w.line("  default-originate " + d)
		}
		if af.AdvertiseIPv4Unicast {
			w.line("  advertise ipv4 unicast")
		}
		if af.AdvertiseIPv6Unicast {
			w.line("  advertise ipv6 unicast")
		}
		if rt := af.RouteTargets; rt != nil {
			for _, t := range rt.Import {
				w.line("  route-target import " + t)
			}
			for _, t := range rt.Export {
				w.line("  route-target export " + t)
			}
			for _, t := range rt.Both {
				w.line("  route-target both " + t)
			}
		}
		w.lines(af.Custom)
		w.line(" exit-address-family")
	}
}

func (w *frrWriter) unicastAF(family string, af *frr.UnicastAF) {
	w.line(" !")
	w.line(" address-family " + family + " unicast")
	for _, n := range af.Networks {
		w.line("  network " + n.String())
	}
	w.afCommon(af.ImportVRF, af.Neighbors)
	for _, r := range af.Redistribute {
		s := "  redistribute " + r.Protocol
		if r.Metric != 0 {
			s += " metric " + strconv.Itoa(r.Metric)
		}
		if r.RouteMap != "" {
			s += " route-map " + r.RouteMap
		}
		w.line(s)
	}
	w.lines(af.Custom)
	w.line(" exit-address-family")
}

func (w *frrWriter) afCommon(importVRF []string, neighbors []frr.AFNeighbor) {
	for _, v := range importVRF {
		w.line("  import vrf " + v)
	}
	for _, n := range neighbors {
		w.line("  neighbor " + n.Name + " activate")
		if n.SoftReconfigurationInbound {
			w.line("  neighbor " + n.Name + " soft-reconfiguration inbound")
		}
		if n.RouteMapIn != "" {
			w.line("  neighbor " + n.Name + " route-map " + n.RouteMapIn + " in")
		}
		if n.RouteMapOut != "" {
			w.line("  neighbor " + n.Name + " route-map " + n.RouteMapOut + " out")
		}
	}
}

func (w *frrWriter) isis(i *frr.ISIS) {
	for _, name := range frr.SortedKeys(i.Routers) {
		r := i.Routers[name]
		w.line("!")
		w.line("router isis " + name)
		w.line(" net " + r.NET)
		if r.RedistributeIPv4Connected != "" {
			w.line(" redistribute ipv4 connected " + r.RedistributeIPv4Connected)
		}
		if r.RedistributeIPv6Connected != "" {
			w.line(" redistribute ipv6 connected " + r.RedistributeIPv6Connected)
		}
		if r.LogAdjacencyChanges {
			w.line(" log-adjacency-changes")
		}
		w.lines(r.Custom)
		w.line("exit")
	}
	for _, name := range frr.SortedKeys(i.Interfaces) {
		ifc := i.Interfaces[name]
		w.line("!")
		w.line("interface " + name)
		if ifc.Domain != "" && ifc.IPv4 {
			w.line(" ip router isis " + ifc.Domain)
		}
		if ifc.Domain != "" && ifc.IPv6 {
			w.line(" ipv6 router isis " + ifc.Domain)
		}
		w.lines(ifc.Custom)
		w.line("exit")
	}
}

func (w *frrWriter) openFabric(o *frr.OpenFabric) {
	for _, name := range frr.SortedKeys(o.Routers) {
		w.line("!")
		w.line("router openfabric " + name)
		w.line(" net " + o.Routers[name].NET)
		w.line("exit")
	}
	for _, name := range frr.SortedKeys(o.Interfaces) {
		i := o.Interfaces[name]
		w.line("!")
		w.line("interface " + name)
		if i.Fabric != "" && i.IPv4 {
			w.line(" ip router openfabric " + i.Fabric)
		}
		if i.Fabric != "" && i.IPv6 {
			w.line(" ipv6 router openfabric " + i.Fabric)
		}
		if i.Passive {
			w.line(" openfabric passive")
		}
		if i.HelloInterval != 0 {
			w.line(" openfabric hello-interval " + strconv.Itoa(i.HelloInterval))
		}
		if i.HelloMultiplier != 0 {
			w.line(" openfabric hello-multiplier " + strconv.Itoa(i.HelloMultiplier))
		}
		if i.CSNPInterval != 0 {
			w.line(" openfabric csnp-interval " + strconv.Itoa(i.CSNPInterval))
		}
		w.line("exit")
	}
}

func (w *frrWriter) ospf(o *frr.OSPF) {
	if o.Router != nil {
		w.line("!")
		w.line("router ospf")
		w.line(" ospf router-id " + o.Router.RouterID.String())
		for _, r := range o.Router.Redistribute {
			l := " redistribute " + r.Source
			if r.HasMetric {
				l += " metric " + strconv.FormatUint(uint64(r.Metric), 10)
			}
			if r.RouteMap != "" {
				l += " route-map " + r.RouteMap
			}
			w.line(l)
		}
		w.line("exit")
	}
	for _, name := range frr.SortedKeys(o.Interfaces) {
		i := o.Interfaces[name]
		w.line("!")
		w.line("interface " + name)
		w.line(" ip ospf area " + i.Area)
		if i.Passive {
			w.line(" ip ospf passive")
		}
		if i.NetworkType != "" {
			w.line(" ip ospf network " + i.NetworkType)
		}
		w.line("exit")
	}
}

func (w *frrWriter) prefixLists(m map[string][]frr.PrefixListRule) {
	for _, name := range frr.SortedKeys(m) {
		w.line("!")
		for _, r := range m[name] {
			s := ipKeyword(r.Network.Addr()) + " prefix-list " + name + " "
			if r.Seq != 0 {
				s += "seq " + strconv.Itoa(r.Seq) + " "
			}
			s += r.Action + " " + r.Network.String()
			if r.LE != 0 {
				s += " le " + strconv.Itoa(r.LE)
			}
			if r.GE != 0 {
				s += " ge " + strconv.Itoa(r.GE)
			}
			w.line(s)
		}
	}
}

func (w *frrWriter) accessLists(m map[string][]frr.AccessListRule) {
	for _, name := range frr.SortedKeys(m) {
		w.line("!")
		for _, r := range m[name] {
			s := "access-list " + name + " "
			if r.Network.Addr().Is6() {
				s = "ipv6 " + s
			}
			if r.Seq != 0 {
				s += "seq " + strconv.Itoa(r.Seq) + " "
			}
			w.line(s + r.Action + " " + r.Network.String())
		}
	}
}

func (w *frrWriter) routeMaps(m map[string][]frr.RouteMapEntry) {
	for _, name := range frr.SortedKeys(m) {
		for _, e := range m[name] {
			w.line("!")
			w.line("route-map " + name + " " + e.Action + " " + strconv.Itoa(e.Seq))
			for _, kv := range e.Matches {
				w.line(" match " + kvText(kv))
			}
			for _, kv := range e.Sets {
				w.line(" set " + kvText(kv))
			}
			if e.Call != "" {
				w.line(" call " + e.Call)
			}
			if e.ExitAction != "" {
				w.line(" " + e.ExitAction)
			}
			w.line("exit")
		}
	}
}

func (w *frrWriter) protocolRouteMaps(m map[string]frr.ProtocolRouteMap) {
	for _, proto := range frr.SortedKeys(m) {
		p := m[proto]
		w.line("!")
		if p.V4 != "" {
			w.line("ip protocol " + proto + " route-map " + p.V4)
		}
		if p.V6 != "" {
			w.line("!")
			w.line("ipv6 protocol " + proto + " route-map " + p.V6)
		}
	}
}

func kvText(kv frr.KV) string {
	if kv.Value == "" {
		return kv.Key
	}
	return kv.Key + " " + kv.Value
}

func ipKeyword(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "ipv6"
	}
	return "ip"
}

func ipRoute(r frr.IPRoute) string {
	s := ipKeyword(r.Prefix.Addr()) + " route " + r.Prefix.String() + " " + r.Via
	if r.VRF != "" {
		s += " " + r.VRF
	}
	return s
}
