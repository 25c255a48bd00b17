package evpn

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/fabrics"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Type is the "evpn" zone: VNets are anycast-gateway bridges over VXLAN
// devices whose MACs and flood lists BGP EVPN distributes; the zone is a
// VRF "vrf_<zone>" with an L3VNI bridge "vrfbr_<zone>" over "vrfvx_<zone>".
type Type struct{}

// Name implements config.ZoneType.
func (Type) Name() string { return "evpn" }

// vrfUnreachableMetric is the metric of the unreachable default route a
// VRF gets on nodes that are not exit nodes (so a learned default wins).
const vrfUnreachableMetric = 4278198272

// nodeRouterLoopback is the loopback interface a bgp (else isis)
// controller of this node names, "" when none. It falls through to the
// isis loopback when the bgp controller has none; the evpn controller
// (sdn/controllers evpnUnderlay) does not: Proxmox's zone and controller
// plugins differ there, so the two are deliberately not shared.
func nodeRouterLoopback(env *zones.Env) string {
	for _, typ := range []string{"bgp", "isis"} {
		for _, c := range env.Cfg.SortedControllers() {
			if c.Type == typ && c.Node == env.Facts.Node {
				if c.Loopback != "" {
					return c.Loopback
				}
				break // only the first controller of the type counts
			}
		}
	}
	return ""
}

