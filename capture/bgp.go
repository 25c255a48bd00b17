package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// BGPMessage is one BGP message found in a TCP stream.
type BGPMessage struct {
	Type uint8           // bgp.BGP_MSG_OPEN, ..._UPDATE, ..._NOTIFICATION, ..._KEEPALIVE, ..._ROUTE_REFRESH
	Len  int             // length from the header
	Msg  *bgp.BGPMessage // parsed message; may be partial when Err is set
	Err  string          // parse error, if any
}

var bgpTypeNames = map[uint8]string{
	bgp.BGP_MSG_OPEN: "OPEN", bgp.BGP_MSG_UPDATE: "UPDATE", bgp.BGP_MSG_NOTIFICATION: "NOTIFICATION",
	bgp.BGP_MSG_KEEPALIVE: "KEEPALIVE", bgp.BGP_MSG_ROUTE_REFRESH: "ROUTE-REFRESH",
}

// TypeName is the message type in capitals, e.g. "UPDATE".
func (m *BGPMessage) TypeName() string {
	if n, ok := bgpTypeNames[m.Type]; ok {
		return n
	}
	return fmt.Sprintf("type-%d", m.Type)
}

// EVPN lists the EVPN routes an UPDATE advertises or withdraws (nil otherwise).
func (m *BGPMessage) EVPN() []EVPNRoute {
	if m.Msg == nil {
		return nil
	}
	return EVPNRoutes(m.Msg)
}

// Summary is a short text: the type and, for UPDATEs, the EVPN routes.
func (m *BGPMessage) Summary() string {
	s := m.TypeName()
	if rs := m.EVPN(); len(rs) > 0 {
		parts := make([]string, len(rs))
		for i, r := range rs {
			parts[i] = r.String()
		}
		s += " {" + strings.Join(parts, "; ") + "}"
	}
	if m.Err != "" {
		s += " (" + m.Err + ")"
	}
	return s
}

// EVPNRoute is one EVPN NLRI with the path attributes that matter for
// EVPN/VXLAN (RFC 7432, RFC 8365, RFC 9135/9136).
type EVPNRoute struct {
	Withdraw     bool
	Type         uint8  // 1 Ethernet A-D, 2 MAC/IP, 3 IMET, 4 ES, 5 IP prefix
	TypeName     string // "ead", "macip", "imet", "es", "prefix"
	RD           string
	ESI          string
	EthTag       uint32
	MAC          net.HardwareAddr // type 2
	IP           netip.Addr       // type 2 (optional), type 3/4 originator
	Prefix       netip.Prefix     // type 5
	Gateway      netip.Addr       // type 5 gateway IP
	Labels       []uint32         // MPLS label fields; the VNI for VXLAN (L2VNI, then L3VNI)
	NextHop      netip.Addr       // from MP_REACH_NLRI
	RouteTargets []string         // e.g. "65000:100"
	MACMobility  *MACMobility     // MAC mobility extended community
	RouterMAC    net.HardwareAddr
	Encap        string // tunnel encapsulation extended community, e.g. "vxlan"
	DefaultGW    bool   // default gateway extended community
	PMSI         string // PMSI tunnel attribute (type 3), as text
}

// MACMobility is the MAC mobility extended community (RFC 7432 section 7.7).
type MACMobility struct {
	Seq    uint32
	Sticky bool
}

// VNI is the first label (the L2VNI of a type-2 route, the L3VNI of type 5).
func (r EVPNRoute) VNI() uint32 {
	if len(r.Labels) == 0 {
		return 0
	}
	return r.Labels[0]
}

func (r EVPNRoute) String() string {
	var b strings.Builder
	if r.Withdraw {
		b.WriteString("withdraw ")
	}
	fmt.Fprintf(&b, "type-%d %s rd %s", r.Type, r.TypeName, r.RD)
	if r.MAC != nil {
		fmt.Fprintf(&b, " mac %s", r.MAC)
	}
	if r.IP.IsValid() {
		fmt.Fprintf(&b, " ip %s", r.IP)
	}
	if r.Prefix.IsValid() {
		fmt.Fprintf(&b, " prefix %s", r.Prefix)
	}
	if len(r.Labels) > 0 {
		fmt.Fprintf(&b, " vni %v", r.Labels)
	}
	if r.NextHop.IsValid() {
		fmt.Fprintf(&b, " nh %s", r.NextHop)
	}
	if r.MACMobility != nil {
		fmt.Fprintf(&b, " mm seq %d", r.MACMobility.Seq)
		if r.MACMobility.Sticky {
			b.WriteString(" sticky")
		}
	}
	if r.RouterMAC != nil {
		fmt.Fprintf(&b, " rmac %s", r.RouterMAC)
	}
	return b.String()
}

