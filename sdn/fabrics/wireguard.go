package fabrics

import (
	"github.com/sdnlab/sdnlab/sdn/config"
)

// WireGuard fabrics have no FRR part: proxmox-ve-config skips them when it
// builds frr.conf (their interfaces, keys and routes go to the node's
// network configuration).
type WireGuard struct{}

// Build adds nothing to frr.conf.
func (WireGuard) Build(*Builder, *config.Fabric, *config.FabricNode) error { return nil }
