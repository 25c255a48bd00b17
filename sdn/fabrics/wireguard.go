package fabrics

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// WireGuard fabrics have no FRR part: proxmox-ve-config skips them when it
// builds frr.conf (their interfaces, keys and routes go to the node's
// network configuration).
type WireGuard struct{}

// Build adds nothing to frr.conf.
func (WireGuard) Build(*Builder, *config.Fabric, *config.FabricNode) error { return nil }

// Stanzas writes, as Proxmox 9 does for an internal node: the fabric's
// dummy with the node's router IPs, then per WireGuard interface an "auto"
// stanza (inet static with its IPv4 address, else inet manual) that brings
// the device up from its wg(8) config and routes each peer's allowed IPs
// into it (not the peers that skip route generation), and, when the
// interface has an IPv6 address, an inet6 stanza without "auto" holding it.
func (WireGuard) Stanzas(s *Stanzas, f *config.Fabric, n *config.FabricNode) error {
	s.dummy(f, n)
	if n.WG == nil {
		return nil
	}
	for _, ifc := range n.Interfaces {
		peers, err := wireGuardPeers(f, n, ifc.Name)
		if err != nil {
			return err
		}
		i := plan.NewIface(ifc.Name, plan.KindWireGuard)
		i.Family, i.Method = "inet", "manual"
		if ifc.IP.IsValid() {
			i.Method = "static"
			i.AddAddress(ifc.IP)
		}
		i.SetLinkType("wireguard")
		i.SetIPForward("1")
		i.AddPostUp(fmt.Sprintf("wg syncconf %s %s", ifc.Name, WireGuardConfPath(ifc.Name)))
		for _, p := range peers {
			if p.SkipRoutes {
				continue
			}
			for _, a := range p.AllowedIPs {
				i.AddPostUpRoute(a, ifc.Name)
			}
		}
		s.Out = append(s.Out, *i)
		if ifc.IP6.IsValid() {
			i6 := plan.NewIface(ifc.Name, plan.KindWireGuard)
			i6.Family, i6.Method, i6.NoAuto = "inet6", "static", true
			i6.AddAddress(ifc.IP6)
			s.Out = append(s.Out, *i6)
		}
	}
	return nil
}

// WireGuardConfPath is where Proxmox writes an interface's wg(8) config.
func WireGuardConfPath(iface string) string { return "/etc/wireguard/proxmox/" + iface + ".conf" }

// Name implements config.FabricType.
func (WireGuard) Name() string { return "wireguard" }

// FabricKeys implements config.FabricType.
func (WireGuard) FabricKeys() []string {
	return []string{"ip_prefix", "ip6_prefix", "persistent_keepalive"}
}

// NodeKeys implements config.FabricType.
func (WireGuard) NodeKeys() []string {
	return []string{"ip", "ip6", "role", "endpoint", "public_key", "allowed_ips", "interfaces", "peers"}
}

// Lists implements config.FabricType.
func (WireGuard) Lists() []string { return []string{"allowed_ips", "interfaces", "peers"} }

// DecodeFabric implements config.FabricType.
func (WireGuard) DecodeFabric(d *config.Decoder, f *config.Fabric) {
	f.PersistentKeepalive = int(d.Int("persistent_keepalive", 0, 65535))
}

// DecodeNode implements config.FabricType: an internal node has its
// interfaces and peers, an external one (outside the cluster) its
// endpoint and public key.
func (WireGuard) DecodeNode(d *config.Decoder, n *config.FabricNode) {
	decodeRole(d, n)
	keysForRole(d, "wireguard", n.Role, map[string]string{"interfaces": "internal", "peers": "internal", "public_key": "external"})
	n.WG = wireGuardNode(d, n.Role)
}

