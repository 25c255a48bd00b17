package sdn

import (
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// defaultDHCPMTU is the MTU Proxmox's DHCP plugin falls back to when a
// zone sets none.
const defaultDHCPMTU = 1500

// compileDHCP lists the DHCP server of every zone with "dhcp", as Proxmox
// regenerates them on each node: zones sorted by ID, their VNets sorted by
// ID, each VNet's subnets of that zone sorted by ID. Node lists are not
// consulted (Proxmox does not either).
func compileDHCP(cfg *config.Config) []plan.DHCPServer {
	var out []plan.DHCPServer
	for _, z := range cfg.SortedZones() {
		if z.DHCP == "" {
			continue
		}
		srv := plan.DHCPServer{Zone: z.ID, Type: z.DHCP, MTU: z.MTU}
		if srv.MTU == 0 {
			srv.MTU = defaultDHCPMTU
		}
		for _, v := range cfg.SortedVNets() {
			if v.Zone != z.ID {
				continue
			}
			dv := plan.DHCPVNet{VNet: v.ID}
			for _, s := range cfg.SortedSubnets() {
				if s.VNet != v.ID || s.Zone != z.ID {
					continue
				}
				ds := plan.DHCPSubnet{ID: s.ID, Prefix: s.Prefix, Gateway: s.Gateway, DNSServer: s.DHCPDNSServer}
				for _, r := range s.DHCPRanges {
					ds.Ranges = append(ds.Ranges, plan.DHCPRange{Start: r.Start, End: r.End})
				}
				dv.Subnets = append(dv.Subnets, ds)
			}
			srv.VNets = append(srv.VNets, dv)
		}
		out = append(out, srv)
	}
	return out
}