var evpnTypeNames = map[uint8]string{1: "ead", 2: "macip", 3: "imet", 4: "es", 5: "prefix"}

// EVPNRoutes lists the EVPN NLRI in an UPDATE message: advertised ones from
// MP_REACH_NLRI (with the message's attributes applied) and withdrawn ones
// from MP_UNREACH_NLRI. Other messages give nil.
func EVPNRoutes(msg *bgp.BGPMessage) []EVPNRoute {
	up, ok := msg.Body.(*bgp.BGPUpdate)
	if !ok || up == nil {
		return nil
	}
	var common EVPNRoute
	var reach, unreach []bgp.AddrPrefixInterface
	for _, a := range up.PathAttributes {
		switch a := a.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			common.NextHop = addr(a.Nexthop)
			reach = a.Value
		case *bgp.PathAttributeMpUnreachNLRI:
			unreach = a.Value
		case *bgp.PathAttributeExtendedCommunities:
			for _, ec := range a.Value {
				applyExtCommunity(&common, ec)
			}
		case *bgp.PathAttributePmsiTunnel:
			common.PMSI = a.String()
		}
	}
	var out []EVPNRoute
	for _, n := range reach {
		if r, ok := evpnRoute(n, common); ok {
			out = append(out, r)
		}
	}
	for _, n := range unreach {
		if r, ok := evpnRoute(n, EVPNRoute{Withdraw: true}); ok {
			out = append(out, r)
		}
	}
	return out
}

func applyExtCommunity(r *EVPNRoute, ec bgp.ExtendedCommunityInterface) {
	switch ec := ec.(type) {
	case *bgp.MacMobilityExtended:
		r.MACMobility = &MACMobility{Seq: ec.Sequence, Sticky: ec.IsSticky}
	case *bgp.RouterMacExtended:
		r.RouterMAC = slices.Clone(ec.Mac)
	case *bgp.EncapExtended:
		r.Encap = ec.TunnelType.String()
	case *bgp.DefaultGatewayExtended:
		r.DefaultGW = true
	default:
		if _, sub := ec.GetTypes(); sub == bgp.EC_SUBTYPE_ROUTE_TARGET {
			r.RouteTargets = append(r.RouteTargets, ec.String())
		}
	}
}

func evpnRoute(n bgp.AddrPrefixInterface, r EVPNRoute) (EVPNRoute, bool) {
	e, ok := n.(*bgp.EVPNNLRI)
	if !ok || e == nil {
		return r, false
	}
	r.Type = e.RouteType
	r.TypeName = evpnTypeNames[e.RouteType]
	r.RouteTargets = slices.Clone(r.RouteTargets)
	switch d := e.RouteTypeData.(type) {
	case *bgp.EVPNEthernetAutoDiscoveryRoute:
		r.RD, r.ESI, r.EthTag, r.Labels = rdString(d.RD), d.ESI.String(), d.ETag, []uint32{d.Label}
	case *bgp.EVPNMacIPAdvertisementRoute:
		r.RD, r.ESI, r.EthTag = rdString(d.RD), d.ESI.String(), d.ETag
		r.MAC = slices.Clone(d.MacAddress)
		r.IP = addr(d.IPAddress)
		r.Labels = slices.Clone(d.Labels)
	case *bgp.EVPNMulticastEthernetTagRoute:
		r.RD, r.EthTag, r.IP = rdString(d.RD), d.ETag, addr(d.IPAddress)
	case *bgp.EVPNEthernetSegmentRoute:
		r.RD, r.ESI, r.IP = rdString(d.RD), d.ESI.String(), addr(d.IPAddress)
	case *bgp.EVPNIPPrefixRoute:
		r.RD, r.ESI, r.EthTag = rdString(d.RD), d.ESI.String(), d.ETag
		if a := addr(d.IPPrefix); a.IsValid() {
			r.Prefix, _ = a.Prefix(int(d.IPPrefixLength))
		}
		r.Gateway = addr(d.GWIPAddress)
		if r.Gateway.IsValid() && r.Gateway.IsUnspecified() {
			r.Gateway = netip.Addr{}
		}
		r.Labels = []uint32{d.Label}
	}
	return r, true
}

