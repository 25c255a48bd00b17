package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/wguapi"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/topology"
)

// TopoLab implements Lab on a lab built by the topology package.
type TopoLab struct {
	L *topology.Lab
	// StateDir is the lab's own state directory (/run/sdnlab/LAB), where
	// agent PIDs are.
	StateDir string

	mu sync.Mutex // guards guest moves (Migrate updates L)
}

// NewTopoLab wraps a running lab; stateDir is the lab's state directory.
// A guest moved earlier (sdnlab migrate on a lab that stayed up) is found
// where its tap really is.
func NewTopoLab(l *topology.Lab, stateDir string) *TopoLab {
	for _, g := range l.Guests {
		for _, n := range l.Nodes {
			h, err := nsutil.Handle(l.BridgeNS(n.Name, g.VNet))
			if err != nil {
				continue
			}
			_, err = h.LinkByName(g.Tap)
			h.Close()
			if err == nil {
				g.Node = n.Name
				break
			}
		}
	}
	return &TopoLab{L: l, StateDir: stateDir}
}

func (t *TopoLab) Name() string { return t.L.Name }

func (t *TopoLab) Nodes() []Node {
	var out []Node
	for _, n := range t.L.Nodes {
		nd := Node{Name: n.Name, NS: n.NS, VTEP: n.Addr.Addr(), Uplinks: []string{n.Link.Ifname}, Segment: n.Link.Segment}
		for _, a := range n.Link.Addrs {
			nd.Addrs = append(nd.Addrs, a.Addr())
		}
		if len(nd.Addrs) == 0 && n.Addr.IsValid() {
			nd.Addrs = []netip.Addr{n.Addr.Addr()}
		}
		if p := t.L.Plans[n.Name]; p != nil && p.FRR != nil {
			nd.Agent = p.FRR.DefaultRouter() != nil
		}
		// A fabric underlay: the VTEP is the node's loopback and VXLAN
		// crosses the point-to-point links.
		if p := t.L.Plans[n.Name]; p != nil {
			for _, z := range p.Zones {
				if z.LocalVTEP.IsValid() && z.Fabric != "" && z.LocalVTEP != nd.VTEP {
					nd.VTEP = z.LocalVTEP
					nd.Addrs = append(nd.Addrs, z.LocalVTEP)
					break
				}
			}
		}
		if p := t.L.Plans[n.Name]; p != nil {
			for _, c := range p.WireGuard {
				nd.Tunnels = append(nd.Tunnels, c.Name)
			}
		}
		for _, l := range t.L.P2P {
			if ifname, peer := l.End(n.Name); ifname != "" {
				nd.Uplinks = append(nd.Uplinks, ifname)
				if nd.Links == nil {
					nd.Links = map[string]string{}
				}
				nd.Links[peer] = ifname
			}
		}
		nd.Engine = n.EngineOf()
		nd.FRRVersion = n.FRRVersion()
		out = append(out, nd)
	}
	return out
}

func (t *TopoLab) Guests() []Guest {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Guest
	for _, g := range t.L.Guests {
		mac, _ := net.ParseMAC(g.MAC)
		gg := Guest{Name: g.Name, NS: g.NS, Node: g.Node, Iface: g.Ifname, MAC: mac,
			VNet: g.VNet, Zone: g.Zone, GW4: g.Gateway4, GW6: g.Gateway6, Tap: g.Tap, DHCP: g.DHCP, Tag: g.Tag}
		if g.IsVM() {
			// Its own kernel: no namespace of ours, the NIC is eth0.
			gg.VM, gg.NS, gg.Iface = true, "", "eth0"
		}
		if g.DHCP {
			gg.IPv4, gg.GW4 = g.DHCPAddr, g.DHCPGateway
		}
		for _, a := range g.Addrs {
			switch {
			case a.Addr().Is4() && !gg.IPv4.IsValid():
				gg.IPv4 = a
			case a.Addr().Is6() && !a.Addr().IsLinkLocalUnicast() && !gg.IPv6.IsValid():
				gg.IPv6 = a
			}
		}
		out = append(out, gg)
	}
	return out
}

func hostOf(name, ns string, links []topology.Link) Host {
	h := Host{Name: name, NS: ns, Nets: map[string][]netip.Prefix{}}
	for _, l := range links {
		h.Ifaces = append(h.Ifaces, l.Ifname)
		for _, a := range l.Addrs {
			h.Addrs = append(h.Addrs, a.Addr())
			h.Nets[l.Ifname] = append(h.Nets[l.Ifname], a)
		}
	}
	return h
}

func (t *TopoLab) External() (Host, bool) {
	if len(t.L.Hosts) == 0 {
		return Host{}, false
	}
	h := t.L.Hosts[0]
	return hostOf(h.Name, h.NS, []topology.Link{h.Link}), true
}

func (t *TopoLab) Routers() []Host {
	var out []Host
	for _, r := range t.L.Routers {
		h := hostOf(r.Name, r.NS, r.Links)
		h.Upstream = r.Upstream
		h.Reflector = r.Reflector != nil
		out = append(out, h)
	}
	return out
}

func (t *TopoLab) Plan(node string) (*plan.NodePlan, error) {
	if p := t.L.Plans[node]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("lab %s: node %s has no SDN plan", t.L.Name, node)
}

func (t *TopoLab) Do(ns string, fn func() error) error { return nsutil.Do(ns, fn) }

