// Package evpn is the EVPN control plane of an sdnlab node: an embedded
// GoBGP (v3.37.0) speaker plus the kernel synchronisation that zebra does
// for FRR, so that a node behaves like a Proxmox node running bgpd+zebra
// and interoperates with FRR 8.4.
//
// One agent runs per node, as its own process inside the node's namespace
// (`sdnlab agent --lab LAB --node NODE --state DIR`, started by topology):
// GoBGP dials from arbitrary threads, so one process cannot speak for two
// nodes, and killing the process is a node's control plane crashing.
//
// What it does:
//   - BGP sessions from the node's FRR configuration (FromPlan): iBGP full
//     mesh, eBGP (`remote-as external`), multihop with update-source, route
//     reflector clients, l2vpn evpn plus ipv4/ipv6 unicast; FRR's
//     datacenter timers (keepalive 3 s, hold 9 s); EVPN next hops kept
//     unchanged towards eBGP peers.
//   - Type 3 per L2VNI -> the vxlan device's flood list (zero-MAC entries).
//   - Type 2 from the bridge FDB (local guest ports) and from the VNet
//     bridge's neighbour table (MAC+IP), with RD router-id:n and RT AS:VNI
//     as FRR derives them; remote ones become `self extern_learn` FDB
//     entries with a `master extern_learn` bridge entry, and `extern_learn
//     noarp` neighbour entries that ARP/ND suppression answers from.
//   - MAC mobility (RFC 7432 section 15): sequence numbers, sticky, FRR's
//     duplicate detection (5 moves in 180 s), withdrawal at the old place.
//     As FRR without `dup-addr-detection freeze` (Proxmox sets none), a
//     duplicate is only flagged and logged: it stays advertised, and the
//     flag stays until cleared (`sdnlab show LAB NODE dup [--clear]`, FRR's
//     `show evpn mac vni all duplicate` / `clear evpn dup-addr`).
//     Config.DupFreeze gives FRR's freeze: withheld, cleared after N.
//   - Gateway MACs: Proxmox's frr.conf has no `advertise-default-gw`, so
//     the VNet bridge's (anycast gateway) MAC is never advertised, sticky
//     or otherwise; a remote route claiming it never moves it off the
//     bridge.
//   - IPv4/IPv6 unicast (the bgp controller's underlay peers): `network`
//     statements announced while the table holds them (FRR's import
//     check); received best paths installed into the node namespace's main
//     table as zebra does (proto bgp, metric 20, ECMP over paths equal up to
//     FRR's multipath rules, `bgp bestpath as-path multipath-relax`,
//     recursive next hops resolved through the kernel), removed on withdraw
//     and session down. A prefix held by a route of any other protocol
//     (connected, kernel, static: all a better distance than BGP) is left
//     alone.
//   - Symmetric IRB: type 2 with the L3VNI label and router MAC, type 5
//     (advertise-subnets, exit-node default routes, exitnodes-primary via
//     MED, exit nodes refusing others' defaults), installed in the zone's
//     VRF namespace as onlink routes through the L3VNI bridge with router
//     MAC neighbour and FDB entries.
//   - BFD (package sdn/bfd) for the neighbours that ask for it: a BFD down
//     drops the session and its routes at once.
//   - Reconciliation: the desired kernel state is recomputed from the RIB
//     after every batch of events and only the difference is programmed;
//     entries left by an earlier run are removed once BGP has re-synced.
//
// State for `sdnlab show` is served as JSON on a unix socket
// (DIR/nodes/NODE/agent.sock, see Query and Call).
//
// Malformed messages: GoBGP v3.37.0 panics in its own receive goroutine
// (fsmHandler.recvMessageloop) on an UPDATE with a truncated EVPN MAC/IP
// route, where nothing can recover. So GoBGP listens on the loopback only
// and every session passes through a guard (internal/bgpguard) that checks
// each received message first and does what RFC 7606 says: treat-as-withdraw
// for a malformed route or attribute, a NOTIFICATION and session reset for a
// broken header or MP_REACH/MP_UNREACH framing. `show bgp` counts the
// errors per peer; TestMalformedEVPNRouteAgentSurvives pins this down.
package evpn