// VNet implements zones.Type: it compiles one VNet of the zone.
func (Type) VNet(env *zones.Env, z *config.Zone, v *config.VNet, zp *plan.ZonePlan) error {
	if v.Tag == 0 {
		return fmt.Errorf("missing vxlan tag")
	}
	ctl := env.Cfg.Controllers[z.Controller]
	if z.Controller == "" || ctl == nil {
		return fmt.Errorf("missing controller")
	}
	node := env.Facts.Node
	var peers []netip.Addr
	var local netip.Addr
	var localIface string
	switch {
	case len(ctl.Peers) > 0:
		peers = ctl.Peers
		var err error
		local, localIface, err = env.Facts.LocalIP(peers, nodeRouterLoopback(env))
		if err != nil && !errors.Is(err, plan.ErrNoLocalIP) {
			return err
		}
		if !local.IsValid() {
			env.Notef("zone %s: no local address towards the controller's peers; no vxlan-local-tunnelip", z.ID)
		}
	case ctl.Fabric != "":
		var err error
		peers, local, err = zones.FabricPeers(env, ctl.Fabric, "EVPN zone "+z.ID)
		if err != nil {
			return err
		}
		localIface = fabrics.DummyName(ctl.Fabric)
	default:
		return fmt.Errorf("neither fabric nor peers configured for EVPN controller %s", ctl.ID)
	}

	exit := slices.Contains(z.ExitNodes, node)
	mtu := zones.VxlanMTU(z)
	st := env.Stanzas
	vrf := plan.EVPNVRF(z.ID)
	vx := "vxlan_" + v.ID
	suppress := !z.DisableArpNdSuppression

	vxlanDev := func(name string, vni int) {
		if st.Has(name) {
			return
		}
		d := plan.NewIface(name, plan.KindVxlan)
		d.SetVxlanID(vni)
		if local.IsValid() {
			d.SetVxlanLocal(local)
		}
		if z.VxlanPort > 0 {
			d.SetVxlanPort(z.VxlanPort)
		}
		d.SetLearningOff()
		if suppress {
			d.SetARPNDSuppress()
		}
		d.SetMTU(mtu)
		st.Add(d)
	}
	vxlanDev(vx, v.Tag)

	// The VNet bridge: anycast gateway addresses, in the zone's VRF.
	subnets := env.Subnets(v.ID)
	var anySubnet, anyV6, fwd4, fwd6 bool
	if !st.Has(v.ID) {
		br := plan.NewIface(v.ID, plan.KindBridge)
		seen := map[netip.Addr]bool{}
		for _, s := range subnets {
			zones.GatewayAddress(br, seen, s)
			v6 := zones.GatewayIsV6(s)
			anySubnet = true
			anyV6 = anyV6 || v6
			if s.Gateway.IsValid() {
				fwd4, fwd6 = fwd4 || !v6, fwd6 || v6
			}
			// Only exit nodes NAT towards the outside.
			if s.SNAT && exit {
				if r, ok := env.SNATRule(s); ok {
					br.AddSNAT(r)
				}
			}
		}
		if z.MAC != "" {
			br.SetHWAddress(z.MAC)
		}
		br.SetBridgePorts(plan.Underscore, vx)
		br.SetBridgeSTPOff(plan.Underscore)
		br.SetBridgeFD(plan.Underscore, 0)
		br.SetMTU(mtu)
		if v.Alias != "" {
			br.SetAlias(v.Alias)
		}
		if fwd4 {
			br.SetIPForward("on")
		}
		if fwd6 {
			br.SetIP6Forward("on")
		}
		if anySubnet {
			br.SetARPAccept()
		}
		br.SetVRF(vrf)
		st.Add(br)
	} else {
		for _, s := range subnets {
			anyV6 = anyV6 || zones.GatewayIsV6(s)
		}
	}

	// The VRF: non-exit nodes get an unreachable default so traffic for
	// unknown destinations is dropped, not leaked to the main table.
	if !st.Has(vrf) {
		d := plan.NewIface(vrf, plan.KindVRF)
		d.SetVRFTable("auto")
		d.AddVRFUnreachableDefault(vrf, vrfUnreachableMetric, exit)
		st.Add(d)
	}

	l3vx, l3br := "", ""
	if z.VrfVxlan > 0 {
		l3vx, l3br = "vrfvx_"+z.ID, "vrfbr_"+z.ID
		vxlanDev(l3vx, z.VrfVxlan)
		if !st.Has(l3br) {
			b := plan.NewIface(l3br, plan.KindBridge)
			b.SetBridgePorts(plan.Dash, l3vx)
			b.SetBridgeSTPOff(plan.Underscore)
			b.SetBridgeFD(plan.Underscore, 0)
			b.SetMTU(mtu)
			b.SetVRF(vrf)
			st.Add(b)
		}
	}

	xvrf, xvrfp := "", ""
	if exit && z.ExitNodesLocalRouting {
		// A veth pair between the main table and the VRF lets the exit
		// node itself reach the guests.
		xvrf, xvrfp = plan.XVRFNames(z.ID)
		if !st.Has(xvrf) {
			a := plan.NewIface(xvrf, plan.KindVeth)
			a.SetLinkType("veth")
			a.AddAddress(plan.XVRFAddr4)
			if anyV6 {
				a.AddAddress(plan.XVRFAddr6)
			}
			a.SetVethPeerName(xvrfp)
			a.SetMTU(mtu + 50)
			st.Add(a)
		}
		if !st.Has(xvrfp) {
			b := plan.NewIface(xvrfp, plan.KindVeth)
			b.SetLinkType("veth")
			b.AddAddress(plan.XVRFPeerAddr4)
			if anyV6 {
				b.AddAddress(plan.XVRFPeerAddr6)
			}
			b.SetVethPeerName(xvrf)
			b.SetVRF(vrf)
			b.SetMTU(mtu + 50)
			st.Add(b)
		}
	}

	zones.ZoneBase(zp, z, mtu)
	zp.LocalVTEP, zp.LocalIface = local, localIface
	zp.VxlanPort = z.VxlanPort
	zp.Peers = peers
	zp.Fabric = ctl.Fabric
	zp.Controller = ctl.ID
	zp.ASN = ctl.ASN
	zp.VRF = vrf
	zp.L3VNI, zp.L3Bridge, zp.L3Vxlan = z.VrfVxlan, l3br, l3vx
	zp.AnycastMAC = z.MAC
	zp.ARPNDSuppress = suppress
	zp.ExitNode = exit
	zp.ExitNodes = z.ExitNodes
	zp.ExitNodePrimary = z.ExitNodesPrimary
	zp.ExitNodeLocalRouting = z.ExitNodesLocalRouting
	zp.XVRF, zp.XVRFPeer = xvrf, xvrfp
	zp.AdvertiseSubnets = z.AdvertiseSubnets
	zp.RTImport = z.RTImport
	vp := zones.VNetPlan(v, subnets)
	vp.Vxlan, vp.Uplink, vp.MAC = vx, vx, z.MAC
	zp.VNets = append(zp.VNets, vp)
	return nil
}
