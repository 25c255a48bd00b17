package capture

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/google/gopacket/layers"
)

// Direction says whether a frame left or entered the interface it was
// captured on, as the kernel's packet type reports it.
type Direction uint8

// Directions.
const (
	DirUnknown Direction = iota // not known (for example read from a classic pcap file)
	DirIn                       // received on the interface (host, broadcast, multicast, other host)
	DirOut                      // sent by the interface (PACKET_OUTGOING)
)

func (d Direction) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	}
	return "?"
}

// Packet is one decoded Ethernet frame. A frame carried inside VXLAN is a
// Packet of its own (VXLAN.Inner) with Depth 1 and Parent set to the outer one.
// Fields of layers that are absent stay at their zero value (invalid
// netip.Addr, nil pointers).
type Packet struct {
	Time   time.Time
	Point  string    // label of the capture point
	Dir    Direction // direction on the capture point
	Len    int       // length on the wire
	CapLen int       // bytes captured (≤ Len when snaplen cut the frame)
	Index  int       // position in Result.Packets (outer frames); inner frames share their parent's
	Depth  int       // 0 for the captured frame, 1 inside one VXLAN, ...
	Parent *Packet   // enclosing frame of an inner frame, nil at depth 0

	// Link layer.
	SrcMAC, DstMAC net.HardwareAddr
	EtherType      layers.EthernetType // of the payload, after any VLAN tags
	VLANs          []VLANTag           // outermost first

	// Network layer (IPv4 or IPv6).
	SrcIP, DstIP netip.Addr
	IPProto      layers.IPProtocol // upper-layer protocol (after an IPv6 fragment header)
	TTL          uint8             // TTL or hop limit
	IPID         uint32            // IPv4 identification (or IPv6 fragment identification)
	DontFrag     bool              // IPv4 DF bit
	Frag         *Fragment         // set when the datagram is a fragment

	// Transport layer.
	SrcPort, DstPort uint16
	TCP              *TCP
	PayloadLen       int // bytes of UDP/TCP payload in this frame

	ARP   *ARP
	ICMP  *ICMP
	ND    *ND
	VXLAN *VXLAN
	DHCP  *DHCP
	BGP   []*BGPMessage // BGP messages completed by this segment
	BFD   *BFD          // a BFD control packet
	// WireGuard is a WireGuard message (recognized by its type and length).
	WireGuard *WireGuardMsg

	DecodeErr string // what gopacket or the VXLAN/BGP decoder could not parse, if anything

	raw []byte // captured bytes of a depth-0 frame, for writing files
}

// DHCP is a DHCPv4 message.
type DHCP struct {
	Op        uint8  // 1 request (client), 2 reply (server)
	MsgType   string // "Discover", "Offer", "Request", "Ack", "Nak", ...
	ClientMAC net.HardwareAddr
	YourIP    netip.Addr // the address offered or acknowledged
	PrefixLen int        // from the subnet mask option; 0 none
	Routers   []netip.Addr
	DNS       []netip.Addr
	ServerID  netip.Addr
	MTU       int    // option 26; 0 none
	LeaseSecs uint32 // 0xffffffff: infinite
}

// WireGuardMsg is the clear header of a WireGuard message.
type WireGuardMsg struct {
	Type uint8 // WireGuardInitiation ... WireGuardData
	// Sender and Receiver are the session indexes the message names
	// (Sender in handshake messages, Receiver in responses and data).
	Sender, Receiver uint32
	Counter          uint64 // of a data message
}

// VLANTag is one 802.1Q or 802.1ad tag of a frame.
type VLANTag struct {
	TPID uint16 // 0x8100 (802.1Q) or 0x88a8 (802.1ad)
	VID  uint16
	PCP  uint8
}

func (t VLANTag) String() string { return fmt.Sprintf("%#04x/%d", t.TPID, t.VID) }

// Fragment describes an IPv4 fragment (MF or offset set) or an IPv6 fragment header.
type Fragment struct {
	IPv6   bool
	ID     uint32
	Offset int // bytes
	More   bool
}

// TCP is the part of a TCP header worth asserting on.
type TCP struct {
	Seq, Ack                uint32
	SYN, ACK, FIN, RST, PSH bool
}

// ARP is an ARP (or RARP) message for IPv4 over Ethernet.
type ARP struct {
	Op        uint16 // 1 request, 2 reply, 3 RARP request, 4 RARP reply
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
}

