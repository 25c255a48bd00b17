package evpn

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// Route types this agent speaks: EVPN types 2, 3 and 5, and plain
// IPv4/IPv6 unicast (0) for the zone subnets an exit node announces to its
// unicast peers (FRR's `import vrf` in the default instance).
const (
	TypeUnicast = 0
	TypeMACIP   = 2
	TypeIMET    = 3
	TypePrefix  = 5
)

// Route is one EVPN route in a form the agent reasons about, decoded from
// (or encoded into) GoBGP's wire structures.
type Route struct {
	Type   uint8        `json:"type"`
	RD     string       `json:"rd"`
	MAC    string       `json:"mac,omitempty"`
	IP     netip.Addr   `json:"ip,omitzero"` // type 2 IP; type 3 originator
	Prefix netip.Prefix `json:"prefix,omitzero"`
	// VNI is label 1 of a type 2, the PMSI label of a type 3, the label of
	// a type 5 (the L3VNI).
	VNI uint32 `json:"vni"`
	// L3VNI is label 2 of a type 2 (symmetric IRB), 0 none.
	L3VNI     uint32     `json:"l3vni,omitempty"`
	RTs       []string   `json:"rts"`
	NextHop   netip.Addr `json:"next_hop"`
	Seq       uint32     `json:"seq"`
	HasSeq    bool       `json:"has_seq,omitempty"`
	Sticky    bool       `json:"sticky,omitempty"`
	RouterMAC string     `json:"router_mac,omitempty"`
	DefaultGW bool       `json:"default_gw,omitempty"`
	MED       uint32     `json:"med,omitempty"`
	// Peer is the neighbour the route came from; "" for a local route.
	Peer string `json:"peer,omitempty"`
	Best bool   `json:"best"`
	// Key identifies the NLRI (withdrawals carry the same key).
	Key string `json:"key"`
}

// Local tells a route this node originated.
func (r *Route) Local() bool { return r.Peer == "" }

// parseRT turns "AS:N" or "IP:N" into a route-target extended community.
func parseRT(s string) (bgp.ExtendedCommunityInterface, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return nil, fmt.Errorf("want ASN:NN or IP:NN")
	}
	admin, local := s[:i], s[i+1:]
	if ip, err := netip.ParseAddr(admin); err == nil {
		if !ip.Is4() {
			return nil, fmt.Errorf("route target address must be IPv4")
		}
		n, err := strconv.ParseUint(local, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("local part: %w", err)
		}
		return bgp.NewIPv4AddressSpecificExtended(bgp.EC_SUBTYPE_ROUTE_TARGET, admin, uint16(n), true), nil
	}
	as, err := strconv.ParseUint(admin, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("AS part: %w", err)
	}
	if as > 0xffff {
		n, err := strconv.ParseUint(local, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("local part: %w", err)
		}
		return bgp.NewFourOctetAsSpecificExtended(bgp.EC_SUBTYPE_ROUTE_TARGET, uint32(as), uint16(n), true), nil
	}
	n, err := strconv.ParseUint(local, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("local part: %w", err)
	}
	return bgp.NewTwoOctetAsSpecificExtended(bgp.EC_SUBTYPE_ROUTE_TARGET, uint16(as), uint32(n), true), nil
}

// rtString is the canonical text of a route target ("" when ec is not one).
func rtString(ec bgp.ExtendedCommunityInterface) string {
	switch e := ec.(type) {
	case *bgp.TwoOctetAsSpecificExtended:
		if e.SubType == bgp.EC_SUBTYPE_ROUTE_TARGET {
			return fmt.Sprintf("%d:%d", e.AS, e.LocalAdmin)
		}
	case *bgp.FourOctetAsSpecificExtended:
		if e.SubType == bgp.EC_SUBTYPE_ROUTE_TARGET {
			return fmt.Sprintf("%d:%d", e.AS, e.LocalAdmin)
		}
	case *bgp.IPv4AddressSpecificExtended:
		if e.SubType == bgp.EC_SUBTYPE_ROUTE_TARGET {
			return fmt.Sprintf("%s:%d", e.IPv4, e.LocalAdmin)
		}
	}
	return ""
}

