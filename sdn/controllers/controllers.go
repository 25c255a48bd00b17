// Package controllers compiles the SDN controllers of controllers.cfg (evpn,
// bgp, isis) into a node's typed FRR configuration (package
// sdn/frr), the way Proxmox VE's controller plugins do: first
// every controller's own part (in controller ID order), then the part of
// every zone that names a controller (zone ID order), then the part of
// every VNet (VNet ID order).
package controllers

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// Host answers what Proxmox asks the running host: the local source
// address (and its interface) towards a list of peers, preferring iface.
// plan.NodeFacts implements it.
type Host interface {
	LocalIP(peers []netip.Addr, iface string) (netip.Addr, string, error)
}

// Input is what a node contributes besides the SDN configuration.
type Input struct {
	Node string
	Host Host
	// UnderlayMAC is the MAC of the underlay interface (or of its bridge),
	// used for the BGP router-id when the underlay address is IPv6.
	UnderlayMAC string
}

// Context is the state shared by the controller compilers of one node.
type Context struct {
	Cfg *config.Config
	In  Input
	FRR *frr.Config
	// Notes are warnings Proxmox would log (a controller skipped and why).
	Notes []string

	// underlays memoizes evpnUnderlay per controller ID: the controller's
	// own part and each of its zones need it, and deriving it again would
	// repeat the host lookups and the notes.
	underlays map[string]underlayResult
}

func (x *Context) notef(format string, a ...any) {
	x.Notes = append(x.Notes, fmt.Sprintf(format, a...))
}

// Controller is one controller type.
type Controller interface {
	// Generate adds the controller's own configuration.
	Generate(x *Context, c *config.Controller) error
	// Zone adds the configuration of zone z, which uses controller c.
	Zone(x *Context, z *config.Zone, c *config.Controller) error
	// VNet adds the configuration of VNet v of zone z using controller c.
	VNet(x *Context, v *config.VNet, z *config.Zone, c *config.Controller) error
}

// Type is everything sdnlab knows about one controller type: its keys in
// controllers.cfg (config.ControllerType) and its compiler. sdn/registry
// lists the types.
type Type interface {
	config.ControllerType
	Controller
}

// Registry maps a controller type to its compiler.
type Registry map[string]Controller

// NewRegistry returns the registry of types.
func NewRegistry(types ...Type) Registry {
	r := Registry{}
	for _, t := range types {
		r[t.Name()] = t
	}
	return r
}

// Generate compiles every controller of cfg for the node in into a new
// FRR configuration. The frr.conf.local merge and the fabrics are added by
// the caller afterwards (in that order).
func (r Registry) Generate(cfg *config.Config, in Input) (*frr.Config, []string, error) {
	x := &Context{Cfg: cfg, In: in, FRR: &frr.Config{}}
	for _, c := range cfg.SortedControllers() {
		impl, ok := r[c.Type]
		if !ok {
			return nil, x.Notes, fmt.Errorf("%s: controller %s: unsupported type %q", c.Pos, c.ID, c.Type)
		}
		if err := impl.Generate(x, c); err != nil {
			return nil, x.Notes, fmt.Errorf("%s: controller %s: %w", c.Pos, c.ID, err)
		}
	}
	for _, z := range cfg.SortedZones() {
		c := cfg.Controllers[z.Controller]
		if z.Controller == "" || c == nil {
			continue
		}
		if impl, ok := r[c.Type]; ok {
			if err := impl.Zone(x, z, c); err != nil {
				return nil, x.Notes, fmt.Errorf("%s: zone %s (controller %s): %w", z.Pos, z.ID, c.ID, err)
			}
		}
	}
	for _, v := range cfg.SortedVNets() {
		z := cfg.Zones[v.Zone]
		if z == nil || z.Controller == "" {
			continue
		}
		c := cfg.Controllers[z.Controller]
		if c == nil {
			continue
		}
		if impl, ok := r[c.Type]; ok {
			if err := impl.VNet(x, v, z, c); err != nil {
				return nil, x.Notes, fmt.Errorf("%s: vnet %s: %w", v.Pos, v.ID, err)
			}
		}
	}
	return x.FRR, x.Notes, nil
}

// nodeController returns the controller of type typ that applies to node
// (Proxmox allows one bgp and one isis controller per node), or nil.
func nodeController(cfg *config.Config, typ, node string) *config.Controller {
	for _, c := range cfg.SortedControllers() {
		if c.Type == typ && c.Node == node {
			return c
		}
	}
	return nil
}

// localIP is the node's source address towards peers (preferring the
// address of iface). When the host facts give none, Proxmox's test harness
// (whose route lookup answers nothing on such hosts) goes on without a
// local address and takes the router-id from the MAC; the lab does the
// same when the underlay MAC is known, and says so.
func localIP(x *Context, c *config.Controller, peers []netip.Addr, iface string) (netip.Addr, error) {
	if x.In.Host == nil {
		return netip.Addr{}, fmt.Errorf("no host facts to find the local address")
	}
	ip, _, err := x.In.Host.LocalIP(peers, iface)
	if err == nil {
		return ip, nil
	}
	if x.In.UnderlayMAC == "" {
		return netip.Addr{}, fmt.Errorf("local address towards the peers: %w", err)
	}
	x.notef("%s controller %s: no local address towards the peers (%v); router-id derived from the underlay MAC, no peer excluded as self", c.Type, c.ID, err)
	return netip.Addr{}, nil
}

// routerID derives the BGP router-id from the local underlay address: the
// address itself when IPv4; otherwise, as Proxmox does, the last four bytes
// of the underlay interface's MAC read as an IPv4 address.
func routerID(ip netip.Addr, mac string) (netip.Addr, error) {
	if ip.Is4() || ip.Is4In6() {
		return ip.Unmap(), nil
	}
	if mac == "" {
		return netip.Addr{}, fmt.Errorf("local address %s is not IPv4 and the underlay MAC is unknown (pass --underlay-mac): cannot derive a BGP router-id", ip)
	}
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return netip.Addr{}, fmt.Errorf("underlay MAC %q is not a 6-byte MAC address", mac)
	}
	if [6]byte(hw) == [6]byte{} {
		return netip.Addr{}, fmt.Errorf("underlay MAC is 00:00:00:00:00:00: cannot derive a BGP router-id; use a dummy interface or an IPv4 underlay address")
	}
	return netip.AddrFrom4([4]byte{hw[2], hw[3], hw[4], hw[5]}), nil
}

// defaultRouter returns the default BGP instance, creating it with init
// when no controller created it yet (the first controller in ID order
// decides the ASN, router-id and global knobs, as in Proxmox).
func defaultRouter(f *frr.Config, init func(*frr.BGPRouter)) *frr.BGPRouter {
	if f.BGP.Routers == nil {
		f.BGP.Routers = map[string]*frr.BGPRouter{}
	}
	r := f.BGP.Routers[frr.DefaultVRF]
	if r == nil {
		r = &frr.BGPRouter{}
		init(r)
		f.BGP.Routers[frr.DefaultVRF] = r
	}
	return r
}

// without returns addrs minus self.
func without(addrs []netip.Addr, self netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.Unmap() != self.Unmap() {
			out = append(out, a)
		}
	}
	return slices.Clip(out)
}
