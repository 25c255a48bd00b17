package vxlan

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/zones"
)

// Type is the "vxlan" zone: each VNet is a bridge over a VXLAN device
// with a static flood list (the zone's peers, or every node of a fabric).
type Type struct{}

// Name implements config.ZoneType.
func (Type) Name() string { return "vxlan" }

// VNet implements zones.Type: it compiles one VNet of the zone.
func (Type) VNet(env *zones.Env, z *config.Zone, v *config.VNet, zp *plan.ZonePlan) error {
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
		peers, local, err = zones.FabricPeers(env, z.Fabric, "VXLAN zone "+z.ID)
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("neither peers nor fabric configured for VXLAN zone %s", z.ID)
	}

	mtu := zones.VxlanMTU(z)
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
	zones.AddVNetBridge(st, v, vx, mtu) // mtu is never 0 here

	zones.ZoneBase(zp, z, mtu)
	zp.LocalVTEP, zp.LocalIface = local, localIface
	zp.VxlanPort = z.VxlanPort
	zp.Peers = remotes
	zp.Fabric = z.Fabric
	vp := zones.VNetPlan(v, env.Subnets(v.ID))
	vp.Vxlan, vp.Uplink = vx, vx
	zp.VNets = append(zp.VNets, vp)
	return nil
}
