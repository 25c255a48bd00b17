package sdn

import "github.com/sdnlab/sdnlab/sdn/controllers/frr"

// FRRConfig is the routing configuration of a node: what the evpn, bgp and
// isis controllers and the openfabric/ospf fabrics generate, with
// frr.conf.local merged in. render.FRR writes it as /etc/frr/frr.conf; the
// EVPN agent reads it to configure its BGP speaker as FRR would. The type
// and every field are documented in package sdn/controllers/frr.
//
// For the agent: FRR.DefaultRouter() is the underlay/EVPN instance (ASN,
// RouterID); its NeighborGroups[Name=="VTEP"] lists the EVPN peers
// (Peers, RemoteAS "external" or the ASN, UpdateSource, EBGPMultihop, BFD)
// and its L2VPNEVPN family says AdvertiseAllVNI and AutoRTAS (eBGP route
// targets). FRR.BGP.VRFs["vrf_<zone>"].VNI is a zone's L3VNI and
// FRR.BGP.Routers["vrf_<zone>"] its VRF instance: L2VPNEVPN.DefaultOriginate
// set means this node is an exit node of the zone (FRR.ExitNode(vrf)),
// AdvertiseIPv4Unicast/IPv6 means advertise-subnets, RouteTargets.Import
// holds rt-import. RouteMaps["MAP_VTEP_IN"/"MAP_VTEP_OUT"] carry the
// exit-node default-route filters (deny on the primary, metric 200 on a
// secondary).
type FRRConfig = frr.Config
