package fabrics

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
	"github.com/sdnlab/sdnlab/sdn/plan"
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

// Name implements config.FabricType.
func (OpenFabric) Name() string { return "openfabric" }

// FabricKeys implements config.FabricType.
func (OpenFabric) FabricKeys() []string {
	return []string{"ip_prefix", "ip6_prefix", "hello_interval", "csnp_interval", "route_filter"}
}

// NodeKeys implements config.FabricType.
func (OpenFabric) NodeKeys() []string { return []string{"ip", "ip6", "interfaces"} }

// Lists implements config.FabricType.
func (OpenFabric) Lists() []string { return []string{"interfaces"} }

// DecodeFabric implements config.FabricType.
func (OpenFabric) DecodeFabric(d *config.Decoder, f *config.Fabric) {
	requirePrefix(d, f)
	f.HelloInterval = int(d.Int("hello_interval", 1, 600))
	f.CsnpInterval = int(d.Int("csnp_interval", 1, 600))
}

// DecodeNode implements config.FabricType: an openfabric node has no keys
// of its own.
func (OpenFabric) DecodeNode(*config.Decoder, *config.FabricNode) {}

// DecodeInterface implements config.FabricType:
// name,hello_multiplier,ip,ip6.
func (OpenFabric) DecodeInterface(v string) (config.FabricInterface, error) {
	fi, _, err := config.ParseFabricInterface(v, config.CheckFabricIfaceName, "name", "hello_multiplier", "ip", "ip6")
	return fi, err
}

// HostInterfaces implements config.FabricType.
func (OpenFabric) HostInterfaces() bool { return true }

// Validate implements config.FabricType: every node has a router ip.
func (OpenFabric) Validate(_ *config.Config, f *config.Fabric, nodes []*config.FabricNode, errs *config.ErrorList) {
	validateRouterIPs(f, nodes, errs)
}

// Stanzas adds the dummy and each fabric interface with its own
// addresses or, when unnumbered, the node's router IP.
func (OpenFabric) Stanzas(s *Stanzas, f *config.Fabric, n *config.FabricNode) error {
	s.dummy(f, n)
	for _, fi := range n.Interfaces {
		if fi.IP.IsValid() {
			s.add(fi.Name, plan.KindPhysical, fi.IP)
		}
		if fi.IP6.IsValid() {
			s.add(fi.Name, plan.KindPhysical, fi.IP6)
		}
		if !fi.IP.IsValid() && !fi.IP6.IsValid() {
			switch {
			case n.IP.IsValid():
				s.add(fi.Name, plan.KindPhysical, host(n.IP))
			case n.IP6.IsValid():
				s.add(fi.Name, plan.KindPhysical, host(n.IP6))
			default:
				return fmt.Errorf("%s: fabric %s node %s: there has to be an ipv4 or ipv6 node address", n.Pos, f.ID, n.Node)
			}
		}
	}
	return nil
}
