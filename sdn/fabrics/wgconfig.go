package fabrics

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// WireGuardConfigs builds node's WireGuard interfaces from the wireguard
// fabrics it is an internal node of, as proxmox-ve-config does: per
// interface its private key (priv/wg-keys.cfg) and listen port, and a peer
// for each of the node's peers on that interface. An internal peer is
// reached at its endpoint (the peer entry's, else its node's) on the peer
// interface's port and is allowed its node's router IP, the peer
// interface's addresses as host routes, its node's allowed_ips and the
// peer entry's; an external peer at its endpoint with its allowed_ips and
// the peer entry's.
func WireGuardConfigs(cfg *config.Config, node string) ([]plan.WireGuardConfig, error) {
	var out []plan.WireGuardConfig
	for _, f := range cfg.SortedFabrics() {
		n := f.Nodes[node]
		if f.Protocol != "wireguard" || n == nil || !n.Internal() || n.WG == nil {
			continue
		}
		for _, ifc := range n.Interfaces {
			key, ok := cfg.WGKeys[node][ifc.Name]
			if !ok {
				return nil, fmt.Errorf("%s: fabric %s: no private key for interface %s of node %s in priv/wg-keys.cfg", n.Pos, f.ID, ifc.Name, node)
			}
			peers, err := wireGuardPeers(f, n, ifc.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, plan.WireGuardConfig{Name: ifc.Name, PrivateKey: key, ListenPort: ifc.ListenPort, Peers: peers})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// joinHostPort writes an endpoint as host:port, brackets around an IPv6 address.
func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// wireGuardPeers are the [Peer]s of n's interface iface in fabric f, in the
// order n lists them.
func wireGuardPeers(f *config.Fabric, n *config.FabricNode, iface string) ([]plan.WireGuardPeer, error) {
	var out []plan.WireGuardPeer
	for _, p := range n.WG.Peers {
		if p.Iface != iface {
			continue
		}
		rn := f.Nodes[p.Node]
		if rn == nil {
			return nil, fmt.Errorf("%s: fabric %s: peer node %s does not exist", n.Pos, f.ID, p.Node)
		}
		peer := plan.WireGuardPeer{PersistentKeepalive: f.PersistentKeepalive, SkipRoutes: p.SkipRouteGeneration}
		switch {
		case p.Type == "internal" && rn.Internal():
			var pi *config.FabricInterface
			for i := range rn.Interfaces {
				if rn.Interfaces[i].Name == p.NodeIface {
					pi = &rn.Interfaces[i]
				}
			}
			if pi == nil {
				return nil, fmt.Errorf("%s: fabric %s: node %s has no interface %s", n.Pos, f.ID, p.Node, p.NodeIface)
			}
			peer.PublicKey = pi.PublicKey
			host := p.Endpoint
			if host == "" && rn.WG != nil {
				host = rn.WG.Endpoint
			}
			if host != "" {
				peer.Endpoint = joinHostPort(host, pi.ListenPort)
			}
			if rn.IP.IsValid() {
				peer.AllowedIPs = append(peer.AllowedIPs, netip.PrefixFrom(rn.IP, 32))
			}
			if pi.IP.IsValid() {
				peer.AllowedIPs = append(peer.AllowedIPs, netip.PrefixFrom(pi.IP.Addr(), 32))
			}
			if pi.IP6.IsValid() {
				peer.AllowedIPs = append(peer.AllowedIPs, netip.PrefixFrom(pi.IP6.Addr(), 128))
			}
			if rn.WG != nil {
				peer.AllowedIPs = append(peer.AllowedIPs, rn.WG.AllowedIPs...)
			}
		case p.Type == "external" && !rn.Internal():
			peer.PublicKey = rn.WG.PublicKey
			peer.AllowedIPs = append(peer.AllowedIPs, rn.WG.AllowedIPs...)
			peer.Endpoint = rn.WG.Endpoint
			if p.Endpoint != "" {
				peer.Endpoint = p.Endpoint
			}
		default:
			return nil, fmt.Errorf("%s: fabric %s: peer %s is of type %s but node %s has role %s", n.Pos, f.ID, p.Node, p.Type, p.Node, rn.Role)
		}
		peer.AllowedIPs = append(peer.AllowedIPs, p.AllowedIPs...)
		out = append(out, peer)
	}
	return out, nil
}
