package bgpguard

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

var rd = bgp.NewRouteDistinguisherTwoOctetAS(65000, 1)

// evpnRoutes are one route of each EVPN type 1-5, as GoBGP encodes them.
func evpnRoutes() []bgp.AddrPrefixInterface {
	esi := bgp.EthernetSegmentIdentifier{Type: bgp.ESI_ARBITRARY, Value: make([]byte, 9)}
	return []bgp.AddrPrefixInterface{
		bgp.NewEVPNEthernetAutoDiscoveryRoute(rd, esi, 0, 100),
		bgp.NewEVPNMacIPAdvertisementRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, "02:00:00:00:00:01", "10.0.0.1", []uint32{100, 200}),
		bgp.NewEVPNMulticastEthernetTagRoute(rd, 0, "192.0.2.1"),
		bgp.NewEVPNEthernetSegmentRoute(rd, esi, "192.0.2.1"),
		bgp.NewEVPNIPPrefixRoute(rd, bgp.EthernetSegmentIdentifier{}, 0, 24, "10.0.0.0", "0.0.0.0", 200),
	}
}

// evpnAttrs are the attributes the agent reads on an EVPN route.
func evpnAttrs(nlri []bgp.AddrPrefixInterface) []bgp.PathAttributeInterface {
	return []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(0),
		bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{65001})}),
		bgp.NewPathAttributeLocalPref(100),
		bgp.NewPathAttributeExtendedCommunities([]bgp.ExtendedCommunityInterface{
			bgp.NewTwoOctetAsSpecificExtended(bgp.EC_SUBTYPE_ROUTE_TARGET, 65000, 100, true),
			bgp.NewEncapExtended(bgp.TUNNEL_TYPE_VXLAN),
			bgp.NewMacMobilityExtended(3, false),
			bgp.NewRoutersMacExtended("02:00:00:00:00:aa"),
		}),
		bgp.NewPathAttributePmsiTunnel(bgp.PMSI_TUNNEL_TYPE_INGRESS_REPL, false, 100, bgp.NewIngressReplTunnelID("192.0.2.1")),
		bgp.NewPathAttributeMpReachNLRI("192.0.2.1", nlri),
	}
}

func serialize(t testing.TB, m *bgp.BGPMessage) []byte {
	t.Helper()
	b, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func evpnUpdate(t testing.TB, nlri ...bgp.AddrPrefixInterface) []byte {
	return serialize(t, bgp.NewBGPUpdateMessage(nil, evpnAttrs(nlri), nil))
}

// rawUpdate builds an UPDATE from attribute bytes and MP_REACH EVPN NLRI bytes.
func rawEVPNUpdate(extra []byte, nlri ...[]byte) []byte {
	mp := []byte{0, 25, 70, 4, 192, 0, 2, 1, 0}
	for _, n := range nlri {
		mp = append(mp, n...)
	}
	attrs := []byte{0x40, 1, 1, 0, 0x40, 2, 0}
	attrs = append(attrs, extra...)
	attrs = append(attrs, attr(flagOptional, bgp.BGP_ATTR_TYPE_MP_REACH_NLRI, mp)...)
	return updateMsg(nil, attrs, nil)
}

// truncatedMACIP is a MAC/IP route of length 18 (RD and ESI only): GoBGP
// v3.37.0 indexes past its end.
var truncatedMACIP = append([]byte{2, 18, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1}, make([]byte, 10)...)

func nlriBytes(t testing.TB, n bgp.AddrPrefixInterface) []byte {
	b, err := n.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func actions(v Verdict) []Action {
	var out []Action
	for _, p := range v.Problems {
		out = append(out, p.Action)
	}
	return out
}

func TestCleanMessagesPass(t *testing.T) {
	open := serialize(t, bgp.NewBGPOpenMessage(65000, 90, "192.0.2.1", []bgp.OptionParameterInterface{
		bgp.NewOptionParameterCapability([]bgp.ParameterCapabilityInterface{bgp.NewCapMultiProtocol(bgp.RF_EVPN)})}))
	msgs := [][]byte{
		open,
		serialize(t, bgp.NewBGPKeepAliveMessage()),
		serialize(t, bgp.NewBGPNotificationMessage(6, 2, nil)),
		serialize(t, bgp.NewBGPRouteRefreshMessage(25, 0, 70)),
		evpnUpdate(t, evpnRoutes()...),
		serialize(t, bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{bgp.NewPathAttributeMpUnreachNLRI(evpnRoutes())}, nil)),
		serialize(t, bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{
			bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeAsPath(nil), bgp.NewPathAttributeNextHop("192.0.2.1"),
		}, []*bgp.IPAddrPrefix{bgp.NewIPAddrPrefix(24, "10.1.0.0")})),
	}
	for i, m := range msgs {
		v := Check(m)
		if len(v.Problems) != 0 || v.Notify != nil || len(v.Out) != 1 || !bytes.Equal(v.Out[0], m) {
			t.Errorf("message %d (type %d): %+v", i, m[18], v)
		}
	}
}

