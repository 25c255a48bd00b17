package evpn

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"

	"github.com/sdnlab/sdnlab/sdn/frr"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// FromPlan derives the agent's configuration from a node's plan, reading
// the BGP settings from plan.FRR exactly as bgpd would read frr.conf.
// vrfNS names the namespace that holds an EVPN zone's VRF on this node.
func FromPlan(p *plan.NodePlan, vrfNS func(zone string) string) (Config, error) {
	var c Config
	if p == nil || p.FRR == nil {
		return c, fmt.Errorf("node plan has no routing configuration (no controller applies)")
	}
	r := p.FRR.DefaultRouter()
	if r == nil {
		return c, fmt.Errorf("node %s: frr: no default BGP instance", p.Node)
	}
	c.Node, c.ASN, c.RouterID = p.Node, r.ASN, r.RouterID
	if r.L2VPNEVPN != nil {
		c.AutoRTAS = r.L2VPNEVPN.AutoRTAS
	}
	c.MultipathRelax = r.BestpathASPathMultipathRelax
	for _, af := range []*frr.UnicastAF{r.IPv4Unicast, r.IPv6Unicast} {
		if af != nil {
			c.Networks = append(c.Networks, af.Networks...)
		}
	}
	for _, z := range p.Zones {
		if z.Type == "evpn" && z.LocalVTEP.IsValid() {
			c.LocalVTEP = z.LocalVTEP
			break
		}
	}
	if !c.LocalVTEP.IsValid() {
		c.LocalVTEP = c.RouterID
	}

	// Neighbours: every peer of every group, with the families the group
	// is activated in.
	fams := map[string][]string{}
	addFam := func(af []frr.AFNeighbor, fam string) {
		for _, n := range af {
			fams[n.Name] = append(fams[n.Name], fam)
		}
	}
	if r.L2VPNEVPN != nil {
		addFam(r.L2VPNEVPN.Neighbors, FamilyEVPN)
	}
	if r.IPv4Unicast != nil {
		addFam(r.IPv4Unicast.Neighbors, FamilyIPv4)
	}
	if r.IPv6Unicast != nil {
		addFam(r.IPv6Unicast.Neighbors, FamilyIPv6)
	}
	byAddr := map[netip.Addr]*Neighbor{}
	var order []netip.Addr
	for _, g := range r.NeighborGroups {
		if len(fams[g.Name]) == 0 {
			continue // activated in no family we speak
		}
		for _, ip := range g.Peers {
			if ip == c.LocalVTEP || ip == c.RouterID {
				continue
			}
			n := byAddr[ip]
			if n == nil {
				n = &Neighbor{Addr: ip}
				byAddr[ip] = n
				order = append(order, ip)
			}
			switch g.RemoteAS {
			case frr.RemoteASExternal:
				n.External = true
			case frr.RemoteASInternal, "":
				n.RemoteAS = r.ASN
			default:
				as, err := strconv.ParseUint(g.RemoteAS, 10, 32)
				if err != nil {
					return c, fmt.Errorf("frr: neighbor group %s: remote-as %q: %w", g.Name, g.RemoteAS, err)
				}
				n.RemoteAS = uint32(as)
			}
			n.BFD = n.BFD || g.BFD
			if g.EBGPMultihop > n.Multihop {
				n.Multihop = g.EBGPMultihop
			}
			if g.UpdateSource != "" {
				// update-source names the loopback that holds the VTEP address.
				n.UpdateSource = c.LocalVTEP
			}
			for _, f := range fams[g.Name] {
				if !slices.Contains(n.Families, f) {
					n.Families = append(n.Families, f)
				}
			}
		}
	}
	for _, ip := range order {
		c.Neighbors = append(c.Neighbors, *byAddr[ip])
	}

	// FRR's inbound route-map holds for every VRF of the node: an exit node
	// of one zone refuses the defaults of all its zones.
	refusesDefault := p.FRR.EVPNRefusesDefault()
	for _, z := range p.Zones {
		if z.Type != "evpn" {
			continue
		}
		ns := ""
		if z.VRF != "" && vrfNS != nil {
			ns = vrfNS(z.ID)
		}
		var subnets []netip.Prefix
		for _, v := range z.VNets {
			var vs []netip.Prefix
			for _, s := range v.Subnets {
				vs = append(vs, s.Prefix.Masked())
			}
			subnets = append(subnets, vs...)
			if v.Vxlan == "" || v.Tag == 0 {
				continue
			}
			c.L2VNIs = append(c.L2VNIs, L2VNI{VNI: uint32(v.Tag), Bridge: v.Bridge, VxlanDev: v.Vxlan, Netns: ns,
				ARPSuppress: z.ARPNDSuppress, L3VNI: uint32(z.L3VNI), Subnets: vs})
		}
		if z.L3VNI == 0 || z.L3Bridge == "" || z.L3Vxlan == "" {
			continue
		}
		l3 := L3VNI{VNI: uint32(z.L3VNI), Zone: z.ID, Netns: ns, Bridge: z.L3Bridge, VxlanDev: z.L3Vxlan,
			Subnets: subnets}
		vr := p.FRR.BGP.Routers[z.VRF]
		if vr != nil && vr.L2VPNEVPN != nil {
			e := vr.L2VPNEVPN
			l3.AdvertiseSubnets = e.AdvertiseIPv4Unicast || e.AdvertiseIPv6Unicast
			if rt := e.RouteTargets; rt != nil {
				l3.ImportRTs = append(append(l3.ImportRTs, rt.Import...), rt.Both...)
				l3.ExportRTs = append(append(l3.ExportRTs, rt.Export...), rt.Both...)
			}
		}
		if len(z.RTImport) > 0 {
			for _, rt := range z.RTImport {
				if !slices.Contains(l3.ImportRTs, rt) {
					l3.ImportRTs = append(l3.ImportRTs, rt)
				}
			}
		}
		l3.ExitNode = z.ExitNode || p.FRR.ExitNode(z.VRF)
		for _, af := range []*frr.UnicastAF{r.IPv4Unicast, r.IPv6Unicast} {
			if af != nil && slices.Contains(af.ImportVRF, z.VRF) {
				l3.LeakSubnets = true
			}
		}
		l3.RejectDefault = refusesDefault
		if l3.ExitNode && z.ExitNodePrimary != "" && z.ExitNodePrimary != p.Node {
			l3.DefaultMED = 200
		}
		c.L3VNIs = append(c.L3VNIs, l3)
	}
	sort.SliceStable(c.L2VNIs, func(i, j int) bool { return c.L2VNIs[i].VNI < c.L2VNIs[j].VNI })
	return c, nil
}