// rtMatch reports whether any of have matches any of want. A want of the
// form "*:N" matches any AS, as FRR's wildcard import does.
func rtMatch(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
			if strings.HasPrefix(w, "*:") {
				if i := strings.LastIndexByte(h, ':'); i >= 0 && h[i:] == w[1:] {
					return true
				}
			}
		}
	}
	return false
}

// nlri builds the GoBGP NLRI of r.
func (r *Route) nlri() (bgp.AddrPrefixInterface, error) {
	if r.Type == TypeUnicast {
		if r.Prefix.Addr().Is4() {
			return bgp.NewIPAddrPrefix(uint8(r.Prefix.Bits()), r.Prefix.Addr().String()), nil
		}
		return bgp.NewIPv6AddrPrefix(uint8(r.Prefix.Bits()), r.Prefix.Addr().String()), nil
	}
	rd, err := bgp.ParseRouteDistinguisher(r.RD)
	if err != nil {
		return nil, fmt.Errorf("rd %q: %w", r.RD, err)
	}
	switch r.Type {
	case TypeMACIP:
		ip := ""
		if r.IP.IsValid() {
			ip = r.IP.String()
		}
		labels := []uint32{r.VNI}
		if r.L3VNI != 0 && r.IP.IsValid() {
			labels = append(labels, r.L3VNI)
		}
		return bgp.NewEVPNMacIPAdvertisementRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, r.MAC, ip, labels), nil
	case TypeIMET:
		return bgp.NewEVPNMulticastEthernetTagRoute(rd, 0, r.IP.String()), nil
	case TypePrefix:
		gw := "0.0.0.0"
		if r.Prefix.Addr().Is6() {
			gw = "::"
		}
		return bgp.NewEVPNIPPrefixRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, uint8(r.Prefix.Bits()), r.Prefix.Addr().String(), gw, r.VNI), nil
	}
	return nil, fmt.Errorf("unsupported route type %d", r.Type)
}

// toPath encodes r as a GoBGP path (an advertisement, or a withdrawal).
func (r *Route) toPath(withdraw bool) (*api.Path, error) {
	n, err := r.nlri()
	if err != nil {
		return nil, err
	}
	if r.Type == TypeUnicast {
		// The next hop is left unspecified: GoBGP puts the session's
		// local address there, as bgpd does for imported VRF routes.
		nh := "0.0.0.0"
		if r.Prefix.Addr().Is6() {
			nh = "::"
		}
		attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_INCOMPLETE)}
		if r.Prefix.Addr().Is4() {
			attrs = append(attrs, bgp.NewPathAttributeNextHop(nh))
		} else {
			attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI(nh, []bgp.AddrPrefixInterface{n}))
		}
		return apiutil.NewPath(n, withdraw, attrs, time.Now())
	}
	if withdraw {
		// A withdrawal is the NLRI alone: GoBGP checks the MAC mobility
		// sequence of whatever it is given, which a stale one would fail.
		attrs := []bgp.PathAttributeInterface{
			bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP),
			bgp.NewPathAttributeMpReachNLRI(r.NextHop.String(), []bgp.AddrPrefixInterface{n}),
		}
		return apiutil.NewPath(n, true, attrs, time.Now())
	}
	var ecs []bgp.ExtendedCommunityInterface
	for _, s := range r.RTs {
		ec, err := parseRT(s)
		if err != nil {
			return nil, fmt.Errorf("route target %q: %w", s, err)
		}
		ecs = append(ecs, ec)
	}
	ecs = append(ecs, bgp.NewEncapExtended(bgp.TUNNEL_TYPE_VXLAN))
	if r.HasSeq || r.Sticky {
		ecs = append(ecs, bgp.NewMacMobilityExtended(r.Seq, r.Sticky))
	}
	if r.RouterMAC != "" {
		ecs = append(ecs, bgp.NewRoutersMacExtended(r.RouterMAC))
	}
	if r.DefaultGW {
		ecs = append(ecs, bgp.NewDefaultGatewayExtended())
	}
	attrs := []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP),
		bgp.NewPathAttributeMpReachNLRI(r.NextHop.String(), []bgp.AddrPrefixInterface{n}),
		bgp.NewPathAttributeExtendedCommunities(ecs),
	}
	if r.MED != 0 {
		attrs = append(attrs, bgp.NewPathAttributeMultiExitDisc(r.MED))
	}
	if r.Type == TypeIMET {
		attrs = append(attrs, bgp.NewPathAttributePmsiTunnel(bgp.PMSI_TUNNEL_TYPE_INGRESS_REPL, false, r.VNI,
			&bgp.IngressReplTunnelID{Value: net.IP(r.NextHop.AsSlice())}))
	}
	return apiutil.NewPath(n, withdraw, attrs, time.Now())
}

