package realize

import (
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

// exitLink names the veth between the node and a zone's VRF namespace (the
// same name at both ends; they live in different namespaces).
func exitLink(zone string) string {
	n := "vrfx_" + zone
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

// exitAddrs are the addresses of the exit path of the k-th EVPN zone
// (169.254.k.0/30 and fixed link-local IPv6), node side and VRF side.
func exitAddrs(k int) (node4, vrf4, node6, vrf6 netip.Prefix) {
	node4 = netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, byte(k), 1}), 30)
	vrf4 = netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, byte(k), 2}), 30)
	node6 = netip.MustParsePrefix("fe80::1/64")
	vrf6 = netip.MustParsePrefix("fe80::2/64")
	return
}

// exitPaths connects the VRF namespace of every zone this node is an exit
// node of to the node namespace, the way a VRF on a Proxmox exit node
// reaches the default table: a default route from the VRF to the node,
// routes back to the zone's subnets, and forwarding on the node.
func (a *applier) exitPaths() error {
	k := 0
	for i := range a.plan.Zones {
		z := &a.plan.Zones[i]
		if !inVRF(z) || a.skipped[z.ID] {
			continue
		}
		k++
		if !z.ExitNode {
			continue
		}
		if k > 255 {
			a.skip("zone %s: exit path not realized: more than 255 EVPN zones", z.ID)
			continue
		}
		node, err := a.ns(a.t.NS, false)
		if err != nil {
			return err
		}
		vrf, err := a.ns(a.vrfNS[z.ID], false)
		if err != nil {
			return err
		}
		name := exitLink(z.ID)
		if err := node.EnsureVeth(name, "", 0, vrf, name, ""); err != nil {
			return err
		}
		n4, v4, n6, v6 := exitAddrs(k)
		if err := node.SetAddrs(name, []netip.Prefix{n4, n6}); err != nil {
			return err
		}
		if err := vrf.SetAddrs(name, []netip.Prefix{v4, v6}); err != nil {
			return err
		}
		if err := node.Up(name); err != nil {
			return err
		}
		if err := vrf.Up(name); err != nil {
			return err
		}
		if err := vrf.ReplaceRoute(netip.MustParsePrefix("0.0.0.0/0"), []netip.Addr{n4.Addr()}, name); err != nil {
			return err
		}
		if err := vrf.ReplaceRoute(netip.MustParsePrefix("::/0"), []netip.Addr{n6.Addr()}, name); err != nil {
			return err
		}
		for _, sn := range zoneSubnets(z) {
			via := v4.Addr()
			if sn.Addr().Is6() {
				via = v6.Addr()
			}
			if err := node.ReplaceRoute(sn, []netip.Addr{via}, name); err != nil {
				return fmt.Errorf("zone %s: %w", z.ID, err)
			}
		}
		a.ipfwd = true
		a.rep.Devices = append(a.rep.Devices, a.t.NS+"/"+name, a.vrfNS[z.ID]+"/"+name)
	}
	return nil
}

func zoneSubnets(z *plan.ZonePlan) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range z.VNets {
		for _, s := range v.Subnets {
			out = append(out, s.Prefix.Masked())
		}
	}
	return out
}

// frrStaticRoutes installs the top-level static routes of the node's FRR
// configuration whose next hop is a device the plan realized in the node
// namespace: on an exit node with exitnodes-local-routing,
// `ip route <subnet> 10.255.255.2 xvrf_<zone>` sends the node's own traffic
// to the zone's guests over the xvrf veth (zebra would install them).
// They replace the exit path's routes to the same subnets, as a static
// route (distance 1) beats one leaked by BGP in FRR.
func (a *applier) frrStaticRoutes() error {
	if a.plan.FRR == nil {
		return nil
	}
	for _, r := range a.plan.FRR.IPRoutes {
		dev := r.VRF // FRR's `ip route P NH IFNAME`: the name is the next hop's interface
		via, err := netip.ParseAddr(r.Via)
		if dev == "" || err != nil {
			continue // null0 and plain next hops are not for the lab's kernel
		}
		if _, ok := a.byName[a.t.NS+"/"+dev]; !ok {
			continue
		}
		node, err := a.ns(a.t.NS, false)
		if err != nil {
			return err
		}
		if err := node.ReplaceRoute(r.Prefix.Masked(), []netip.Addr{via}, dev); err != nil {
			return fmt.Errorf("frr static route %s via %s dev %s: %w", r.Prefix, via, dev, err)
		}
		a.ipfwd = true
	}
	return nil
}
