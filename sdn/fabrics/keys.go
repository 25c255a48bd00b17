package fabrics

import (
	"fmt"

	"github.com/sdnlab/sdnlab/sdn/config"
)

// Decoding and validation shared by the fabric types.

// requirePrefix reports a fabric without ip_prefix and ip6_prefix
// (openfabric, bgp).
func requirePrefix(d *config.Decoder, f *config.Fabric) {
	if !d.Has("ip_prefix") && !d.Has("ip6_prefix") {
		d.Missing("ip_prefix", fmt.Sprintf("missing: fabric %s does not have an IP prefix configured (ip_prefix or ip6_prefix)", f.ID))
	}
}

// decodeRole reads the required role of a bgp or wireguard node.
func decodeRole(d *config.Decoder, n *config.FabricNode) {
	n.Role = d.Str("role")
	if d.Require("role", "") && n.Role != "internal" && n.Role != "external" {
		p, _ := d.Prop("role")
		d.Errf(p, "%q: want internal or external", n.Role)
	}
}

// keysForRole reports keys of a node of protocol proto that its role does
// not have (only maps a key to the one role that has it).
func keysForRole(d *config.Decoder, proto, role string, only map[string]string) {
	if role == "" {
		return
	}
	for k, want := range only {
		if p, ok := d.Prop(k); ok && want != role {
			d.Errf(p, "not a key of a %s node of role %s", proto, role)
		}
	}
}

// validateRouterIPs reports nodes of an openfabric or ospf fabric
// without a router ip when the fabric has no prefix either.
func validateRouterIPs(f *config.Fabric, nodes []*config.FabricNode, errs *config.ErrorList) {
	for _, n := range nodes {
		if !n.IP.IsValid() && !n.IP6.IsValid() && !f.IPPrefix.IsValid() && !f.IP6Prefix.IsValid() {
			errs.Errorf(n.Pos, "ip", "missing: a fabric node needs a router ip")
		}
	}
}
