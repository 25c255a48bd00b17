package capture

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// DefaultVXLANPort is the IANA VXLAN port, the Linux and Proxmox default.
const DefaultVXLANPort = 4789

// DecodeOptions says which UDP/TCP ports carry VXLAN and BGP.
type DecodeOptions struct {
	// VXLANPorts are UDP destination ports decoded as VXLAN. Empty means {4789}.
	VXLANPorts []uint16
	// BGPPort is the TCP port decoded as BGP. Zero means 179.
	BGPPort uint16
	// MaxDepth bounds VXLAN-in-VXLAN recursion. Zero means 2.
	MaxDepth int
}

func (o DecodeOptions) withDefaults() DecodeOptions {
	if len(o.VXLANPorts) == 0 {
		o.VXLANPorts = []uint16{DefaultVXLANPort}
	}
	if o.BGPPort == 0 {
		o.BGPPort = 179
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = 2
	}
	return o
}

// Decoder turns frames into Packets. It keeps per-flow TCP state so that BGP
// messages spanning several segments are reassembled (best effort: in-order
// and retransmitted segments are handled, a gap resynchronises on the next
// BGP marker). Feed it the frames of one capture point in capture order.
// A Decoder is not safe for concurrent use.
type Decoder struct {
	opts    DecodeOptions
	streams map[streamKey]*tcpStream
}

// NewDecoder returns a Decoder for opts.
func NewDecoder(opts DecodeOptions) *Decoder {
	return &Decoder{opts: opts.withDefaults(), streams: map[streamKey]*tcpStream{}}
}

// Decode decodes one Ethernet frame captured at point. length is the length
// on the wire (0: len(data)). The Packet keeps data (see Packet.Data): do not
// modify it afterwards.
func (d *Decoder) Decode(point string, ts time.Time, dir Direction, length int, data []byte) *Packet {
	if length < len(data) {
		length = len(data)
	}
	p := &Packet{Time: ts, Point: point, Dir: dir, Len: length, CapLen: len(data), raw: data}
	d.decodeFrame(p, data)
	return p
}

func (d *Decoder) decodeFrame(p *Packet, data []byte) {
	// Lazy=false, NoCopy: the fields we keep are copied below.
	pk := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{NoCopy: true})
	if el := pk.ErrorLayer(); el != nil && el.Error() != nil {
		p.DecodeErr = el.Error().Error()
	}
	for _, l := range pk.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			if p.SrcMAC != nil {
				continue // an inner Ethernet gopacket decoded on its own; handled by VXLAN below
			}
			p.SrcMAC = slices.Clone(l.SrcMAC)
			p.DstMAC = slices.Clone(l.DstMAC)
			p.EtherType = l.EthernetType
			if l.EthernetType == ethRARP {
				decodeRARP(p, l.Payload)
				return
			}
		case *layers.Dot1Q:
			// The tag's own TPID is the type field before it.
			p.VLANs = append(p.VLANs, VLANTag{TPID: uint16(p.EtherType), VID: l.VLANIdentifier, PCP: l.Priority})
			p.EtherType = l.Type
			if l.Type == ethRARP {
				decodeRARP(p, l.Payload)
				return
			}
		case *layers.ARP:
			p.ARP = decodeARP(l)
			return
		case *layers.IPv4:
			p.SrcIP = addr(l.SrcIP)
			p.DstIP = addr(l.DstIP)
			p.IPProto = l.Protocol
			p.TTL = l.TTL
			p.IPID = uint32(l.Id)
			p.DontFrag = l.Flags&layers.IPv4DontFragment != 0
			if l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0 {
				p.Frag = &Fragment{ID: uint32(l.Id), Offset: int(l.FragOffset) * 8, More: l.Flags&layers.IPv4MoreFragments != 0}
				if l.FragOffset == 0 {
					// gopacket stops at a first fragment; its transport header is still readable.
					d.decodeTransport(p, l.Protocol, l.Payload)
				}
				return
			}
		case *layers.IPv6:
			p.SrcIP = addr(l.SrcIP)
			p.DstIP = addr(l.DstIP)
			p.IPProto = l.NextHeader
			p.TTL = l.HopLimit
		case *layers.IPv6Fragment:
			p.IPProto = l.NextHeader
			p.IPID = l.Identification
			p.Frag = &Fragment{IPv6: true, ID: l.Identification, Offset: int(l.FragmentOffset) * 8, More: l.MoreFragments}
			if l.FragmentOffset == 0 {
				d.decodeTransport(p, l.NextHeader, l.Payload)
			}
			return
		case *layers.IPv6HopByHop:
			p.IPProto = l.NextHeader
		case *layers.IPv6Destination:
			p.IPProto = l.NextHeader
		case *layers.IPv6Routing:
			p.IPProto = l.NextHeader
		case *layers.UDP, *layers.TCP, *layers.ICMPv4, *layers.ICMPv6:
			// Transport is decoded by hand: VXLAN on a configurable port and
			// BGP reassembly are not something gopacket's global port table can do.
			d.decodeTransport(p, p.IPProto, l.LayerContents(), l.LayerPayload())
			return
		}
	}
}