// DecodeInterface implements config.FabricType:
// name,listen_port,public_key,ip,ip6,ip6_ll.
func (WireGuard) DecodeInterface(v string) (config.FabricInterface, error) {
	checkName := func(name string) error {
		if !config.ValidWireGuardIface(name) {
			return fmt.Errorf("%q is not a wireguard interface name (1-8 characters)", name)
		}
		return nil
	}
	fi, ps, err := config.ParseFabricInterface(v, checkName, "name", "listen_port", "public_key", "ip", "ip6", "ip6_ll")
	if err != nil {
		return fi, err
	}
	n, err := strconv.ParseUint(ps.Get("listen_port"), 10, 16)
	if err != nil {
		return fi, fmt.Errorf("%q: listen_port= must be a port number", v)
	}
	fi.ListenPort = int(n)
	fi.PublicKey = ps.Get("public_key")
	if !config.ValidWireGuardKey(fi.PublicKey) {
		return fi, fmt.Errorf("%q: public_key= must be a WireGuard key (44 characters of base64)", v)
	}
	if ps.Has("ip6_ll") {
		if _, ok := config.ParseBool(ps.Get("ip6_ll")); !ok {
			return fi, fmt.Errorf("%q: ip6_ll is not a boolean", v)
		}
		fi.IP6LL = ps.Get("ip6_ll")
	}
	return fi, nil
}

// HostInterfaces implements config.FabricType: a node's wireguard
// interfaces are devices of their own.
func (WireGuard) HostInterfaces() bool { return false }

// Validate implements config.FabricType: listen ports and addresses are
// unique, peers reference existing interfaces and external nodes.
func (WireGuard) Validate(_ *config.Config, f *config.Fabric, nodes []*config.FabricNode, errs *config.ErrorList) {
	validateWireGuard(f, nodes, errs)
}

func wireGuardNode(d *config.Decoder, role string) *config.WireGuardNode {
	wg := &config.WireGuardNode{Endpoint: d.Str("endpoint")}
	if p, ok := d.Prop("endpoint"); ok && wg.Endpoint != "" {
		var err error
		if role == "external" {
			err = checkServiceEndpoint(wg.Endpoint)
		} else {
			err = checkHost(wg.Endpoint)
		}
		if err != nil {
			d.Errf(p, "%v", err)
		}
	}
	if role == "external" {
		d.Require("endpoint", "an external wireguard node needs its endpoint (host:port)")
		if d.Require("public_key", "an external wireguard node needs its public_key") {
			p, _ := d.Prop("public_key")
			wg.PublicKey = p.Value
			if !config.ValidWireGuardKey(wg.PublicKey) {
				d.Errf(p, "%q is not a WireGuard key (44 characters of base64)", wg.PublicKey)
			}
		}
	}
	for _, p := range d.All("allowed_ips") {
		for _, s := range config.SplitList(p.Value) {
			pf, err := netip.ParsePrefix(s)
			if err != nil {
				d.Errf(p, "%q is not a CIDR", s)
				continue
			}
			wg.AllowedIPs = append(wg.AllowedIPs, pf)
		}
	}
	for _, p := range d.All("peers") {
		peer, err := parseWireGuardPeer(p.Value)
		if err != nil {
			d.Errf(p, "%v", err)
			continue
		}
		wg.Peers = append(wg.Peers, peer)
	}
	return wg
}

