package qinq

import (
	"fmt"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Type is the "qinq" zone: the zone gets a VLAN-aware bridge "z_<zone>"
// whose uplink carries the service VLAN (tag) on the host bridge; each
// VNet bridge hangs off "z_<zone>.<vnet tag>" (the customer VLAN), or off
// a veth pair for VNets without a tag.
type Type struct{}

// Name implements config.ZoneType.
func (Type) Name() string { return "qinq" }

// VNet implements zones.Type: it compiles one VNet of the zone.
func (Type) VNet(env *zones.Env, z *config.Zone, v *config.VNet, zp *plan.ZonePlan) error {
	bridge, mtu, stag, proto := z.Bridge, z.MTU, z.Tag, z.VlanProtocol
	if !env.Facts.HasBridge(bridge) {
		return fmt.Errorf("can't find bridge %s in the host interfaces", bridge)
	}
	vlanAware := env.Facts.IsVlanAware(bridge)
	isOVS := env.Facts.IsOVSBridge(bridge)
	st := env.Stanzas
	notagUplink := "ln_" + z.ID
	notagPeer := "pr_" + z.ID
	zoneBr := "z_" + z.ID
	svlan := "sv_" + z.ID

	vnetPorts := notagPeer
	if v.Tag != 0 {
		vnetPorts = fmt.Sprintf("%s.%d", zoneBr, v.Tag)
	}

	zonePorts := ""
	switch {
	case isOVS:
		// An OVS dot1q-tunnel internal port pushes the service tag.
		if proto == "" {
			proto = "802.1q"
		}
		if !st.Has(svlan) {
			p := plan.NewIface(svlan, plan.KindOVS)
			p.SetOVSType("OVSIntPort")
			p.SetOVSBridge(bridge)
			if mtu > 0 {
				p.SetOVSMTU(mtu)
			}
			p.SetOVSOptions(fmt.Sprintf("vlan_mode=dot1q-tunnel tag=%d other_config:qinq-ethtype=%s", stag, proto),
				plan.OVSOptions{VlanMode: "dot1q-tunnel", Tag: stag, QinQEthType: proto})
			st.Add(p)
		}
		b := st.GetOrNew(bridge, plan.KindOVS)
		b.Amends = true
		b.AppendOVSPortToFirstLine(svlan)
		zonePorts = svlan
	case vlanAware:
		// The host bridge's own VLAN sub-interface is the uplink.
		zonePorts = fmt.Sprintf("%s.%d", bridge, stag)
		if proto != "" {
			if !st.Has(bridge) {
				b := plan.NewIface(bridge, plan.KindBridge)
				b.Amends = true
				b.SetBridgeVlanProtocol(proto)
				st.Add(b)
			}
			if !st.Has(zonePorts) {
				sv := plan.NewVlanIface(zonePorts, bridge, stag)
				sv.SetVlanProtocol(proto)
				st.Add(sv)
			}
		}
	default:
		// A named VLAN device on the first physical port (short name).
		if ports := env.Facts.BridgePhysicalPorts(bridge); len(ports) > 0 {
			if !st.Has(svlan) {
				sv := plan.NewIface(svlan, plan.KindVlan)
				sv.SetVlanRawDevice(ports[0])
				sv.SetVlanID(stag)
				if proto != "" {
					sv.SetVlanProtocol(proto)
				}
				st.Add(sv)
			}
			zonePorts = svlan
		}
	}

	zones.AddVethPair(st, notagUplink, notagPeer, 0) // Proxmox writes no mtu on these

	if !st.Has(zoneBr) {
		zb := plan.NewIface(zoneBr, plan.KindBridge)
		if mtu > 0 {
			zb.SetMTU(mtu)
		}
		zb.SetBridgeSTPOff(plan.Dash)
		zb.SetBridgePorts(plan.Dash, zonePorts+" "+notagUplink)
		zb.SetBridgeFD(plan.Dash, 0)
		zb.SetVlanAware("2-4094")
		st.Add(zb)
	}

	zones.AddVNetBridge(st, v, vnetPorts, mtu)

	zones.ZoneBase(zp, z, mtu)
	zp.Bridge, zp.BridgeOVS, zp.BridgeVlanAware = bridge, isOVS, vlanAware
	zp.ServiceTag, zp.ZoneBridge = stag, zoneBr
	zp.VlanProtocol = proto
	if zp.VlanProtocol == "" {
		zp.VlanProtocol = "802.1q"
	}
	vp := zones.VNetPlan(v, env.Subnets(v.ID))
	vp.Uplink = vnetPorts
	zp.VNets = append(zp.VNets, vp)
	return nil
}