// decodeTransport decodes the layer after IP. parts are the layer's bytes,
// either whole (one slice) or as header and payload (two slices).
func (d *Decoder) decodeTransport(p *Packet, proto layers.IPProtocol, parts ...[]byte) {
	var data []byte
	if len(parts) == 1 {
		data = parts[0]
	} else {
		data = append(slices.Clip(parts[0]), parts[1]...)
	}
	var err error
	switch proto {
	case layers.IPProtocolUDP:
		err = d.decodeUDP(p, data)
	case layers.IPProtocolTCP:
		err = d.decodeTCP(p, data)
	case layers.IPProtocolICMPv4:
		err = decodeICMPv4(p, data)
	case layers.IPProtocolICMPv6:
		err = decodeICMPv6(p, data)
	}
	if err != nil && p.DecodeErr == "" {
		p.DecodeErr = err.Error()
	}
}

func (d *Decoder) decodeUDP(p *Packet, data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("udp: %d bytes, need 8", len(data))
	}
	p.SrcPort = binary.BigEndian.Uint16(data[0:2])
	p.DstPort = binary.BigEndian.Uint16(data[2:4])
	payload := data[8:]
	p.PayloadLen = len(payload)
	if p.Frag == nil && slices.Contains(d.opts.VXLANPorts, p.DstPort) {
		return d.decodeVXLAN(p, payload)
	}
	if p.Frag == nil && (p.DstPort == BFDPort || p.DstPort == BFDMultihopPort) {
		return decodeBFD(p, payload)
	}
	if p.Frag != nil && p.Frag.Offset == 0 && slices.Contains(d.opts.VXLANPorts, p.DstPort) {
		// First fragment: the VXLAN header and the start of the inner frame are here.
		return d.decodeVXLAN(p, payload)
	}
	if p.Frag == nil && (p.DstPort == 67 || p.DstPort == 68) && (p.SrcPort == 67 || p.SrcPort == 68) {
		return decodeDHCP(p, payload)
	}
	if p.Frag == nil {
		p.WireGuard = decodeWireGuard(payload)
	}
	return nil
}

// WireGuard message types (the first byte of every message, followed by
// three zero bytes) and their fixed lengths; a data message is 16 bytes
// of header and a ciphertext padded to 16 bytes plus its 16-byte tag.
const (
	WireGuardInitiation = 1
	WireGuardResponse   = 2
	WireGuardCookie     = 3
	WireGuardData       = 4
)