// ARP operations.
const (
	ARPRequest  = 1
	ARPReply    = 2
	RARPRequest = 3
	RARPReply   = 4
)

// Gratuitous reports whether the message announces the sender's own address.
func (a *ARP) Gratuitous() bool { return a.SenderIP.IsValid() && a.SenderIP == a.TargetIP }

// ICMP is an ICMPv4 or ICMPv6 message header (ND messages also fill Packet.ND).
type ICMP struct {
	V6       bool
	Type     uint8
	Code     uint8
	ID, Seq  uint16 // echo request/reply only
	TypeName string // e.g. "echo request", "dest unreachable", "packet too big", "neighbor solicitation"
	MTU      uint32 // next-hop MTU of "fragmentation needed" / "packet too big"
}

// NDKind names an ICMPv6 neighbor discovery message.
type NDKind string

// Neighbor discovery messages.
const (
	NDRouterSolicit   NDKind = "RS"
	NDRouterAdvert    NDKind = "RA"
	NDNeighborSolicit NDKind = "NS"
	NDNeighborAdvert  NDKind = "NA"
	NDRedirect        NDKind = "redirect"
)

// ND is an ICMPv6 neighbor discovery message.
type ND struct {
	Kind      NDKind
	Target    netip.Addr       // NS, NA, redirect
	SourceLL  net.HardwareAddr // source link-layer address option
	TargetLL  net.HardwareAddr // target link-layer address option
	Router    bool             // NA R flag
	Solicited bool             // NA S flag
	Override  bool             // NA O flag
}

// BFD is the part of a BFD control packet worth asserting on.
type BFD struct {
	State      BFDState
	Diag       uint8 // 1: control detection time expired, 3: neighbor signaled down, ...
	DetectMult uint8
	MyDisc     uint32
	YourDisc   uint32
}

// BFDState is a BFD session state as carried on the wire.
type BFDState uint8

// BFD session states (RFC 5880 section 4.1).
const (
	BFDAdminDown BFDState = 0
	BFDDown      BFDState = 1
	BFDInit      BFDState = 2
	BFDUp        BFDState = 3
)

func (s BFDState) String() string {
	return [...]string{"AdminDown", "Down", "Init", "Up"}[s&3]
}

// VXLAN is the VXLAN header and the frame it carries.
type VXLAN struct {
	VNI   uint32
	Inner *Packet
}

// IsBroadcast reports whether the destination MAC is ff:ff:ff:ff:ff:ff.
func (p *Packet) IsBroadcast() bool {
	return len(p.DstMAC) == 6 && p.DstMAC.String() == "ff:ff:ff:ff:ff:ff"
}

// IsMulticast reports whether the destination MAC has the group bit (includes broadcast).
func (p *Packet) IsMulticast() bool { return len(p.DstMAC) > 0 && p.DstMAC[0]&1 == 1 }

// Outermost returns the captured frame this (maybe inner) frame belongs to.
func (p *Packet) Outermost() *Packet {
	for p.Parent != nil {
		p = p.Parent
	}
	return p
}

// Frames returns the frame and, recursively, every frame carried inside it.
func (p *Packet) Frames() []*Packet {
	out := []*Packet{p}
	for q := p; q.VXLAN != nil && q.VXLAN.Inner != nil; q = q.VXLAN.Inner {
		out = append(out, q.VXLAN.Inner)
	}
	return out
}

// Evidence is the one-line description used in assertion failures:
// time, capture point, direction and Summary of the captured frame.
func (p *Packet) Evidence() string {
	o := p.Outermost()
	return fmt.Sprintf("#%d %s %s %s %s", o.Index, o.Time.UTC().Format("15:04:05.000000"), o.Point, o.Dir, o.Summary())
}

// Summary is a tcpdump-like one-liner for the frame (and what it carries).
func (p *Packet) Summary() string {
	var b strings.Builder
	p.summary(&b)
	return b.String()
}

