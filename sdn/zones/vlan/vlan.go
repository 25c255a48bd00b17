package vlan

import (
	"fmt"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Type is the "vlan" zone: each VNet is a bridge joined to the host
// bridge's VLAN <tag>, in one of three ways depending on the host bridge:
// an OVS internal port, a VLAN sub-interface of a VLAN-aware bridge, or a
// veth pair into a per-VLAN bridge "<bridge>v<tag>" over "<nic>.<tag>".
type Type struct{}

// Name implements config.ZoneType.
func (Type) Name() string { return "vlan" }

// VNet implements zones.Type: it compiles one VNet of the zone.
func (Type) VNet(env *zones.Env, z *config.Zone, v *config.VNet, zp *plan.ZonePlan) error {
	bridge := z.Bridge
	if !env.Facts.HasBridge(bridge) {
		return fmt.Errorf("can't find bridge %s in the host interfaces", bridge)
	}
	if v.Tag == 0 {
		return fmt.Errorf("missing vlan tag")
	}
	vlanAware := env.Facts.IsVlanAware(bridge)
	isOVS := env.Facts.IsOVSBridge(bridge)
	tag, mtu, st := v.Tag, z.MTU, env.Stanzas
	uplink := "ln_" + v.ID
	uplinkPeer := "pr_" + v.ID

	switch {
	case isOVS:
		// An OVS internal port tagged with the VLAN is the VNet's uplink.
		if !st.Has(uplink) {
			p := plan.NewIface(uplink, plan.KindOVS)
			p.SetOVSType("OVSIntPort")
			p.SetOVSBridge(bridge)
			if mtu > 0 {
				p.SetOVSMTU(mtu)
			}
			if v.VlanAware {
				p.SetOVSOptions(fmt.Sprintf("vlan_mode=dot1q-tunnel other_config:qinq-ethtype=802.1q tag=%d", tag),
					plan.OVSOptions{VlanMode: "dot1q-tunnel", Tag: tag, QinQEthType: "802.1q"})
			} else {
				p.SetOVSOptions(fmt.Sprintf("tag=%d", tag), plan.OVSOptions{Tag: tag})
			}
			st.Add(p)
		}
		// The host's OVS bridge stanza gets the port (ifupdown2 merges).
		b := st.GetOrNew(bridge, plan.KindOVS)
		b.Amends = true
		b.AddOVSPortsLine(uplink)
	case vlanAware:
		uplink = fmt.Sprintf("%s.%d", bridge, tag)
	default:
		bridgeVlan := fmt.Sprintf("%sv%d", bridge, tag)
		// Proxmox writes every physical port with a leading space.
		var ports strings.Builder
		for _, p := range env.Facts.BridgePhysicalPorts(bridge) {
			fmt.Fprintf(&ports, " %s.%d", p, tag)
		}
		zones.AddVethPair(st, uplink, uplinkPeer, mtu)
		if !st.Has(bridgeVlan) {
			bv := plan.NewIface(bridgeVlan, plan.KindBridge)
			bv.SetBridgePorts(plan.Underscore, ports.String()+" "+uplinkPeer)
			bv.SetBridgeSTPOff(plan.Underscore)
			bv.SetBridgeFD(plan.Underscore, 0)
			if mtu > 0 {
				bv.SetMTU(mtu)
			}
			st.Add(bv)
		}
	}

	zones.AddVNetBridge(st, v, uplink, mtu)

	zones.ZoneBase(zp, z, mtu)
	zp.Bridge, zp.BridgeOVS, zp.BridgeVlanAware = bridge, isOVS, vlanAware
	vp := zones.VNetPlan(v, env.Subnets(v.ID))
	vp.Uplink = uplink
	zp.VNets = append(zp.VNets, vp)
	return nil
}
