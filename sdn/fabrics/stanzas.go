package fabrics

import (
	"net/netip"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Stanzas collects the interfaces.d stanzas of a node's fabrics, in fabric
// ID order, as Proxmox's fabric code writes them: a dummy "dummy_<fabric>"
// holding the node's router IP (/32, and /128 for an IPv6 one), then the
// fabric interfaces each type wants, all with forwarding on.
type Stanzas struct {
	Out []plan.Iface
	// Notef records what Proxmox would write that sdnlab does not.
	Notef func(format string, a ...any)
}

// Ifaces returns the stanzas of every fabric node is an internal member of.
func (r Registry) Ifaces(cfg *config.Config, node string, notef func(string, ...any)) ([]plan.Iface, error) {
	s := &Stanzas{Notef: notef}
	for _, f := range cfg.SortedFabrics() {
		n := f.Nodes[node]
		if n == nil || !n.Internal() {
			continue
		}
		if p, ok := r[f.Protocol]; ok {
			if err := p.Stanzas(s, f, n); err != nil {
				return nil, err
			}
		}
	}
	return s.Out, nil
}

func (s *Stanzas) add(name string, kind plan.IfaceKind, pfx netip.Prefix) {
	i := plan.NewIface(name, kind)
	i.Family, i.Method = "inet", "static"
	if pfx.Addr().Is6() {
		i.Family = "inet6"
	}
	i.AddAddress(pfx)
	if kind == plan.KindDummy {
		i.SetLinkType("dummy")
	}
	i.SetIPForward("1")
	s.Out = append(s.Out, *i)
}

// dummy adds the dummy interface of fabric f holding n's router IPs.
func (s *Stanzas) dummy(f *config.Fabric, n *config.FabricNode) {
	dummy := DummyName(f.ID)
	if n.IP.IsValid() {
		s.add(dummy, plan.KindDummy, host(n.IP))
	}
	if n.IP6.IsValid() {
		s.add(dummy, plan.KindDummy, host(n.IP6))
	}
}

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
