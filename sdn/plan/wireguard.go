package plan

import "net/netip"

// WireGuardConfig is one WireGuard interface of a wireguard fabric on this
// node with its peers, as proxmox-ve-config builds it.
type WireGuardConfig struct {
	Name string `json:"name"`
	// PrivateKey is the interface's key from priv/wg-keys.cfg (a secret:
	// only ever written to the interface's config file).
	PrivateKey string          `json:"-"`
	ListenPort int             `json:"listen_port"`
	Peers      []WireGuardPeer `json:"peers,omitempty"`
}

// WireGuardPeer is one [Peer] of a WireGuard interface.
type WireGuardPeer struct {
	PublicKey  string         `json:"public_key"`
	AllowedIPs []netip.Prefix `json:"allowed_ips,omitempty"`
	// Endpoint is "host:port" ("[v6]:port"); "" none.
	Endpoint string `json:"endpoint,omitempty"`
	// PersistentKeepalive in seconds; 0 off.
	PersistentKeepalive int `json:"persistent_keepalive,omitempty"`
	// SkipRoutes (skip_route_generation): the interface stanza installs
	// no routes for this peer's allowed IPs.
	SkipRoutes bool `json:"skip_routes,omitempty"`
}