func parseWireGuardPeer(v string) (config.WireGuardPeer, error) {
	var peer config.WireGuardPeer
	// Proxmox's peer format allows additional properties: keys it does not
	// know are accepted and ignored.
	ps, err := config.ParsePropertyString(v, "")
	if err != nil {
		return peer, err
	}
	peer.Type = ps.Get("type")
	switch peer.Type {
	case "internal":
		if !ps.Has("node_iface") {
			return peer, fmt.Errorf("%q: an internal peer needs node_iface=", v)
		}
	case "external":
		if ps.Has("node_iface") {
			return peer, fmt.Errorf("%q: node_iface is a key of internal peers", v)
		}
	default:
		return peer, fmt.Errorf("%q: type must be internal or external", v)
	}
	for _, k := range []string{"node", "iface"} {
		if !ps.Has(k) {
			return peer, fmt.Errorf("%q: missing %s=", v, k)
		}
	}
	peer.Node, peer.NodeIface, peer.Iface, peer.Endpoint = ps.Get("node"), ps.Get("node_iface"), ps.Get("iface"), ps.Get("endpoint")
	if ps.Has("endpoint") {
		// An internal peer overrides the host (the port is its interface's);
		// an external one gives host:port.
		check := checkHost
		if peer.Type == "external" {
			check = checkServiceEndpoint
		}
		if err := check(peer.Endpoint); err != nil {
			return peer, fmt.Errorf("%q: %v", v, err)
		}
	}
	if !config.ValidFabricNodeName(peer.Node) {
		return peer, fmt.Errorf("%q: %q is not a node name", v, peer.Node)
	}
	for _, name := range []string{peer.Iface, peer.NodeIface} {
		if name != "" && !config.ValidWireGuardIface(name) {
			return peer, fmt.Errorf("%q: %q is not a wireguard interface name (1-8 characters)", v, name)
		}
	}
	for _, s := range strings.Split(ps.Get("allowed_ips"), ";") {
		if s == "" {
			continue
		}
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return peer, fmt.Errorf("%q: allowed_ips: %q is not a CIDR", v, s)
		}
		peer.AllowedIPs = append(peer.AllowedIPs, pf)
	}
	if ps.Has("skip_route_generation") {
		b, ok := config.ParseBool(ps.Get("skip_route_generation"))
		if !ok {
			return peer, fmt.Errorf("%q: skip_route_generation is not a boolean", v)
		}
		peer.SkipRouteGeneration = b
	}
	return peer, nil
}

// checkHost accepts a host name or an IP address (no port).
func checkHost(s string) error {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return nil
	}
	if config.ValidHostName(s) {
		return nil
	}
	return fmt.Errorf("endpoint %q is not a host name or IP address", s)
}

// checkServiceEndpoint accepts host:port ([v6]:port).
func checkServiceEndpoint(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err == nil {
		err = checkHost(host)
	}
	if err != nil {
		return fmt.Errorf("endpoint %q is not host:port", s)
	}
	return nil
}

func validateWireGuard(f *config.Fabric, nodes []*config.FabricNode, errs *config.ErrorList) {
	type key struct{ node, iface string }
	have := map[key]bool{}
	external := map[string]bool{}
	addrs := map[netip.Addr]bool{}
	for _, n := range nodes {
		if !n.Internal() {
			external[n.Node] = true
			continue
		}
		ports := map[int]bool{}
		for _, fi := range n.Interfaces {
			have[key{n.Node, fi.Name}] = true
			if ports[fi.ListenPort] {
				errs.Errorf(config.PropPos(n.Props, "interfaces", n.Pos), "interfaces", "listen port %d used twice on node %s", fi.ListenPort, n.Node)
			}
			ports[fi.ListenPort] = true
			for _, pf := range []netip.Prefix{fi.IP, fi.IP6} {
				if !pf.IsValid() {
					continue
				}
				if addrs[pf.Addr()] {
					errs.Errorf(config.PropPos(n.Props, "interfaces", n.Pos), "interfaces", "fabric %s contains nodes with duplicated IPs (%s)", f.ID, pf.Addr())
				}
				addrs[pf.Addr()] = true
			}
		}
	}
	for _, n := range nodes {
		if n.WG == nil {
			continue
		}
		for _, p := range n.WG.Peers {
			pos := config.PropPos(n.Props, "peers", n.Pos)
			if !have[key{n.Node, p.Iface}] {
				errs.Errorf(pos, "peers", "peer configuration references non-existing local interface %q", p.Iface)
			}
			switch {
			case p.Type == "internal" && !have[key{p.Node, p.NodeIface}]:
				errs.Errorf(pos, "peers", "peer configuration references non-existing interface %q on node %q", p.NodeIface, p.Node)
			case p.Type == "external" && !external[p.Node]:
				errs.Errorf(pos, "peers", "peer configuration references non-existing external node %q", p.Node)
			}
		}
	}
}
