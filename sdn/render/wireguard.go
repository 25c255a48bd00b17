package render

import (
	"strconv"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

// WireGuard renders one WireGuard interface's configuration in wg(8)'s
// INI format, as proxmox-wireguard writes it: [Interface] with PrivateKey
// and ListenPort, then a [Peer] block per peer with PublicKey, AllowedIPs,
// Endpoint and PersistentKeepalive, each left out when unset; blocks
// separated by an empty line.
func WireGuard(c plan.WireGuardConfig) string {
	var b strings.Builder
	b.WriteString("[Interface]\nPrivateKey = " + c.PrivateKey + "\n")
	if c.ListenPort != 0 {
		b.WriteString("ListenPort = " + strconv.Itoa(c.ListenPort) + "\n")
	}
	for _, p := range c.Peers {
		b.WriteString("\n[Peer]\nPublicKey = " + p.PublicKey + "\n")
		if len(p.AllowedIPs) > 0 {
			ips := make([]string, len(p.AllowedIPs))
			for i, a := range p.AllowedIPs {
				ips[i] = a.String()
			}
			b.WriteString("AllowedIPs = " + strings.Join(ips, ", ") + "\n")
		}
		if p.Endpoint != "" {
			b.WriteString("Endpoint = " + p.Endpoint + "\n")
		}
		if p.PersistentKeepalive != 0 {
			b.WriteString("PersistentKeepalive = " + strconv.Itoa(p.PersistentKeepalive) + "\n")
		}
	}
	return b.String()
}
