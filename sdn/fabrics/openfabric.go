package fabrics

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// OpenFabric compiles openfabric fabrics (FRR fabricd).
type OpenFabric struct{}

// Build adds the openfabric router, the passive dummy interface, the
// fabric interfaces and the source route-maps of fabric f.
func (OpenFabric) Build(b *Builder, f *config.Fabric, n *config.FabricNode) error {
	if b.net == "" {
		switch {
		case n.IP.IsValid():
			b.net = NET(n.IP)
		case n.IP6.IsValid():
			b.net = NET(n.IP6)
		default:
			return errors.New("no IPv4 or IPv6 router address set for the node")
		}
	}
	of := &b.Out.OpenFabric
	if of.Routers == nil {
		of.Routers = map[string]*frr.OpenFabricRouter{}
	}
	of.Routers[f.ID] = &frr.OpenFabricRouter{NET: b.net}
	if of.Interfaces == nil {
		of.Interfaces = map[string]*frr.OpenFabricInterface{}
	}
	v4, v6 := n.IP.IsValid(), n.IP6.IsValid()
	dummy := DummyName(f.ID)
	if err := checkIfname(dummy); err != nil {
		return err
	}
	of.Interfaces[dummy] = &frr.OpenFabricInterface{Fabric: f.ID, IPv4: v4, IPv6: v6, Passive: true}
	for _, i := range n.Interfaces {
		if err := checkIfname(i.Name); err != nil {
			return err
		}
		of.Interfaces[i.Name] = &frr.OpenFabricInterface{
			Fabric:          f.ID,
			IPv4:            v4,
			IPv6:            v6,
			HelloInterval:   f.HelloInterval,
			CSNPInterval:    f.CsnpInterval,
			HelloMultiplier: i.HelloMultiplier,
		}
	}
	if v4 {
		b.sourceRouteMap("openfabric", "pve_openfabric", b.fabricMatch(f, fmt.Sprintf("pve_openfabric_%s_ips", f.ID), false), n.IP, false)
	}
	if v6 {
		b.sourceRouteMap("openfabric", "pve_openfabric6", b.fabricMatch(f, fmt.Sprintf("pve_openfabric_%s_ip6s", f.ID), true), n.IP6, true)
	}
	return nil
}

// NET derives an IS-IS/OpenFabric network entity title from a router
// address, with AFI 49, area 0001 and selector 00: an IPv4 address's four
// octets written as twelve zero-padded decimal digits (192.168.0.1 ->
// 1921.6800.0001), an IPv6 address's last three 16-bit groups in hex.
func NET(a netip.Addr) string {
	a = a.Unmap()
	var sys string
	if a.Is4() {
		o := a.As4()
		d := fmt.Sprintf("%03d%03d%03d%03d", o[0], o[1], o[2], o[3])
		sys = d[0:4] + "." + d[4:8] + "." + d[8:12]
	} else {
		s := a.As16()
		sys = fmt.Sprintf("%02x%02x.%02x%02x.%02x%02x", s[10], s[11], s[12], s[13], s[14], s[15])
	}
	return "49.0001." + sys + ".00"
}
