package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/topology"
)

// Lab is what a scenario needs from a running lab. toplab.go implements it
// on the topology package; tests may implement it on anything that owns
// real namespaces.
type Lab interface {
	Name() string
	// Nodes are the hypervisors, in lab order.
	Nodes() []Node
	// Guests are the VMs with the node each one is on now.
	Guests() []Guest
	// External is the host behind the exit nodes; ok false when the lab has none.
	External() (Host, bool)
	// Routers are the underlay routers.
	Routers() []Host
	// Plan is the compiled SDN plan of a node: its zones, VNets, VNIs,
	// MTUs, gateways, exit nodes.
	Plan(node string) (*plan.NodePlan, error)
	// Do runs fn on a thread inside the namespace (sockets it opens stay there).
	Do(ns string, fn func() error) error
	// Exec runs a command inside the namespace and returns its combined output.
	Exec(ctx context.Context, ns string, argv ...string) (string, error)
	// ExecGuest runs a command inside a guest of either kind (in a VM
	// guest through its agent) and returns its combined output; a non-zero
	// exit status is an error.
	ExecGuest(ctx context.Context, guest string, argv ...string) (string, error)
	// Migrate moves a guest to another node: the guest is frozen for pause,
	// then announces itself with RARP as QEMU does; it says when each
	// part happened.
	Migrate(ctx context.Context, guest, node string, pause time.Duration) (Move, error)
	// KillNode crashes a node as a power loss does: its links drop
	// traffic first, then its engine (the agent, or every FRR daemon) gets SIGKILL (no FIN or RST reaches a
	// peer).
	KillNode(ctx context.Context, node string) error
	// MACSeq is the highest MAC mobility sequence a node's control plane
	// holds for a MAC (its own route or one received); found false when it
	// holds none.
	MACSeq(ctx context.Context, node string, mac net.HardwareAddr) (seq uint32, found bool, err error)
	// SetLink pulls (up false) or plugs back the cable between nodes a
	// and b, as `sdnlab link` does: the lab records it as a link fault.
	SetLink(ctx context.Context, a, b string, up bool) error
	// KillAgent sends SIGKILL to a node's EVPN engine only, the agent or
	// the FRR daemons (its links stay up).
	KillAgent(ctx context.Context, node string) error
	// Show is a node's control-plane state in one schema for both
	// engines (the agent's, or FRR's read through vtysh and the kernel).
	Show(ctx context.Context, node string) (*evpn.Snapshot, error)
	// RestartGuest restarts a guest's network as a reboot does: NIC down,
	// addresses and routes gone, NIC up, configured again (by DHCP for a
	// guest with ip: dhcp).
	RestartGuest(ctx context.Context, guest string) error
	// VNetNS is the namespace holding a VNet's bridge on a node (the node's
	// own namespace, or its VRF namespace for an EVPN zone).
	VNetNS(node, vnet string) (string, error)
	// WireGuardHandshakes are the last handshake times of the peers of a
	// node's WireGuard interface, by public key; a peer that never
	// completed one is absent.
	WireGuardHandshakes(ctx context.Context, node, ifname string) (map[string]time.Time, error)
}

// Move is what a migration did and when (topology.Migrate).
type Move = topology.Move

// Node is one hypervisor.
type Node struct {
	Name string
	NS   string
	// VTEP is the node's underlay (VXLAN source) address.
	VTEP netip.Addr
	// Addrs are all of the node's underlay addresses.
	Addrs []netip.Addr
	// Uplinks are the node's underlay interfaces (where VXLAN is seen).
	Uplinks []string
	// Tunnels are the node's WireGuard interfaces: VXLAN over a WireGuard
	// fabric crosses them in the clear, and the uplinks only encrypted.
	Tunnels []string
	// Agent tells whether an EVPN engine (the agent or FRR) runs on the node.
	Agent bool
	// Engine is the node's SDN engine: agent or frr.
	Engine string
	// FRRVersion is the FRR release an frr node runs ("8.4.4", "10.3").
	FRRVersion string
	// Segment is the underlay segment the node sits on: nodes on different
	// segments talk through routers.
	Segment string
	// Links are the node's point-to-point links (a fabric's mesh): the
	// node at the other end -> the node's interface there.
	Links map[string]string
}