// decodeWireGuard reads a UDP payload as a WireGuard message when its
// type and length say it is one (WireGuard has no fixed port); nil else.
func decodeWireGuard(b []byte) *WireGuardMsg {
	if len(b) < 32 || b[1] != 0 || b[2] != 0 || b[3] != 0 {
		return nil
	}
	m := &WireGuardMsg{Type: b[0]}
	switch {
	case b[0] == WireGuardInitiation && len(b) == 148, b[0] == WireGuardCookie && len(b) == 64:
		m.Sender = binary.LittleEndian.Uint32(b[4:8])
	case b[0] == WireGuardResponse && len(b) == 92:
		m.Sender = binary.LittleEndian.Uint32(b[4:8])
		m.Receiver = binary.LittleEndian.Uint32(b[8:12])
	case b[0] == WireGuardData && len(b)%16 == 0:
		m.Receiver = binary.LittleEndian.Uint32(b[4:8])
		m.Counter = binary.LittleEndian.Uint64(b[8:16])
	default:
		return nil
	}
	return m
}

// decodeDHCP reads a DHCPv4 message: its type, the client's MAC and the
// offered address, and the options a guest configures itself from.
func decodeDHCP(p *Packet, data []byte) error {
	var l layers.DHCPv4
	if err := l.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		return fmt.Errorf("dhcp: %w", err)
	}
	d := &DHCP{Op: uint8(l.Operation), ClientMAC: slices.Clone(l.ClientHWAddr), YourIP: addr(l.YourClientIP)}
	for _, o := range l.Options {
		switch o.Type {
		case layers.DHCPOptMessageType:
			if len(o.Data) == 1 {
				d.MsgType = layers.DHCPMsgType(o.Data[0]).String()
			}
		case layers.DHCPOptRouter:
			d.Routers = addrList(o.Data)
		case layers.DHCPOptDNS:
			d.DNS = addrList(o.Data)
		case layers.DHCPOptServerID:
			if a := addrList(o.Data); len(a) == 1 {
				d.ServerID = a[0]
			}
		case layers.DHCPOptSubnetMask:
			if len(o.Data) == 4 {
				ones, _ := net.IPMask(o.Data).Size()
				d.PrefixLen = ones
			}
		case layers.DHCPOptInterfaceMTU:
			if len(o.Data) == 2 {
				d.MTU = int(binary.BigEndian.Uint16(o.Data))
			}
		case layers.DHCPOptLeaseTime:
			if len(o.Data) == 4 {
				d.LeaseSecs = binary.BigEndian.Uint32(o.Data)
			}
		}
	}
	p.DHCP = d
	return nil
}

// addrList reads consecutive IPv4 addresses.
func addrList(b []byte) []netip.Addr {
	var out []netip.Addr
	for i := 0; i+4 <= len(b); i += 4 {
		out = append(out, netip.AddrFrom4([4]byte(b[i:i+4])))
	}
	return out
}

func (d *Decoder) decodeVXLAN(p *Packet, payload []byte) error {
	if len(payload) < 8 {
		return fmt.Errorf("vxlan: %d bytes, need 8", len(payload))
	}
	if payload[0]&0x08 == 0 {
		return fmt.Errorf("vxlan: I flag not set (flags 0x%02x)", payload[0])
	}
	vni := uint32(payload[4])<<16 | uint32(payload[5])<<8 | uint32(payload[6])
	p.VXLAN = &VXLAN{VNI: vni}
	inner := payload[8:]
	if len(inner) < 14 || p.Depth+1 > d.opts.MaxDepth {
		return nil
	}
	in := &Packet{Time: p.Time, Point: p.Point, Dir: p.Dir, Len: len(inner), CapLen: len(inner),
		Index: p.Index, Depth: p.Depth + 1, Parent: p, raw: inner}
	if p.Len > p.CapLen {
		in.Len += p.Len - p.CapLen
	}
	d.decodeFrame(in, inner)
	p.VXLAN.Inner = in
	return nil
}