func rdString(rd bgp.RouteDistinguisherInterface) string {
	if rd == nil {
		return ""
	}
	return rd.String()
}

var bgpMarker = bytes.Repeat([]byte{0xff}, 16)

type streamKey struct {
	point    string
	depth    int
	src, dst netip.AddrPort
}

// tcpStream reassembles one direction of a TCP connection enough to cut it
// into BGP messages.
type tcpStream struct {
	started bool
	next    uint32 // next expected sequence number
	buf     []byte
}

// feed adds a segment and returns the BGP messages it completes.
func (s *tcpStream) feed(t *TCP, payload []byte) ([]*BGPMessage, error) {
	var gapErr error
	if t.SYN {
		s.started, s.next, s.buf = true, t.Seq+1, nil
		return nil, nil
	}
	if len(payload) == 0 {
		return nil, nil
	}
	switch {
	case !s.started:
		s.started = true
		s.buf = append(s.buf[:0], payload...)
	case t.Seq == s.next:
		s.buf = append(s.buf, payload...)
	case int32(t.Seq-s.next) < 0: // retransmission, maybe partly new
		off := s.next - t.Seq
		if int(off) >= len(payload) {
			return nil, nil
		}
		s.buf = append(s.buf, payload[off:]...)
	default: // bytes were not captured: start again at the next marker
		gapErr = fmt.Errorf("bgp: %d bytes missing before seq %d, resynchronised", t.Seq-s.next, t.Seq)
		s.buf = append(s.buf[:0], payload...)
	}
	s.next = t.Seq + uint32(len(payload))
	msgs := s.cut()
	return msgs, gapErr
}

// cut takes complete messages off the front of the buffer.
func (s *tcpStream) cut() []*BGPMessage {
	var out []*BGPMessage
	for {
		if i := bytes.Index(s.buf, bgpMarker); i != 0 {
			if i < 0 {
				// Keep a tail that could be the start of a marker.
				if len(s.buf) > 15 {
					s.buf = append(s.buf[:0], s.buf[len(s.buf)-15:]...)
				}
				return out
			}
			s.buf = s.buf[i:]
		}
		if len(s.buf) < bgp.BGP_HEADER_LENGTH {
			return out
		}
		n := int(binary.BigEndian.Uint16(s.buf[16:18]))
		if n < bgp.BGP_HEADER_LENGTH {
			s.buf = s.buf[1:] // not a real header: look for the next marker
			continue
		}
		if len(s.buf) < n {
			return out // wait for the rest (n ≤ 65535, so the buffer stays bounded)
		}
		m := &BGPMessage{Type: s.buf[18], Len: n}
		msg, err := parseBGP(s.buf[:n])
		m.Msg = msg
		if err != nil {
			m.Err = err.Error()
		}
		out = append(out, m)
		s.buf = s.buf[n:]
		if len(s.buf) == 0 {
			s.buf = nil // let the backing array go
		}
	}
}

// SeenRoute is an EVPN route found in a captured BGP UPDATE.
type SeenRoute struct {
	EVPNRoute
	Packet *Packet // the segment that completed the UPDATE
}

// EVPNRoutes lists the EVPN routes in BGP UPDATEs of frames matching the
// filters, in capture order. The same UPDATE captured at two points is
// listed twice; filter by point to avoid that.
func (r *Result) EVPNRoutes(fs ...Filter) []SeenRoute {
	var out []SeenRoute
	for _, p := range r.Frames(fs...) {
		for _, m := range p.BGP {
			for _, rt := range m.EVPN() {
				out = append(out, SeenRoute{EVPNRoute: rt, Packet: p})
			}
		}
	}
	return out
}

// parseBGP is bgp.ParseBGPMessage made safe: gobgp v3.37.0 panics on some
// malformed NLRI (e.g. a MAC/IP route whose IP length overruns the route).
// A panicking message yields no parsed message (a half-decoded one would
// not be trustworthy) and an error.
func parseBGP(b []byte) (msg *bgp.BGPMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, fmt.Errorf("bgp: malformed message (gobgp parser panicked: %v)", r)
		}
	}()
	return bgp.ParseBGPMessage(b)
}