// Guest is one VM.
type Guest struct {
	Name string
	// NS is the guest's namespace; empty for a VM guest (VM).
	NS string
	// VM: the guest is a QEMU virtual machine (kind: vm) with its own
	// kernel: nothing of ours runs inside it, commands go through
	// ExecGuest and probes are answered by its kernel (guest.go).
	VM    bool
	Node  string // where it runs now
	Iface string // its NIC inside the guest namespace
	MAC   net.HardwareAddr
	VNet  string
	Zone  string
	IPv4  netip.Prefix // invalid: none
	IPv6  netip.Prefix // invalid: none
	GW4   netip.Addr
	GW6   netip.Addr
	// DHCP: the guest asks its zone's DHCP server; IPv4 and GW4 are then
	// what the zone's IPAM mapped to it and its subnet's gateway.
	DHCP bool
	// Tag is the VLAN of the guest's NIC on a VLAN-aware VNet (0: none).
	Tag int
	// Tap is the host end of the NIC, attached to the VNet bridge on Node.
	Tap string
}

// Host is a router or the external host.
type Host struct {
	Name  string
	NS    string
	Addrs []netip.Addr
	// Ifaces are the host's interfaces (for captures).
	Ifaces []string
	// Nets are the prefixes on each interface (by name): which segment an
	// interface faces.
	Nets map[string][]netip.Prefix
	// Upstream marks the router towards the external network.
	Upstream bool
	// Reflector marks an EVPN route reflector: a BGP speaker among the
	// controller's peers that terminates no VXLAN.
	Reflector bool
}

// Addr4 returns the host's first IPv4 address.
func (h Host) Addr4() (netip.Addr, bool) {
	for _, a := range h.Addrs {
		if a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// Addr6 returns the host's first global IPv6 address.
func (h Host) Addr6() (netip.Addr, bool) {
	for _, a := range h.Addrs {
		if a.Is6() && !a.IsLinkLocalUnicast() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// labView wraps a Lab with look-ups the scenarios share.
type labView struct{ Lab }

func (v labView) node(name string) (Node, error) {
	for _, n := range v.Nodes() {
		if n.Name == name {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("lab %s has no node %q", v.Name(), name)
}

// Guests are the lab's namespace guests: a scenario that has not been
// taught VM guests (guest.go) never picks one. allGuests has both kinds.
func (v labView) Guests() []Guest {
	var out []Guest
	for _, g := range v.Lab.Guests() {
		if !g.VM {
			out = append(out, g)
		}
	}
	return out
}

// allGuests are the guests of both kinds.
func (v labView) allGuests() []Guest { return v.Lab.Guests() }

func (v labView) guest(name string) (Guest, error) {
	for _, g := range v.allGuests() {
		if g.Name == name {
			return g, nil
		}
	}
	return Guest{}, fmt.Errorf("lab %s has no guest %q", v.Name(), name)
}

// host returns the router or external host named name ("external" names
// the external host).
func (v labView) host(name string) (Host, bool) {
	hosts := v.Routers()
	if h, ok := v.External(); ok {
		if name == "external" {
			name = h.Name
		}
		hosts = append(hosts, h)
	}
	for _, h := range hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// zoneOf returns the zone plan of a guest's zone on the guest's node.
func (v labView) zoneOf(g Guest) (*plan.ZonePlan, *plan.VNetPlan, error) {
	p, err := v.Plan(g.Node)
	if err != nil {
		return nil, nil, err
	}
	for i := range p.Zones {
		z := &p.Zones[i]
		for j := range z.VNets {
			if z.VNets[j].ID == g.VNet {
				return z, &z.VNets[j], nil
			}
		}
	}
	return nil, nil, fmt.Errorf("node %s has no VNet %s (guest %s)", g.Node, g.VNet, g.Name)
}