func TestTruncatedMACIPIsWithdrawn(t *testing.T) {
	msg := rawEVPNUpdate(nil, truncatedMACIP)
	// The positive control: GoBGP's decoder does panic on this one.
	if err := decodes(msg); err == nil {
		t.Fatal("GoBGP decodes the truncated MAC/IP route: the guard's reason to exist is gone, update the docs")
	}
	v := Check(msg)
	if v.Notify != nil || v.Worst() != TreatAsWithdraw || len(v.Out) != 0 {
		t.Fatalf("want treat-as-withdraw with nothing left, got %+v", v)
	}
}

func TestGoodRoutesOfAMalformedUpdateAreWithdrawn(t *testing.T) {
	good := nlriBytes(t, evpnRoutes()[1])
	v := Check(rawEVPNUpdate(nil, good, truncatedMACIP))
	if v.Worst() != TreatAsWithdraw || len(v.Out) != 1 {
		t.Fatalf("got %+v", v)
	}
	m, err := bgp.ParseBGPMessage(v.Out[0])
	if err != nil {
		t.Fatal(err)
	}
	u := m.Body.(*bgp.BGPUpdate)
	if len(u.PathAttributes) != 1 {
		t.Fatalf("want one MP_UNREACH_NLRI, got %v", u.PathAttributes)
	}
	un, ok := u.PathAttributes[0].(*bgp.PathAttributeMpUnreachNLRI)
	if !ok || len(un.Value) != 1 || un.Value[0].String() != evpnRoutes()[1].String() {
		t.Fatalf("want the good route withdrawn, got %v", u.PathAttributes[0])
	}
}