// routeFromPath decodes a GoBGP path. ok is false for paths that are not
// EVPN routes of a type this agent uses.
func routeFromPath(p *api.Path) (r Route, ok bool, err error) {
	n, err := apiutil.GetNativeNlri(p)
	if err != nil {
		return r, false, fmt.Errorf("decode nlri: %w", err)
	}
	r.Key = n.String()
	r.Best = p.Best
	if nip, err := netip.ParseAddr(p.NeighborIp); err == nil {
		r.Peer = nip.String()
	}
	var routeData bgp.EVPNRouteTypeInterface
	switch n := n.(type) {
	case *bgp.EVPNNLRI:
		routeData = n.RouteTypeData
	case *bgp.IPAddrPrefix:
		r.Type, r.Prefix = TypeUnicast, netip.PrefixFrom(addrFrom(n.Prefix), int(n.Length)).Masked()
	case *bgp.IPv6AddrPrefix:
		r.Type, r.Prefix = TypeUnicast, netip.PrefixFrom(addrFrom(n.Prefix), int(n.Length)).Masked()
	default:
		return r, false, nil
	}
	switch d := routeData.(type) {
	case nil: // unicast
	case *bgp.EVPNMacIPAdvertisementRoute:
		r.Type = TypeMACIP
		r.RD = d.RD.String()
		r.MAC = d.MacAddress.String()
		if len(d.IPAddress) > 0 && !d.IPAddress.IsUnspecified() {
			r.IP = addrFrom(d.IPAddress)
		}
		if len(d.Labels) > 0 {
			r.VNI = d.Labels[0]
		}
		if len(d.Labels) > 1 {
			r.L3VNI = d.Labels[1]
		}
	case *bgp.EVPNMulticastEthernetTagRoute:
		r.Type = TypeIMET
		r.RD = d.RD.String()
		r.IP = addrFrom(d.IPAddress)
	case *bgp.EVPNIPPrefixRoute:
		r.Type = TypePrefix
		r.RD = d.RD.String()
		r.Prefix = netip.PrefixFrom(addrFrom(d.IPPrefix), int(d.IPPrefixLength)).Masked()
		r.VNI = d.Label
	default:
		return r, false, nil
	}
	if p.IsWithdraw {
		return r, true, nil
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return r, false, fmt.Errorf("decode attributes of %s: %w", r.Key, err)
	}
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			r.NextHop = addrFrom(a.Nexthop)
		case *bgp.PathAttributeNextHop:
			if !r.NextHop.IsValid() {
				r.NextHop = addrFrom(a.Value)
			}
		case *bgp.PathAttributeMultiExitDisc:
			r.MED = a.Value
		case *bgp.PathAttributePmsiTunnel:
			if r.Type == TypeIMET {
				r.VNI = a.Label
			}
		case *bgp.PathAttributeExtendedCommunities:
			for _, ec := range a.Value {
				if s := rtString(ec); s != "" {
					r.RTs = append(r.RTs, s)
					continue
				}
				switch e := ec.(type) {
				case *bgp.MacMobilityExtended:
					r.Seq, r.HasSeq, r.Sticky = e.Sequence, true, e.IsSticky
				case *bgp.RouterMacExtended:
					r.RouterMAC = e.Mac.String()
				case *bgp.DefaultGatewayExtended:
					r.DefaultGW = true
				}
			}
		}
	}
	return r, true, nil
}

func addrFrom(ip net.IP) netip.Addr {
	if v4 := ip.To4(); v4 != nil {
		a, _ := netip.AddrFromSlice(v4)
		return a
	}
	a, _ := netip.AddrFromSlice(ip)
	return a
}
