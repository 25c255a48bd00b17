package fabrics

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// OSPF compiles ospf fabrics (FRR ospfd, IPv4 only).
type OSPF struct{}

// Build adds the OSPF router (once, with the router IP of the node's first
// ospf fabric), the passive dummy interface, the fabric interfaces and
// the source route-map of fabric f.
func (OSPF) Build(b *Builder, f *config.Fabric, n *config.FabricNode) error {
	if !n.IP.IsValid() {
		return errors.New("an ospf fabric node needs an IPv4 router address (ip)")
	}
	if !b.ospfRouterID.IsValid() {
		b.ospfRouterID = n.IP
	}
	o := &b.Out.OSPF
	if o.Router == nil {
		// The first ospf fabric's redistribution settings apply to the one router.
		o.Router = &frr.OSPFRouter{RouterID: b.ospfRouterID}
		for _, r := range f.Redistribute {
			o.Router.Redistribute = append(o.Router.Redistribute, frr.OSPFRedistribution{Source: r.Source, Metric: r.Metric, HasMetric: r.HasMetric, RouteMap: r.RouteMap})
		}
	}
	if o.Interfaces == nil {
		o.Interfaces = map[string]*frr.OSPFInterface{}
	}
	dummy := DummyName(f.ID)
	if err := checkIfname(dummy); err != nil {
		return err
	}
	o.Interfaces[dummy] = &frr.OSPFInterface{Area: f.Area, Passive: true}
	for _, i := range n.Interfaces {
		if err := checkIfname(i.Name); err != nil {
			return err
		}
		oi := &frr.OSPFInterface{Area: f.Area, NetworkType: i.NetworkType}
		if oi.NetworkType == "" && !i.IP.IsValid() {
			// Unnumbered: only point-to-point works without a subnet.
			oi.NetworkType = "point-to-point"
		}
		o.Interfaces[i.Name] = oi
	}
	b.sourceRouteMap("ospf", "pve_ospf", b.fabricMatch(f, fmt.Sprintf("pve_ospf_%s_ips", f.ID), false), n.IP, false)
	return nil
}

// Name implements config.FabricType.
func (OSPF) Name() string { return "ospf" }

// FabricKeys implements config.FabricType.
func (OSPF) FabricKeys() []string {
	return []string{"ip_prefix", "ip6_prefix", "area", "route_filter", "redistribute"}
}

// NodeKeys implements config.FabricType.
func (OSPF) NodeKeys() []string { return []string{"ip", "ip6", "interfaces"} }

// Lists implements config.FabricType.
func (OSPF) Lists() []string { return []string{"redistribute", "interfaces"} }

// DecodeFabric implements config.FabricType: IPv4 only, an area, what it
// redistributes.
func (OSPF) DecodeFabric(d *config.Decoder, f *config.Fabric) {
	d.Require("ip_prefix", "")
	if p, ok := d.Prop("ip6_prefix"); ok {
		d.Errf(p, "IPv6 is not supported for protocol ospf")
	}
	if d.Require("area", "") {
		p, _ := d.Prop("area")
		f.Area = p.Value
		if !validOSPFArea(p.Value) {
			d.Errf(p, "%q is not an OSPF area (a 32-bit number or an IPv4 address)", p.Value)
		}
	}
	f.Redistribute = d.Redistributions([]string{"bgp", "connected", "isis", "kernel", "openfabric", "ospf", "static"})
}

// DecodeNode implements config.FabricType: IPv4 only.
func (OSPF) DecodeNode(d *config.Decoder, _ *config.FabricNode) {
	if p, ok := d.Prop("ip6"); ok {
		d.Errf(p, "IPv6 is not supported for protocol ospf")
	}
}

// DecodeInterface implements config.FabricType: name,ip,network_type.
func (OSPF) DecodeInterface(v string) (config.FabricInterface, error) {
	fi, _, err := config.ParseFabricInterface(v, config.CheckFabricIfaceName, "name", "ip", "network_type")
	return fi, err
}

// HostInterfaces implements config.FabricType.
func (OSPF) HostInterfaces() bool { return true }

// Validate implements config.FabricType: every node has a router ip; the
// fabric's area is not the area of an earlier ospf fabric.
func (OSPF) Validate(c *config.Config, f *config.Fabric, nodes []*config.FabricNode, errs *config.ErrorList) {
	if f.Area != "" {
		for _, o := range c.FabricsInFileOrder() {
			if o == f {
				break
			}
			if o.Protocol == f.Protocol && o.Area != "" && ospfAreaKey(o.Area) == ospfAreaKey(f.Area) {
				errs.Errorf(config.PropPos(f.Props, "area", f.Pos), "area", "area %s is already used by ospf fabric %s", f.Area, o.ID)
				break
			}
		}
	}
	validateRouterIPs(f, nodes, errs)
}

var ospfAreaRE = regexp.MustCompile(`^[0-9]+$`)

func validOSPFArea(s string) bool {
	if ospfAreaRE.MatchString(s) {
		_, err := strconv.ParseUint(s, 10, 32)
		return err == nil
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4() && a.Zone() == ""
}

// ospfAreaKey is an area's IPv4 form: "0" and "0.0.0.0" are one area.
func ospfAreaKey(s string) string {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
	}
	return s
}

// Stanzas adds the dummy and each fabric interface with its own IPv4
// address or, when unnumbered, the node's router IP.
func (OSPF) Stanzas(s *Stanzas, f *config.Fabric, n *config.FabricNode) error {
	s.dummy(f, n)
	for _, fi := range n.Interfaces {
		if fi.IP.IsValid() {
			s.add(fi.Name, plan.KindPhysical, fi.IP)
		} else if n.IP.IsValid() {
			s.add(fi.Name, plan.KindPhysical, host(n.IP))
		} else {
			return fmt.Errorf("%s: fabric %s node %s: there has to be an ipv4 node address", n.Pos, f.ID, n.Node)
		}
	}
	return nil
}