func TestUnknownRouteTypeIsDiscarded(t *testing.T) {
	good := nlriBytes(t, evpnRoutes()[2])
	v := Check(rawEVPNUpdate(nil, []byte{9, 3, 1, 2, 3}, good))
	if v.Worst() != DiscardRoute || len(v.Out) != 1 {
		t.Fatalf("got %+v", v)
	}
	m, err := bgp.ParseBGPMessage(v.Out[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range m.Body.(*bgp.BGPUpdate).PathAttributes {
		if r, ok := a.(*bgp.PathAttributeMpReachNLRI); ok {
			if len(r.Value) != 1 || r.Value[0].String() != evpnRoutes()[2].String() {
				t.Fatalf("want the IMET route alone, got %v", r.Value)
			}
			return
		}
	}
	t.Fatal("MP_REACH_NLRI gone")
}

func TestMalformedEVPNRoutes(t *testing.T) {
	for name, r := range map[string][]byte{
		"type 1 short":        append([]byte{1, 24}, make([]byte, 24)...),
		"type 2 mac length":   func() []byte { b := nlriBytes(t, evpnRoutes()[1]); b[2+22] = 40; return b }(),
		"type 2 ip length":    func() []byte { b := nlriBytes(t, evpnRoutes()[1]); b[2+29] = 24; return b }(),
		"type 3 ip length":    func() []byte { b := nlriBytes(t, evpnRoutes()[2]); b[2+12] = 128; return b }(),
		"type 4 short":        append([]byte{4, 20}, make([]byte, 20)...),
		"type 5 prefix len":   func() []byte { b := nlriBytes(t, evpnRoutes()[4]); b[2+22] = 33; return b }(),
		"type 5 odd length":   append([]byte{5, 40}, make([]byte, 40)...),
		"type 3 ip too short": {3, 13, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 32},
	} {
		v := Check(rawEVPNUpdate(nil, r))
		if v.Worst() != TreatAsWithdraw || v.Notify != nil {
			t.Errorf("%s: got %+v", name, v)
		}
	}
}

func TestHeaderErrorsReset(t *testing.T) {
	ka := serialize(t, bgp.NewBGPKeepAliveMessage())
	cases := map[string]struct {
		msg      []byte
		code, sb uint8
	}{
		"marker":      {func() []byte { b := bytes.Clone(ka); b[3] = 0; return b }(), 1, 1},
		"type":        {func() []byte { b := bytes.Clone(ka); b[18] = 9; return b }(), 1, 3},
		"long ka":     {frame(bgp.BGP_MSG_KEEPALIVE, []byte{0}), 1, 2},
		"short open":  {frame(bgp.BGP_MSG_OPEN, []byte{4}), 1, 2},
		"short upd":   {frame(bgp.BGP_MSG_UPDATE, []byte{0}), 1, 2},
		"withdrawn":   {frame(bgp.BGP_MSG_UPDATE, []byte{0, 200, 0, 0}), 3, 1},
		"attr len":    {func() []byte { b := updateMsg(nil, []byte{0x40, 1, 1, 0}, nil); b[22] = 9; return b }(), 3, 1},
		"attr body":   {updateMsg(nil, []byte{0x40, 1, 5, 0}, nil), 3, 1},
		"nlri":        {updateMsg(nil, []byte{0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 1, 2, 3, 4}, []byte{33, 1, 2, 3, 4, 5}), 3, 10},
		"mp framing":  {rawEVPNUpdate(nil, []byte{2, 40, 1}), 3, 9},
		"mp nexthop":  {updateMsg(nil, attr(flagOptional, 14, []byte{0, 25, 70, 3, 1, 2, 3, 0}), nil), 3, 9},
		"mp twice":    {rawEVPNUpdate(attr(flagOptional, 14, []byte{0, 25, 70, 4, 1, 2, 3, 4, 0})), 3, 1},
		"mp truncate": {updateMsg(nil, attr(flagOptional, 14, []byte{0, 25, 70, 9}), nil), 3, 9},
	}
	for name, c := range cases {
		var v Verdict
		if n, hv, ok := checkHeader(c.msg[:headerLen]); !ok {
			v = hv
		} else if n != len(c.msg) {
			// the test's truncated message: Check sees the length mismatch
			v = Check(c.msg)
		} else {
			v = Check(c.msg)
		}
		if v.Notify == nil || v.Worst() != SessionReset || len(v.Out) != 0 {
			t.Errorf("%s: want a reset, got %+v", name, v)
			continue
		}
		if v.Notify[19] != c.code || v.Notify[20] != c.sb {
			t.Errorf("%s: NOTIFICATION %d/%d, want %d/%d (%v)", name, v.Notify[19], v.Notify[20], c.code, c.sb, v.Problems)
		}
		if _, err := bgp.ParseBGPMessage(v.Notify); err != nil {
			t.Errorf("%s: our NOTIFICATION does not parse: %v", name, err)
		}
	}
}

func TestAttributeErrors(t *testing.T) {
	good := nlriBytes(t, evpnRoutes()[1])
	cases := map[string]struct {
		extra []byte
		want  Action
	}{
		"ext community length 7": {attr(flagOptional|flagTransitive, 16, make([]byte, 7)), TreatAsWithdraw},
		"pmsi short":             {attr(flagOptional|flagTransitive, 22, []byte{0, 6, 0, 0, 1, 1}), TreatAsWithdraw},
		"local pref length 3":    {attr(flagTransitive, 5, []byte{0, 0, 1}), TreatAsWithdraw},
		"med flags":              {attr(flagTransitive, 4, []byte{0, 0, 0, 1}), TreatAsWithdraw},
		"communities length 5":   {attr(flagOptional|flagTransitive, 8, make([]byte, 5)), TreatAsWithdraw},
		"atomic aggregate len 1": {attr(flagTransitive, 6, []byte{1}), DiscardAttribute},
		"aggregator len 5":       {attr(flagOptional|flagTransitive, 7, make([]byte, 5)), DiscardAttribute},
		"as4 path bad segment":   {attr(flagOptional|flagTransitive, 17, []byte{7, 1, 0, 0, 0, 1}), DiscardAttribute},
		"origin twice":           {[]byte{0x40, 1, 1, 0}, DiscardAttribute},
	}
	for name, c := range cases {
		msg := rawEVPNUpdate(c.extra, good)
		v := Check(msg)
		if v.Worst() != c.want || v.Notify != nil {
			t.Errorf("%s: want %v, got %+v", name, c.want, v)
			continue
		}
		if c.want == DiscardAttribute {
			if len(v.Out) != 1 || len(v.Out[0]) != len(msg)-len(c.extra) {
				t.Errorf("%s: the attribute is still there: %x", name, v.Out)
			}
			if w := Check(v.Out[0]); len(w.Problems) != 0 {
				t.Errorf("%s: the rewritten UPDATE is not clean: %+v", name, w.Problems)
			}
		}
	}
	// A bad AS_PATH and a missing ORIGIN, on plain IPv4 routes: withdrawn.
	nlri := []byte{24, 10, 1, 0}
	for name, attrs := range map[string][]byte{
		"as path":   {0x40, 1, 1, 0, 0x40, 2, 3, 2, 5, 0, 0x40, 3, 4, 192, 0, 2, 1},
		"no origin": {0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1},
		"nh zero":   {0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 0, 0, 0, 0},
	} {
		v := Check(updateMsg(nil, attrs, nlri))
		if v.Worst() != TreatAsWithdraw || len(v.Out) != 1 {
			t.Errorf("%s: got %+v", name, v)
			continue
		}
		m, err := bgp.ParseBGPMessage(v.Out[0])
		if err != nil {
			t.Fatal(err)
		}
		u := m.Body.(*bgp.BGPUpdate)
		if len(u.WithdrawnRoutes) != 1 || u.WithdrawnRoutes[0].String() != "10.1.0.0/24" || len(u.NLRI) != 0 {
			t.Errorf("%s: want 10.1.0.0/24 withdrawn, got %v", name, m.Body)
		}
	}
}

func TestNextHopSelf(t *testing.T) {
	m := serialize(t, bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeAsPath(nil), bgp.NewPathAttributeNextHop(InnerAddr),
	}, []*bgp.IPAddrPrefix{bgp.NewIPAddrPrefix(24, "10.1.0.0")}))
	nextHopSelf(m, netip.MustParseAddr("192.0.2.7"))
	if !bytes.Contains(m, []byte{0x40, 3, 4, 192, 0, 2, 7}) {
		t.Errorf("IPv4 next hop not rewritten: %x", m)
	}
	m6 := serialize(t, bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{
		bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeAsPath(nil),
		bgp.NewPathAttributeMpReachNLRI(InnerAddr, []bgp.AddrPrefixInterface{bgp.NewIPv6AddrPrefix(64, "2001:db8::")}),
	}, nil))
	local := netip.MustParseAddr("2001:db8:9::1")
	nextHopSelf(m6, local)
	p, err := bgp.ParseBGPMessage(m6)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Body.(*bgp.BGPUpdate).PathAttributes {
		if r, ok := a.(*bgp.PathAttributeMpReachNLRI); ok && r.Nexthop.String() != local.String() {
			t.Errorf("IPv6 next hop %v, want %v", r.Nexthop, local)
		}
	}
	// Another next hop is left alone.
	other := serialize(t, bgp.NewBGPUpdateMessage(nil, evpnAttrs(evpnRoutes()), nil))
	before := bytes.Clone(other)
	nextHopSelf(other, netip.MustParseAddr("192.0.2.7"))
	if !bytes.Equal(before, other) {
		t.Error("an EVPN next hop was rewritten")
	}
}

