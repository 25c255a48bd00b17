package config

import (
	"strings"
)

// CheckNodes checks every node name the config mentions against the
// cluster's node list: zone nodes, exitnodes and exitnodes-primary, the
// node of bgp/isis controllers and the nodes of fabrics.
func (c *Config) CheckNodes(nodes []string) error {
	known := map[string]bool{}
	for _, n := range nodes {
		known[n] = true
	}
	list := strings.Join(nodes, ",")
	var errs ErrorList
	check := func(props map[string]Prop, fallback Pos, key, node string) {
		if !known[node] {
			errs.add(propPos(props, key, fallback), key, "node %q is not a cluster node (nodes: %s)", node, list)
		}
	}
	for _, z := range c.SortedZones() {
		for _, n := range z.Nodes {
			check(z.Props, z.Pos, "nodes", n)
		}
		for _, n := range z.ExitNodes {
			check(z.Props, z.Pos, "exitnodes", n)
		}
		if z.ExitNodesPrimary != "" {
			check(z.Props, z.Pos, "exitnodes-primary", z.ExitNodesPrimary)
		}
	}
	for _, ct := range c.SortedControllers() {
		if ct.Node != "" {
			check(ct.Props, ct.Pos, "node", ct.Node)
		}
	}
	for _, f := range c.SortedFabrics() {
		for _, n := range f.SortedNodes() {
			if !known[n.Node] {
				errs.add(n.Pos, "id", "node %q of fabric %s is not a cluster node (nodes: %s)", n.Node, f.ID, list)
			}
		}
	}
	return errs.Err()
}

// CheckHost checks the config against a node's host interfaces: the
// bridge of every zone on a host bridge (vlan, qinq) must exist there (a Linux bridge or an
// OVS bridge), and a VNet must not reuse the name of a host interface.
func (c *Config) CheckHost(hi *HostInterfaces) error {
	var errs ErrorList
	for _, z := range c.SortedZones() {
		if z.Bridge == "" { // only the zone types on a host bridge set it

			continue
		}
		pos := propPos(z.Props, "bridge", z.Pos)
		if _, ok := hi.Ifaces[z.Bridge]; !ok {
			errs.add(pos, "bridge", "bridge %s of %s zone %s is not defined in %s", z.Bridge, z.Type, z.ID, hi.File)
			continue
		}
		if _, ok := hi.Bridge(z.Bridge); !ok {
			errs.add(pos, "bridge", "%s in %s is not a bridge (no bridge-ports and not an OVSBridge)", z.Bridge, hi.File)
		}
	}
	for _, v := range c.SortedVNets() {
		if i, ok := hi.Ifaces[v.ID]; ok {
			errs.add(v.Pos, "vnet", "vnet %s has the name of host interface %s (%s)", v.ID, i.Name, i.Pos)
		}
	}
	return errs.Err()
}
