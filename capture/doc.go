// Package capture records frames on lab interfaces inside their network
// namespaces, writes pcap files and decodes what it saw into Packets that
// scenarios assert on.
//
// Capture uses one AF_PACKET socket per interface, opened on a thread inside
// the interface's namespace (through internal/nsutil) and then read from an
// ordinary goroutine. It is pure Go: no libpcap, no cgo. Frames keep their
// kernel timestamp and their direction (the packet type: outgoing or
// received), so a merged time line of many interfaces can be built.
//
// Capturing on a bridge device shows only what the bridge's own port sends
// and receives (flooded and locally addressed frames); to see frames the
// bridge forwards between ports, capture on the ports.
//
// A point is bound to its interface: if the interface goes down the capture
// carries on once it is up again, and if it moves to another namespace (a
// migrated guest's tap) the point sees nothing more. Both count in
// PointStats.Downs; capture the new place with another point.
//
// Decoding covers Ethernet (and one 802.1Q tag), ARP/RARP, IPv4 and IPv6
// (with fragments and extension headers), ICMP, ICMPv6 with neighbor
// discovery, UDP, VXLAN on configurable ports with the inner frame decoded
// recursively, TCP, and BGP messages on TCP port 179, reassembled across
// segments, with helpers listing EVPN routes (EVPNRoutes).
//
// Assertions (Result.NoARPRequestFor, EveryVXLANFrom, NoOuterFragments,
// BroadcastReplicatedOnce, None, Some) return nil or an *AssertionError
// that names the offending frames as evidence.
package capture