func (d *Decoder) decodeTCP(p *Packet, data []byte) error {
	var t layers.TCP
	if err := t.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
	p.TCP = &TCP{Seq: t.Seq, Ack: t.Ack, SYN: t.SYN, ACK: t.ACK, FIN: t.FIN, RST: t.RST, PSH: t.PSH}
	p.PayloadLen = len(t.Payload)
	if p.Frag != nil || (p.SrcPort != d.opts.BGPPort && p.DstPort != d.opts.BGPPort) {
		return nil
	}
	k := streamKey{point: p.Point, depth: p.Depth, src: netip.AddrPortFrom(p.SrcIP, p.SrcPort), dst: netip.AddrPortFrom(p.DstIP, p.DstPort)}
	s := d.streams[k]
	if s == nil {
		s = &tcpStream{}
		d.streams[k] = s
	}
	msgs, err := s.feed(p.TCP, t.Payload)
	p.BGP = msgs
	return err
}

// ethRARP is RARP's EtherType.
const ethRARP layers.EthernetType = 0x8035

// decodeRARP decodes a RARP message (what QEMU announces a migrated guest
// with): the ARP format under another EtherType, which gopacket leaves
// undecoded.
func decodeRARP(p *Packet, b []byte) {
	var a layers.ARP
	if err := a.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		p.DecodeErr = "rarp: " + err.Error()
		return
	}
	p.ARP = decodeARP(&a)
}

func decodeARP(l *layers.ARP) *ARP {
	a := &ARP{Op: l.Operation}
	if l.AddrType == layers.LinkTypeEthernet && l.HwAddressSize == 6 {
		a.SenderMAC = net.HardwareAddr(slices.Clone(l.SourceHwAddress))
		a.TargetMAC = net.HardwareAddr(slices.Clone(l.DstHwAddress))
	}
	if l.Protocol == layers.EthernetTypeIPv4 && l.ProtAddressSize == 4 {
		a.SenderIP = addr(l.SourceProtAddress)
		a.TargetIP = addr(l.DstProtAddress)
	}
	return a
}

var icmp4Names = map[uint8]string{
	0: "echo reply", 3: "dest unreachable", 5: "redirect", 8: "echo request",
	11: "time exceeded", 12: "parameter problem",
}

func decodeICMPv4(p *Packet, data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("icmp: %d bytes, need 8", len(data))
	}
	ic := &ICMP{Type: data[0], Code: data[1]}
	ic.TypeName = icmp4Names[ic.Type]
	if ic.TypeName == "" {
		ic.TypeName = fmt.Sprintf("type %d", ic.Type)
	}
	switch ic.Type {
	case 0, 8:
		ic.ID = binary.BigEndian.Uint16(data[4:6])
		ic.Seq = binary.BigEndian.Uint16(data[6:8])
	case 3:
		switch ic.Code {
		case 0:
			ic.TypeName = "net unreachable"
		case 1:
			ic.TypeName = "host unreachable"
		case 3:
			ic.TypeName = "port unreachable"
		case 4:
			ic.TypeName = "frag needed"
			ic.MTU = uint32(binary.BigEndian.Uint16(data[6:8]))
		}
	}
	p.ICMP = ic
	return nil
}

var icmp6Names = map[uint8]string{
	1: "dest unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
	128: "echo request", 129: "echo reply", 130: "MLD query", 131: "MLD report", 132: "MLD done",
	143: "MLDv2 report", 133: "router solicitation", 134: "router advertisement",
	135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect",
}