// FuzzCheck feeds random and mutated messages (UPDATEs carrying EVPN routes
// of types 1-5 and the attributes the agent reads) to the receive path:
// Check must never panic, and whatever it passes on must decode in GoBGP
// and pass Check again unchanged.
func FuzzCheck(f *testing.F) {
	for _, r := range evpnRoutes() {
		f.Add(evpnUpdate(f, r)[headerLen:], true)
	}
	f.Add(evpnUpdate(f, evpnRoutes()...)[headerLen:], true)
	f.Add(rawEVPNUpdate(nil, truncatedMACIP)[headerLen:], true)
	f.Add(serialize(f, bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{bgp.NewPathAttributeMpUnreachNLRI(evpnRoutes())}, nil))[headerLen:], true)
	f.Add(serialize(f, bgp.NewBGPOpenMessage(65000, 90, "192.0.2.1", nil)), false)
	f.Add(serialize(f, bgp.NewBGPKeepAliveMessage()), false)
	f.Fuzz(func(t *testing.T, data []byte, asUpdate bool) {
		msg := data
		if asUpdate {
			if len(data)+headerLen > maxMsgLen {
				return
			}
			msg = frame(bgp.BGP_MSG_UPDATE, data)
		} else if len(msg) >= headerLen {
			binary.BigEndian.PutUint16(msg[16:], uint16(len(msg)))
		}
		v := Check(msg)
		if (v.Notify != nil) != (v.Worst() == SessionReset) {
			t.Fatalf("NOTIFICATION %x with problems %v", v.Notify, v.Problems)
		}
		for _, m := range v.Out {
			if err := decodes(m); err != nil {
				t.Fatalf("passed on a message GoBGP cannot take: %v", err)
			}
			w := Check(m)
			if len(w.Problems) != 0 || len(w.Out) != 1 || !bytes.Equal(w.Out[0], m) {
				t.Fatalf("passed on %x, which is not clean: %+v", m, w.Problems)
			}
		}
	})
}