func (p *Packet) summary(b *strings.Builder) {
	fmt.Fprintf(b, "%s > %s", macStr(p.SrcMAC), macStr(p.DstMAC))
	switch {
	case p.ARP != nil:
		a := p.ARP
		switch a.Op {
		case ARPRequest:
			if a.Gratuitous() {
				fmt.Fprintf(b, " ARP gratuitous request %s is-at %s", a.SenderIP, a.SenderMAC)
			} else {
				fmt.Fprintf(b, " ARP who-has %s tell %s", a.TargetIP, a.SenderIP)
			}
		case ARPReply:
			fmt.Fprintf(b, " ARP reply %s is-at %s", a.SenderIP, a.SenderMAC)
		case RARPRequest:
			fmt.Fprintf(b, " RARP who-is %s tell %s", a.TargetMAC, a.SenderMAC)
		case RARPReply:
			fmt.Fprintf(b, " RARP reply %s at %s", a.TargetMAC, a.TargetIP)
		default:
			fmt.Fprintf(b, " ARP op %d", a.Op)
		}
		return
	case !p.SrcIP.IsValid():
		fmt.Fprintf(b, " ethertype %s (0x%04x) len %d", p.EtherType, uint16(p.EtherType), p.Len)
		if p.DecodeErr != "" {
			fmt.Fprintf(b, " [%s]", p.DecodeErr)
		}
		return
	}
	fmt.Fprintf(b, " %s > %s", p.SrcIP, p.DstIP)
	if p.Frag != nil {
		fmt.Fprintf(b, " frag id %d off %d", p.Frag.ID, p.Frag.Offset)
		if p.Frag.More {
			b.WriteString(" +MF")
		}
	}
	switch {
	case p.ND != nil:
		fmt.Fprintf(b, " ICMP6 %s", p.ND.Kind)
		if p.ND.Target.IsValid() {
			fmt.Fprintf(b, " %s", p.ND.Target)
		}
		if p.ND.SourceLL != nil {
			fmt.Fprintf(b, " src-ll %s", p.ND.SourceLL)
		}
		if p.ND.TargetLL != nil {
			fmt.Fprintf(b, " tgt-ll %s", p.ND.TargetLL)
		}
	case p.ICMP != nil:
		name := "ICMP"
		if p.ICMP.V6 {
			name = "ICMP6"
		}
		fmt.Fprintf(b, " %s %s", name, p.ICMP.TypeName)
		if p.ICMP.TypeName == "echo request" || p.ICMP.TypeName == "echo reply" {
			fmt.Fprintf(b, " id %d seq %d", p.ICMP.ID, p.ICMP.Seq)
		}
		if p.ICMP.MTU != 0 {
			fmt.Fprintf(b, " mtu %d", p.ICMP.MTU)
		}
	case p.TCP != nil:
		fmt.Fprintf(b, " TCP %d > %d [%s] seq %d len %d", p.SrcPort, p.DstPort, p.TCP.flags(), p.TCP.Seq, p.PayloadLen)
		for _, m := range p.BGP {
			fmt.Fprintf(b, " BGP %s", m.Summary())
		}
	case p.IPProto == layers.IPProtocolUDP && (p.SrcPort != 0 || p.DstPort != 0):
		fmt.Fprintf(b, " UDP %d > %d len %d", p.SrcPort, p.DstPort, p.PayloadLen)
	default:
		fmt.Fprintf(b, " proto %s len %d", p.IPProto, p.Len)
	}
	if w := p.WireGuard; w != nil {
		names := map[uint8]string{WireGuardInitiation: "handshake initiation", WireGuardResponse: "handshake response", WireGuardCookie: "cookie reply", WireGuardData: "data"}
		fmt.Fprintf(b, " WireGuard %s", names[w.Type])
		if w.Type == WireGuardData {
			fmt.Fprintf(b, " to %#x counter %d", w.Receiver, w.Counter)
		}
	}
	if p.VXLAN != nil {
		fmt.Fprintf(b, " VXLAN vni %d", p.VXLAN.VNI)
		if p.VXLAN.Inner != nil {
			b.WriteString(" [")
			p.VXLAN.Inner.summary(b)
			b.WriteString("]")
		}
	}
	if p.DecodeErr != "" {
		fmt.Fprintf(b, " [%s]", p.DecodeErr)
	}
}

func (t *TCP) flags() string {
	var s []byte
	for _, f := range []struct {
		on bool
		c  byte
	}{{t.SYN, 'S'}, {t.FIN, 'F'}, {t.RST, 'R'}, {t.PSH, 'P'}, {t.ACK, '.'}} {
		if f.on {
			s = append(s, f.c)
		}
	}
	return string(s)
}

func macStr(m net.HardwareAddr) string {
	if len(m) == 0 {
		return "-"
	}
	return m.String()
}
