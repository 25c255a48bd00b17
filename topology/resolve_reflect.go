package topology

import (
	"net/netip"
	"slices"

	"github.com/sdnlab/sdnlab/sdn/evpn"
)

// reflectors resolves the underlay routers declared EVPN route reflectors
// (`reflector: evpn`). Proxmox's documentation suggests external route
// reflectors for bigger clusters: the EVPN controller's peers are then the
// reflectors' addresses, and each node peers with those only (2 sessions a
// node instead of n - 1). A reflector's address must be among the peers
// of an EVPN controller; every node of that controller's zones is its
// client. Redundant reflectors share one cluster ID and no session.
func (r *resolver) reflectors() {
	r.reflectorAddrs = map[netip.Addr]bool{}
	var rrs []*Router
	for _, rt := range r.lab.Routers {
		if !rt.reflectorSpec.Set {
			continue
		}
		f := "underlay.routers." + rt.Name
		if rt.reflectorSpec.V != "evpn" {
			r.errf(rt.reflectorSpec.Pos, f+".reflector", "%q: expected evpn", rt.reflectorSpec.V)
			continue
		}
		// The reflector runs the engine the nodes do unless it names its
		// own: the agent (GoBGP) or FRR's bgpd.
		if eng := rt.engineSpec; eng.Set && eng.V != EngineAgent && eng.V != EngineFRR {
			r.errf(eng.Pos, f+".engine", "%q: expected agent or frr", eng.V)
			continue
		}
		rt.Engine = r.engine(rt.engineSpec, f+".engine")
		rt.FRRRelease = r.frrRelease()
		rrs = append(rrs, rt)
		for _, l := range rt.Links {
			for _, a := range l.Addrs {
				r.reflectorAddrs[a.Addr()] = true
			}
		}
	}
	if len(rrs) == 0 {
		return
	}
	for _, rt := range rrs {
		f := "underlay.routers." + rt.Name + ".reflector"
		if r.cfg == nil {
			r.errf(rt.reflectorSpec.Pos, f, "a route reflector needs the lab's SDN configuration (sdn:) with an EVPN controller")
			continue
		}
		var mine []netip.Addr
		for _, l := range rt.Links {
			for _, a := range l.Addrs {
				mine = append(mine, a.Addr())
			}
		}
		var found bool
		for _, c := range r.cfg.SortedControllers() {
			if c.Type != "evpn" {
				continue
			}
			i := slices.IndexFunc(c.Peers, func(p netip.Addr) bool { return slices.Contains(mine, p) })
			if i < 0 {
				continue
			}
			found = true
			addr := c.Peers[i]
			cfg := &evpn.Config{Node: rt.Name, RouterID: addr, ASN: c.ASN, LocalVTEP: addr}
			// One cluster: the controller's first reflector's address.
			for _, p := range c.Peers {
				if r.reflectorAddrs[p] {
					cfg.ClusterID = p
					break
				}
			}
			for _, n := range r.lab.Nodes {
				plan := r.lab.Plans[n.Name]
				if plan == nil {
					continue
				}
				for _, z := range plan.Zones {
					if z.Controller == c.ID && z.LocalVTEP.IsValid() {
						cfg.Neighbors = append(cfg.Neighbors, evpn.Neighbor{Addr: z.LocalVTEP, BFD: true, RRClient: true})
						break
					}
				}
			}
			// The reflectors do not peer with each other: every client
			// has a session with each, so each has every route first hand.
			// Measured with a session between them (GoBGP v3.37.0 checks
			// the CLUSTER_LIST only towards clients): each kept a dead
			// client's routes alive from the other's copy, and the nodes
			// kept routing to a dead exit node.
			if len(cfg.Neighbors) == 0 {
				r.errf(rt.reflectorSpec.Pos, f, "EVPN controller %s at %s has no node for reflector %s to serve", c.ID, c.Pos, rt.Name)
			}
			rt.Reflector = cfg
			break
		}
		if !found {
			var ctls []string
			for _, c := range r.cfg.SortedControllers() {
				if c.Type == "evpn" {
					ctls = append(ctls, c.ID+" at "+c.Pos.String()+" (peers "+addrList(c.Peers)+")")
				}
			}
			if len(ctls) == 0 {
				r.errf(rt.reflectorSpec.Pos, f, "no EVPN controller in the SDN configuration for reflector %s to serve", rt.Name)
				continue
			}
			r.errf(rt.reflectorSpec.Pos, f, "router %s (%s) is not among the peers of EVPN controller %s: the nodes would never peer with it; add its address to the controller's peers",
				rt.Name, addrList(mine), ctls[0])
		}
	}
}

// IsReflector tells whether name is a router running an EVPN route
// reflector (`sdnlab show LAB <router> bgp` then answers for it).
func (l *Lab) IsReflector(name string) bool {
	for _, rt := range l.Routers {
		if rt.Name == name && rt.Reflector != nil {
			return true
		}
	}
	return false
}
