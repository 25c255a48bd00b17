package zones

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Vxlan is the "vxlan" zone: each VNet is a bridge over a VXLAN device
// with a static flood list (the zone's peers, or every node of a fabric).
type Vxlan struct{}

// Type implements Compiler.
func (Vxlan) Type() string { return "vxlan" }

// defaultVxlanMTU is what Proxmox gives VXLAN-backed VNets without an mtu:
// 1500 minus the 50-byte VXLAN overhead. (Proxmox means to derive it from
// the uplink's MTU but looks it up in the wrong place, so it is always
// 1450; the lab writes the same.)
const defaultVxlanMTU = 1450

// vxlanMTU is the MTU of a VXLAN-backed zone's devices.
func vxlanMTU(z *config.Zone) int {
	if z.MTU > 0 {
		return z.MTU
	}
	return defaultVxlanMTU
}

// fabricPeers returns the router IPs of every node of fabric id (sorted by
// node name) and this node's IP.
func fabricPeers(env *Env, id, what string) ([]netip.Addr, netip.Addr, error) {
	f := env.Cfg.Fabrics[id]
	if f == nil {
		return nil, netip.Addr{}, fmt.Errorf("could not configure %s: fabric %s does not exist", what, id)
	}
	self := f.Nodes[env.Facts.Node]
	if self == nil {
		return nil, netip.Addr{}, fmt.Errorf("could not configure %s: node %s is not part of fabric %s", what, env.Facts.Node, id)
	}
	if !self.IP.IsValid() {
		return nil, netip.Addr{}, fmt.Errorf("node %s requires an IP in the fabric %s to configure %s", env.Facts.Node, id, what)
	}
	return f.NodeIPs(), self.IP, nil
}

// VNet implements Compiler.
func (Vxlan) VNet(env *Env, z *config.Zone, v *config.VNet, zp *plan.ZonePlan) error {
	if v.Tag == 0 {
		return fmt.Errorf("missing vxlan tag")
	}
	var peers []netip.Addr
	var local netip.Addr
	var localIface string
	switch {
	case len(z.Peers) > 0:
		peers = z.Peers
		var err error
		local, localIface, err = env.Facts.LocalIP(peers, "")
		if err != nil && !errors.Is(err, plan.ErrNoLocalIP) {
			return err
		}
		if !local.IsValid() {
			env.Notef("zone %s: no local address towards the peers; every peer gets traffic", z.ID)
		}
	case z.Fabric != "":
		var err error
		peers, local, err = fabricPeers(env, z.Fabric, "VXLAN zone "+z.ID)
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("neither peers nor fabric configured for VXLAN zone %s", z.ID)
	}

	mtu := vxlanMTU(z)
	st := env.Stanzas
	vx := "vxlan_" + v.ID
	var remotes []netip.Addr
	for _, p := range peers {
		if p != local {
			remotes = append(remotes, p)
		}
	}
	if !st.Has(vx) {
		d := plan.NewIface(vx, plan.KindVxlan)
		d.SetVxlanID(v.Tag)
		for _, r := range remotes {
			d.AddVxlanRemote(r)
		}
		if z.VxlanPort > 0 {
			d.SetVxlanPort(z.VxlanPort)
		}
		d.SetMTU(mtu)
		st.Add(d)
	}
	addVNetBridge(st, v, vx, mtu) // mtu is never 0 here

	zoneBase(zp, z, mtu)
	zp.LocalVTEP, zp.LocalIface = local, localIface
	zp.VxlanPort = z.VxlanPort
	zp.Peers = remotes
	zp.Fabric = z.Fabric
	vp := vnetPlan(v, env.subnets(v.ID))
	vp.Vxlan, vp.Uplink = vx, vx
	zp.VNets = append(zp.VNets, vp)
	return nil
}