func decodeICMPv6(p *Packet, data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("icmp6: %d bytes, need 8", len(data))
	}
	ic := &ICMP{V6: true, Type: data[0], Code: data[1]}
	ic.TypeName = icmp6Names[ic.Type]
	if ic.TypeName == "" {
		ic.TypeName = fmt.Sprintf("type %d", ic.Type)
	}
	p.ICMP = ic
	body := data[4:]
	var opts layers.ICMPv6Options
	nd := &ND{}
	switch ic.Type {
	case 2:
		ic.MTU = binary.BigEndian.Uint32(body[0:4])
		return nil
	case 128, 129:
		ic.ID = binary.BigEndian.Uint16(body[0:2])
		ic.Seq = binary.BigEndian.Uint16(body[2:4])
		return nil
	case 133:
		var m layers.ICMPv6RouterSolicitation
		if err := m.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
			return fmt.Errorf("icmp6 RS: %w", err)
		}
		nd.Kind, opts = NDRouterSolicit, m.Options
	case 134:
		var m layers.ICMPv6RouterAdvertisement
		if err := m.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
			return fmt.Errorf("icmp6 RA: %w", err)
		}
		nd.Kind, opts = NDRouterAdvert, m.Options
	case 135:
		var m layers.ICMPv6NeighborSolicitation
		if err := m.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
			return fmt.Errorf("icmp6 NS: %w", err)
		}
		nd.Kind, nd.Target, opts = NDNeighborSolicit, addr(m.TargetAddress), m.Options
	case 136:
		var m layers.ICMPv6NeighborAdvertisement
		if err := m.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
			return fmt.Errorf("icmp6 NA: %w", err)
		}
		nd.Kind, nd.Target, opts = NDNeighborAdvert, addr(m.TargetAddress), m.Options
		nd.Router, nd.Solicited, nd.Override = m.Router(), m.Solicited(), m.Override()
	case 137:
		var m layers.ICMPv6Redirect
		if err := m.DecodeFromBytes(body, gopacket.NilDecodeFeedback); err != nil {
			return fmt.Errorf("icmp6 redirect: %w", err)
		}
		nd.Kind, nd.Target, opts = NDRedirect, addr(m.TargetAddress), m.Options
	default:
		return nil
	}
	for _, o := range opts {
		switch o.Type {
		case layers.ICMPv6OptSourceAddress:
			nd.SourceLL = net.HardwareAddr(slices.Clone(o.Data))
		case layers.ICMPv6OptTargetAddress:
			nd.TargetLL = net.HardwareAddr(slices.Clone(o.Data))
		}
	}
	p.ND = nd
	return nil
}

// addr converts a 4- or 16-byte IP into a netip.Addr (IPv4 unmapped).
func addr(ip []byte) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

// BFD control packets (RFC 5880) travel on UDP 3784 (single hop, RFC 5881)
// or 4784 (multihop, RFC 5883).
const (
	BFDPort         = 3784
	BFDMultihopPort = 4784
)

func decodeBFD(p *Packet, b []byte) error {
	if len(b) < 24 {
		return fmt.Errorf("bfd: %d bytes, need 24", len(b))
	}
	if v := b[0] >> 5; v != 1 {
		return fmt.Errorf("bfd: version %d", v)
	}
	p.BFD = &BFD{
		Diag:       b[0] & 0x1f,
		State:      BFDState(b[1] >> 6),
		DetectMult: b[2],
		MyDisc:     binary.BigEndian.Uint32(b[4:8]),
		YourDisc:   binary.BigEndian.Uint32(b[8:12]),
	}
	return nil
}

// ControlPlane tells whether a raw Ethernet frame is BGP (TCP 179 either
// way) or BFD (UDP 3784, 4784) on the underlay itself, not inside VXLAN:
// an Options.Select for captures that only need the control plane.
func ControlPlane(frame []byte) bool {
	if len(frame) < 14 {
		return false
	}
	et, off := binary.BigEndian.Uint16(frame[12:]), 14
	for (et == 0x8100 || et == 0x88a8) && len(frame) >= off+4 {
		et, off = binary.BigEndian.Uint16(frame[off+2:]), off+4
	}
	var proto byte
	switch et {
	case 0x0800:
		if len(frame) < off+20 {
			return false
		}
		if binary.BigEndian.Uint16(frame[off+6:])&0x1fff != 0 {
			return false // a later fragment has no ports
		}
		proto = frame[off+9]
		off += int(frame[off]&0x0f) * 4
	case 0x86dd:
		if len(frame) < off+40 {
			return false
		}
		proto = frame[off+6]
		off += 40
	default:
		return false
	}
	if len(frame) < off+4 {
		return false
	}
	src, dst := binary.BigEndian.Uint16(frame[off:]), binary.BigEndian.Uint16(frame[off+2:])
	switch proto {
	case 6:
		return src == 179 || dst == 179
	case 17:
		return dst == BFDPort || dst == BFDMultihopPort
	}
	return false
}
