package topology

// Resolution of the nodes: names, host interfaces, and their plans.

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

func (r *resolver) nodes() {
	peers := r.configPeers()
	release := r.frrRelease()
	seen := map[string]bool{}
	for i, ns := range r.s.Nodes {
		f := "nodes." + ns.Name.V
		if !validNodeName(ns.Name.V) {
			r.errf(ns.Name.Pos, "nodes", "%q is not a valid Proxmox node name", ns.Name.V)
			continue
		}
		if seen[ns.Name.V] {
			r.errf(ns.Name.Pos, "nodes", "node %q listed twice", ns.Name.V)
			continue
		}
		seen[ns.Name.V] = true
		n := &Node{Name: ns.Name.V, NS: r.lab.Prefix() + ns.Name.V, pos: ns.Name.Pos, UnderlayMAC: nodeMAC(ns.Name.V)}
		seg := r.segmentFor(ns.Segment, f+".segment", ns.Name.Pos)
		if seg == nil {
			continue
		}
		n.Link = Link{Segment: seg.Name, Ifname: "eth0", MAC: n.UnderlayMAC}
		var preferred netip.Addr
		if i < len(peers) {
			preferred = peers[i]
		}
		given := ns.Addresses
		if ns.Interfaces.Set {
			r.nodeInterfaces(n, ns, seg, &given)
		}
		addrs := r.addrIn(seg, given, f+".address", ns.Name.Pos, preferred, false)
		if len(addrs) == 0 {
			continue
		}
		n.Addr = addrs[0]
		n.Link.Addrs = addrs
		if ns.RPFilter.Set {
			n.Link.RPFilter = rpFilter(ns.RPFilter, f+".rp_filter", r)
			n.RPFilter = ns.RPFilter.V
		}
		if ns.Gateway.Set {
			gw, err := netip.ParseAddr(ns.Gateway.V)
			if err != nil {
				r.errf(ns.Gateway.Pos, f+".gateway", "%q is not an address", ns.Gateway.V)
			} else if gw.Is4() {
				n.Gateway4 = gw
			} else {
				n.Gateway6 = gw
			}
		}
		r.checkNodeGateways(n, ns)
		n.Engine = r.engine(ns.Engine, f+".engine")
		n.FRRRelease = release
		if ns.FRRLocal.Set {
			path := ns.FRRLocal.V
			if !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(r.s.File), path)
			}
			if b, err := config.ReadInput(path); err != nil {
				r.errf(ns.FRRLocal.Pos, f+".frr_local", "%s: %v", path, err)
			} else {
				n.FRRLocal = string(b)
			}
		}
		r.lab.Nodes = append(r.lab.Nodes, n)
	}
}

// checkNodeGateways refuses a node gateway the kernel would refuse half-way
// through up: one no underlay address of the node is on a link with, or
// the node's own address. It names the lab file's gateway, else the host
// interfaces file it came from.
func (r *resolver) checkNodeGateways(n *Node, ns *nodeSpec) {
	f := "nodes." + ns.Name.V
	pos, field, from := ns.Gateway.Pos, f+".gateway", ""
	if !ns.Gateway.Set {
		pos, field, from = ns.Interfaces.Pos, f+".interfaces", " (the gateway line of "+n.Interfaces+")"
	}
	for _, gw := range []netip.Addr{n.Gateway4, n.Gateway6} {
		if !gw.IsValid() || gw.Is6() && gw.IsLinkLocalUnicast() {
			continue
		}
		var onLink, self bool
		for _, a := range n.Link.Addrs {
			onLink = onLink || a.Addr().Is4() == gw.Is4() && a.Masked().Contains(gw)
			self = self || a.Addr() == gw
		}
		switch {
		case self:
			r.errf(pos, field, "gateway %s is the node's own address%s", gw, from)
		case !onLink:
			r.errf(pos, field, "gateway %s is not on the node's underlay link: none of its addresses (%s) is in a subnet holding it%s",
				gw, prefixesString(n.Link.Addrs), from)
		}
	}
}

// nodeInterfaces reads a node's own host interfaces file: its physical
// underlay port becomes the node's link, its address the node's address.
func (r *resolver) nodeInterfaces(n *Node, ns *nodeSpec, seg *Segment, given *prefixes) {
	f := "nodes." + ns.Name.V + ".interfaces"
	path := ns.Interfaces.V
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(r.s.File), path)
	}
	hi, err := config.ParseInterfaces(path)
	if err != nil {
		r.absorb(err, ns.Interfaces.Pos, f, "%v")
		return
	}
	abs, _ := filepath.Abs(path)
	n.Interfaces = abs
	n.interfacesGiven = true
	n.host = hi
	// A static route of an up command goes through a neighbour on the
	// interface's link; the kernel refuses any other half-way through up.
	for _, name := range hi.Order {
		ifc := hi.Ifaces[name]
		for _, rt := range ifc.Routes {
			onLink := false
			for _, a := range ifc.Addresses {
				onLink = onLink || (a.Contains(rt.Via) && a.Addr() != rt.Via)
			}
			if !onLink {
				r.errf(rt.Pos, "up", "route to %s: %s is not on %s's link (none of its addresses is in a subnet holding it)", rt.Dst, rt.Via, name)
			}
		}
	}
	// The interface holding an address in the segment is the node's
	// underlay; its first physical port is the veth to the switch.
	for _, name := range hi.Order {
		ifc := hi.Ifaces[name]
		for _, a := range ifc.Addresses {
			if (seg.Subnet4.IsValid() && seg.Subnet4.Contains(a.Addr())) || (seg.Subnet6.IsValid() && seg.Subnet6.Contains(a.Addr())) {
				port := name
				if ports := physicalPorts(hi, name); len(ports) > 0 {
					port = ports[0]
				}
				n.Link.Ifname = port
				if !given.Set {
					*given = prefixes{V: []netip.Prefix{a}, Pos: ns.Interfaces.Pos, Set: true}
				}
				if ifc.Gateway.IsValid() && !ns.Gateway.Set {
					n.Gateway4 = ifc.Gateway
				}
				if ifc.Gateway6.IsValid() && !ns.Gateway.Set {
					n.Gateway6 = ifc.Gateway6
				}
				return
			}
		}
	}
	r.errf(ns.Interfaces.Pos, f, "%s has no interface with an address in segment %q (%s)", path, seg.Name, subnetsText(seg))
}