func (t *TopoLab) WireGuardHandshakes(_ context.Context, node, ifname string) (map[string]time.Time, error) {
	return wguapi.Handshakes(topology.WireGuardSocket(t.StateDir, node, ifname))
}

func (t *TopoLab) Exec(ctx context.Context, ns string, argv ...string) (string, error) {
	out, err := nsutil.Output(ctx, ns, argv...)
	return string(out), err
}

// ExecGuest runs argv in a guest: in its namespace, or in a VM guest
// through its agent (never during a move: a VM's instance changes then).
func (t *TopoLab) ExecGuest(ctx context.Context, guest string, argv ...string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.L.Guest(guest) == nil {
		return "", fmt.Errorf("lab %s has no guest %s", t.L.Name, guest)
	}
	out, err := t.L.Output(ctx, guest, argv...)
	return string(out), err
}

func (t *TopoLab) VNetNS(node, vnet string) (string, error) {
	ns := t.L.BridgeNS(node, vnet)
	if ns == "" {
		return "", fmt.Errorf("lab %s has no node %s", t.L.Name, node)
	}
	return ns, nil
}

func (t *TopoLab) Migrate(ctx context.Context, guest, node string, pause time.Duration) (Move, error) {
	return t.MigrateWith(ctx, guest, node, topology.MigrateOpts{Pause: pause})
}

// MigrateWith is Migrate with topology's knobs (MigrateWither).
func (t *TopoLab) MigrateWith(ctx context.Context, guest, node string, o topology.MigrateOpts) (Move, error) {
	if t.L.Guest(guest) == nil {
		return Move{}, fmt.Errorf("lab %s has no guest %s", t.L.Name, guest)
	}
	if t.L.Node(node) == nil {
		return Move{}, fmt.Errorf("lab %s has no node %s", t.L.Name, node)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return topology.MigrateWith(ctx, t.L, guest, node, o)
}

// KillNode crashes a node as a power loss does: its underlay link goes
// down first, so nothing the dying control plane sends (TCP FIN or RST,
// a last BFD packet) reaches a peer, then its engine (the agent, or every FRR
// daemon) gets SIGKILL.
func (t *TopoLab) KillNode(ctx context.Context, node string) error {
	n := t.L.Node(node)
	if n == nil {
		return fmt.Errorf("lab %s has no node %s", t.L.Name, node)
	}
	var errs []error
	h, err := nsutil.Handle(n.NS)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(n.Link.Ifname)
	if err != nil {
		errs = append(errs, fmt.Errorf("node %s: %s: %w", node, n.Link.Ifname, err))
	} else if err := h.LinkSetDown(l); err != nil {
		errs = append(errs, fmt.Errorf("node %s: set %s down: %w", node, n.Link.Ifname, err))
	}
	if err := topology.KillEngine(t.L, t.StateDir, node); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SetLink fails or restores the link between two nodes through
// topology.SetLink, so the fault is in the lab's state (status, graph).
func (t *TopoLab) SetLink(ctx context.Context, a, b string, up bool) error {
	if t.StateDir == "" {
		return fmt.Errorf("lab %s has no state directory to record a link fault in", t.L.Name)
	}
	_, err := topology.SetLink(t.L, topology.Options{StateDir: filepath.Dir(t.StateDir)}, a, b, up)
	return err
}

// RestartGuest restarts a guest's network (topology.RestartGuest).
func (t *TopoLab) RestartGuest(ctx context.Context, guest string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.L.StateDir == "" {
		t.L.StateDir = t.StateDir
	}
	return topology.RestartGuest(ctx, t.L, guest)
}

// KillAgent sends SIGKILL to a node's engine (agent or FRR daemons); the
// node's links stay up.
func (t *TopoLab) KillAgent(ctx context.Context, node string) error {
	if t.L.Node(node) == nil {
		return fmt.Errorf("lab %s has no node %s", t.L.Name, node)
	}
	if len(topology.EnginePIDs(t.L, t.StateDir, node)) == 0 {
		return fmt.Errorf("node %s runs no EVPN engine (agent or FRR)", node)
	}
	return topology.KillEngine(t.L, t.StateDir, node)
}

// Show asks a node's engine for its state (topology.Show).
func (t *TopoLab) Show(ctx context.Context, node string) (*evpn.Snapshot, error) {
	return topology.Show(ctx, t.L, t.StateDir, node, evpn.Request{Show: evpn.ShowAll})
}

// MACSeq asks the node's engine (the agent over its control socket, FRR
// through vtysh) for the routes it holds for the MAC.
func (t *TopoLab) MACSeq(ctx context.Context, node string, mac net.HardwareAddr) (uint32, bool, error) {
	if t.L.Node(node) == nil {
		return 0, false, fmt.Errorf("lab %s has no node %s", t.L.Name, node)
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	snap, err := t.Show(qctx, node) // the agent, or FRR's vtysh
	if err != nil {
		return 0, false, fmt.Errorf("node %s: ask its engine: %w", node, err)
	}
	var seq uint32
	found := false
	for _, r := range snap.Routes {
		if r.Type == 2 && strings.EqualFold(r.MAC, mac.String()) {
			seq, found = max(seq, r.Seq), true
		}
	}
	for _, l := range snap.Local {
		if strings.EqualFold(l.MAC, mac.String()) {
			seq, found = max(seq, l.Seq), true
		}
	}
	return seq, found, nil
}
