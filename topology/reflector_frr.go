package topology

import (
	"context"
	"fmt"
	"strings"

	"github.com/sdnlab/sdnlab/topology/frrnode"
)

// startFRRReflector runs a router's EVPN route reflector on FRR: bgpd (and
// bfdd) in the router's namespace with the frr.conf reflectorFRRConf
// writes, its files in nodes/<router>/frr/ as a node's. A running one is
// reloaded when its configuration changed.
func startFRRReflector(lab *Lab, _ Options, dir string, rt *Router, pr *progress) error {
	version, root := HostFRRVersion, ""
	if rt.FRRRelease == "10" {
		version, root = FRR10Version, FRR10Root
	}
	conf := reflectorFRRConf(rt, version)
	in := &frrnode.Instance{Node: rt.Name, NS: rt.NS, Dir: FRRDir(dir, rt.Name), Conf: conf, Root: root,
		Daemons: frrnode.DaemonsFor(conf)}
	reloaded, changed, err := in.Ensure(context.Background())
	switch {
	case err != nil:
		return fmt.Errorf("router %s: reflector: %w", rt.Name, err)
	case changed:
		pr.printf("router %s: EVPN route reflector: frr.conf changed: reloaded (frr-reload.py)", rt.Name)
	case !reloaded:
		pr.printf("router %s: EVPN route reflector started on FRR %s (%d daemons, %d clients)", rt.Name, version,
			len(frrnode.PIDs(in.Dir, rt.NS)), len(rt.Reflector.Neighbors))
	}
	return nil
}

// reflectorFRRConf is the frr.conf of an FRR route reflector for the
// EVPN controller's nodes: iBGP in the controller's AS, every node a
// route-reflector client of l2vpn evpn (peer group VTEP, BFD as the nodes
// ask for it), the cluster ID redundant reflectors share. It carries no
// VNI: bgpd keeps every EVPN route in its global table and reflects it
// whatever its route targets.
func reflectorFRRConf(rt *Router, version string) string {
	c := rt.Reflector
	var b strings.Builder
	fmt.Fprintf(&b, "frr version %s\nfrr defaults datacenter\nhostname %s\nlog syslog informational\nservice integrated-vtysh-config\n!\n", version, rt.Name)
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n", c.ASN, c.RouterID)
	if c.ClusterID.IsValid() {
		fmt.Fprintf(&b, " bgp cluster-id %s\n", c.ClusterID)
	}
	b.WriteString(" no bgp default ipv4-unicast\n coalesce-time 1000\n neighbor VTEP peer-group\n")
	fmt.Fprintf(&b, " neighbor VTEP remote-as %d\n", c.ASN)
	bfd := false
	for _, n := range c.Neighbors {
		bfd = bfd || n.BFD
	}
	if bfd {
		b.WriteString(" neighbor VTEP bfd\n")
	}
	for _, n := range c.Neighbors {
		fmt.Fprintf(&b, " neighbor %s peer-group VTEP\n", n.Addr)
	}
	b.WriteString(" !\n address-family l2vpn evpn\n  neighbor VTEP activate\n  neighbor VTEP route-reflector-client\n exit-address-family\nexit\n!\nline vty\n!\n")
	return b.String()
}