// physicalPorts lists a bridge's ports that are not virtual devices (the
// NICs), in order.
func physicalPorts(hi *config.HostInterfaces, bridge string) []string {
	ifc := hi.Ifaces[bridge]
	if ifc == nil {
		return nil
	}
	var out []string
	for _, p := range ifc.BridgePorts {
		if strings.HasPrefix(p, "vmbr") || strings.HasPrefix(p, "tap") || strings.HasPrefix(p, "veth") || strings.Contains(p, ".") {
			continue
		}
		out = append(out, p)
	}
	return out
}

func validNodeName(s string) bool {
	return thingNameRE.MatchString(s) && !strings.Contains(s, "_")
}

func rpFilter(s str, field string, r *resolver) int {
	if !s.Set {
		return 2 // loose, the Debian default
	}
	switch s.V {
	case "strict":
		return 1
	case "loose":
		return 2
	case "off":
		return 0
	}
	r.errf(s.Pos, field, "%q: expected strict, loose or off", s.V)
	return 2
}

// generatedInterfaces is the host interfaces file of a node that has none:
// the underlay NIC in vmbr0, which holds the node's address.
func generatedInterfaces(n *Node, mtu int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "auto lo\niface lo inet loopback\n\n")
	fmt.Fprintf(&b, "iface %s inet manual\n\n", n.Link.Ifname)
	fmt.Fprintf(&b, "auto vmbr0\n")
	var v4, v6 []netip.Prefix
	for _, a := range n.Link.Addrs {
		if a.Addr().Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	bridge := func() {
		fmt.Fprintf(&b, "\tbridge-ports %s\n\tbridge-stp off\n\tbridge-fd 0\n", n.Link.Ifname)
		if mtu != DefaultMTU {
			fmt.Fprintf(&b, "\tmtu %d\n", mtu)
		}
	}
	for i, fam := range []struct {
		name  string
		addrs []netip.Prefix
		gw    netip.Addr
	}{{"inet", v4, n.Gateway4}, {"inet6", v6, n.Gateway6}} {
		if len(fam.addrs) == 0 {
			continue
		}
		if i > 0 && len(v4) > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "iface vmbr0 %s static\n", fam.name)
		for _, a := range fam.addrs {
			fmt.Fprintf(&b, "\taddress %s\n", a)
		}
		if fam.gw.IsValid() {
			fmt.Fprintf(&b, "\tgateway %s\n", fam.gw)
		}
		if i == 0 || len(v4) == 0 {
			bridge()
		}
	}
	return b.String()
}

// compile builds every node's host interfaces and compiles its plan.
func (r *resolver) compile() {
	if r.cfg == nil {
		return
	}
	r.lab.Plans = map[string]*plan.NodePlan{}
	for _, n := range r.lab.Nodes {
		if n.host == nil {
			seg := r.lab.Segment(n.Link.Segment)
			n.InterfacesText = generatedInterfaces(n, seg.MTU)
			hi, err := config.ParseInterfacesReader("interfaces("+n.Name+")", strings.NewReader(n.InterfacesText))
			if err != nil {
				r.errf(n.pos, "nodes."+n.Name, "generated interfaces do not parse (a bug): %v", err)
				continue
			}
			n.host = hi
		}
		plan, err := r.compiler(r.cfg, plan.NodeFacts{Node: n.Name, Interfaces: n.host, UnderlayMAC: n.UnderlayMAC, FRRLocal: n.FRRLocal})
		if err != nil {
			r.absorb(err, n.pos, "nodes."+n.Name, "compile SDN plan: %v")
			continue
		}
		r.lab.Plans[n.Name] = plan
	}
}

// frrRelease is the lab's frr: (8, the host's FRR, or 10).
func (r *resolver) frrRelease() string {
	v := r.s.FRR
	if !v.Set {
		return ""
	}
	if rel, ok := frrRelease(v.V); ok {
		return rel
	}
	r.errf(v.Pos, "frr", "%q is not an FRR release sdnlab runs: want 8 (Debian 12's FRR 8.4, the host's) or 10 (Debian 13's FRR 10.3 from a private root)", v.V)
	return ""
}

// engine resolves a node's engine: its own engine:, else the lab's, else
// the agent.
func (r *resolver) engine(node str, field string) string {
	e, f := node, field
	if !e.Set {
		e, f = r.s.Engine, "engine"
	}
	if !e.Set {
		return EngineAgent
	}
	if e.V != EngineAgent && e.V != EngineFRR {
		r.errf(e.Pos, f, "%q is not an engine: want agent or frr", e.V)
		return EngineAgent
	}
	return e.V
}
