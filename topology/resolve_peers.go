package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/registry"
)

// checkPeers makes sure every node of an EVPN zone is one of the
// controller's peers (an error) and warns about a node missing from a vxlan
// zone's peers (the vxlan zone's peers, the EVPN controller's peers): that
// is how Proxmox finds a node's VTEP address. A node outside the list
// would come up with a VTEP that is in no other node's flood list or BGP
// neighbours (Proxmox then takes the source address towards the first
// peer), and its guests would silently reach nobody.
func (r *resolver) checkPeers() {
	if r.cfg == nil {
		return
	}
	for _, n := range r.lab.Nodes {
		plan := r.lab.Plans[n.Name]
		if plan == nil {
			continue
		}
		for _, z := range plan.Zones {
			if !registry.Traits(z.Type).VXLAN || z.Fabric != "" {
				continue
			}
			// The peers are the zone's own (vxlan) or its controller's
			// (evpn). The plan's zone peers leave the node out; the
			// zone's list has all.
			zc := r.cfg.Zones[z.ID]
			zonePeers := zc != nil && len(zc.Peers) > 0
			peers := z.Peers
			if zonePeers {
				peers = zc.Peers
			}
			if len(peers) == 0 || slices.Contains(peers, z.LocalVTEP) {
				continue
			}
			if !zonePeers && slices.ContainsFunc(peers, func(p netip.Addr) bool { return r.reflectorAddrs[p] }) {
				continue // the node peers with route reflectors (resolve_reflect.go)
			}
			what, pos := z.Type+" zone "+z.ID, ""
			if zc != nil {
				pos = zc.Pos.String()
			}
			if !zonePeers {
				what = "EVPN controller " + z.Controller + " (of zone " + z.ID + ")"
				if c := r.cfg.Controllers[z.Controller]; c != nil {
					pos = c.Pos.String()
				}
			}
			if zonePeers {
				// A lab may be broken on purpose (a conformance check that
				// must fail): a vxlan zone's static list is a warning.
				r.lab.Warnings = append(r.lab.Warnings, fmt.Sprintf(
					"%s: nodes.%s: node %s (VTEP %s) is not among the peers of %s at %s (%s): the other nodes do not flood to it",
					n.pos, n.Name, n.Name, vtepText(z.LocalVTEP), what, pos, addrList(peers)))
				continue
			}
			r.errf(n.pos, "nodes."+n.Name,
				"node %s (VTEP %s) is not among the peers of %s at %s: peers %s; add the node's address to the peers, or give the node one of them (nodes.%s.address)",
				n.Name, vtepText(z.LocalVTEP), what, pos, addrList(peers), n.Name)
		}
	}
}

func addrList(l []netip.Addr) string {
	var s []string
	for _, a := range l {
		s = append(s, a.String())
	}
	return fmt.Sprint(strings.Join(s, ","))
}

func vtepText(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}
