package plan

import "net/netip"

// Names and addresses of an EVPN zone on a node. The zone compiler
// (sdn/zones) writes the stanzas and the controller compiler
// (sdn/controllers) routes over them, so both take them from here.

// EVPNVRF is the VRF of EVPN zone zone.
func EVPNVRF(zone string) string { return "vrf_" + zone }

// XVRFNames are the two ends of the veth pair between the main table
// (xvrf) and the zone's VRF (xvrfp) on an exit node with
// exitnodes-local-routing.
func XVRFNames(zone string) (xvrf, xvrfPeer string) { return "xvrf_" + zone, "xvrfp_" + zone }

// Addresses of the xvrf veth pair; the main table routes the zone's
// subnets via the VRF end.
var (
	XVRFAddr4     = netip.MustParsePrefix("10.255.255.1/30")
	XVRFPeerAddr4 = netip.MustParsePrefix("10.255.255.2/30")
	XVRFAddr6     = netip.MustParsePrefix("fe80::1/126")
	XVRFPeerAddr6 = netip.MustParsePrefix("fe80::2/126")
)
