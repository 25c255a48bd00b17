package bgpguard

import (
	"encoding/binary"
	"fmt"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// Action is what the guard did with a received message.
type Action int

// Actions, from mildest to hardest (RFC 7606 section 2).
const (
	// DiscardRoute drops one NLRI of an unknown EVPN route type
	// (RFC 7606 section 5.4) or an unusable withdrawal.
	DiscardRoute Action = iota + 1
	// DiscardAttribute drops one attribute and keeps the routes.
	DiscardAttribute
	// TreatAsWithdraw turns every route of the UPDATE into a withdrawal.
	TreatAsWithdraw
	// SessionReset answers with a NOTIFICATION and closes the session.
	SessionReset
)

func (a Action) String() string {
	switch a {
	case DiscardRoute:
		return "route-discard"
	case DiscardAttribute:
		return "attribute-discard"
	case TreatAsWithdraw:
		return "treat-as-withdraw"
	case SessionReset:
		return "session-reset"
	}
	return "none"
}

// Problem is one error found in a message.
type Problem struct {
	Action Action
	Reason string
}

// Verdict is the result of checking one received message.
type Verdict struct {
	// Out are the messages to pass on to GoBGP (the original, a rewritten
	// UPDATE, or withdrawals); empty when nothing is left or on reset.
	Out [][]byte
	// Notify is the NOTIFICATION for the peer when the session is reset.
	Notify   []byte
	Problems []Problem
}

// Worst is the hardest action taken (0 when the message was clean).
func (v *Verdict) Worst() Action {
	var w Action
	for _, p := range v.Problems {
		w = max(w, p.Action)
	}
	return w
}

func (v *Verdict) add(a Action, format string, args ...any) {
	v.Problems = append(v.Problems, Problem{Action: a, Reason: fmt.Sprintf(format, args...)})
}

func (v *Verdict) reset(code, sub uint8, data []byte, format string, args ...any) Verdict {
	v.add(SessionReset, format, args...)
	v.Notify = notification(code, sub, data)
	v.Out = nil
	return *v
}

const (
	headerLen = 19
	maxMsgLen = 4096 // no extended messages (RFC 8654) are negotiated
)

// Notification codes and subcodes (RFC 4271 section 4.5, 6).
const (
	errHeader           = 1
	errOpen             = 2
	errUpdate           = 3
	errHoldTimerExpired = 4
	subNotSync          = 1
	subBadLength        = 2
	subBadType          = 3
	subAttrList         = 1
	subOptionalAttr     = 9
	subInvalidNet       = 10
	subUnspecificErr    = 0
)

// checkHeader validates the 19-byte header (RFC 4271 section 6.1) and
// returns the message length, or a NOTIFICATION.
func checkHeader(h []byte) (int, Verdict, bool) {
	var v Verdict
	for _, b := range h[:16] {
		if b != 0xff {
			return 0, v.reset(errHeader, subNotSync, nil, "header marker is not all ones"), false
		}
	}
	n := int(binary.BigEndian.Uint16(h[16:18]))
	typ := h[18]
	bad := func(why string) (int, Verdict, bool) {
		return 0, v.reset(errHeader, subBadLength, h[16:18], "bad message length %d: %s", n, why), false
	}
	if n < headerLen || n > maxMsgLen {
		return bad("outside 19..4096")
	}
	switch typ {
	case bgp.BGP_MSG_OPEN:
		if n < 29 {
			return bad("OPEN shorter than 29")
		}
	case bgp.BGP_MSG_UPDATE:
		if n < 23 {
			return bad("UPDATE shorter than 23")
		}
	case bgp.BGP_MSG_NOTIFICATION:
		if n < 21 {
			return bad("NOTIFICATION shorter than 21")
		}
	case bgp.BGP_MSG_KEEPALIVE:
		if n != 19 {
			return bad("KEEPALIVE is not 19")
		}
	case bgp.BGP_MSG_ROUTE_REFRESH:
		if n != 23 {
			return bad("ROUTE-REFRESH is not 23")
		}
	default:
		return 0, v.reset(errHeader, subBadType, []byte{typ}, "unknown message type %d", typ), false
	}
	return n, v, true
}

// Check validates one complete message (header and body) received from a
// peer and decides what GoBGP gets. It never panics: GoBGP's own decoder
// runs last under recover, so a message it cannot take resets the session
// instead of killing the process.
func Check(msg []byte) (v Verdict) {
	if len(msg) < headerLen {
		return v.reset(errHeader, subBadLength, nil, "message shorter than its header")
	}
	n, hv, ok := checkHeader(msg[:headerLen])
	if !ok {
		return hv
	}
	if n != len(msg) {
		return v.reset(errHeader, subBadLength, msg[16:18], "length field %d but %d bytes", n, len(msg))
	}
	if msg[18] == bgp.BGP_MSG_UPDATE {
		v = checkUpdate(msg)
		if v.Notify != nil {
			return v
		}
	} else {
		v.Out = [][]byte{msg}
	}
	for _, m := range v.Out {
		if err := decodes(m); err != nil {
			code, sub := uint8(errUpdate), uint8(subAttrList)
			if m[18] == bgp.BGP_MSG_OPEN {
				code, sub = errOpen, subUnspecificErr
			}
			return v.reset(code, sub, nil, "%v", err)
		}
	}
	return v
}

// decodes runs GoBGP's parser on m and reports a panic as an error. An
// ordinary decode error is GoBGP's to handle (it answers per RFC 7606).
func decodes(m []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("GoBGP's decoder fails on this message: %v", r)
		}
	}()
	_, _ = bgp.ParseBGPMessage(m)
	return nil
}

// notification builds a NOTIFICATION message.
func notification(code, sub uint8, data []byte) []byte {
	body := append([]byte{code, sub}, data...)
	return frame(bgp.BGP_MSG_NOTIFICATION, body)
}

func frame(typ uint8, body []byte) []byte {
	m := make([]byte, 16, headerLen+len(body))
	for i := range m {
		m[i] = 0xff
	}
	m = binary.BigEndian.AppendUint16(m, uint16(headerLen+len(body)))
	m = append(m, typ)
	return append(m, body...)
}

// attribute is one path attribute as found on the wire.
type attribute struct {
	flags uint8
	typ   bgp.BGPAttrType
	value []byte
	raw   []byte // flags, type, length and value
}

const (
	flagOptional   = 0x80
	flagTransitive = 0x40
	flagExtLen     = 0x10
)

// update is an UPDATE split into its parts.
type update struct {
	withdrawn, nlri []byte
	attrs           []attribute
}

// splitUpdate walks the UPDATE's framing. Any inconsistency there means the
// routes cannot be located reliably: session reset (RFC 7606 section 4).
func splitUpdate(msg []byte, v *Verdict) (*update, bool) {
	b := msg[headerLen:]
	wl := int(binary.BigEndian.Uint16(b))
	if 2+wl+2 > len(b) {
		v.reset(errUpdate, subAttrList, nil, "withdrawn routes length %d overruns the UPDATE", wl)
		return nil, false
	}
	u := &update{withdrawn: b[2 : 2+wl]}
	al := int(binary.BigEndian.Uint16(b[2+wl:]))
	if 4+wl+al > len(b) {
		v.reset(errUpdate, subAttrList, nil, "total path attribute length %d overruns the UPDATE", al)
		return nil, false
	}
	a := b[4+wl : 4+wl+al]
	u.nlri = b[4+wl+al:]
	for len(a) > 0 {
		if len(a) < 3 {
			v.reset(errUpdate, subAttrList, nil, "truncated attribute header")
			return nil, false
		}
		flags, typ := a[0], a[1]
		hl, l := 3, int(a[2])
		if flags&flagExtLen != 0 {
			if len(a) < 4 {
				v.reset(errUpdate, subAttrList, nil, "truncated attribute header (type %d)", typ)
				return nil, false
			}
			hl, l = 4, int(binary.BigEndian.Uint16(a[2:]))
		}
		if hl+l > len(a) {
			v.reset(errUpdate, subAttrList, nil, "attribute type %d length %d overruns the attributes", typ, l)
			return nil, false
		}
		u.attrs = append(u.attrs, attribute{flags: flags, typ: bgp.BGPAttrType(typ), value: a[hl : hl+l], raw: a[:hl+l]})
		a = a[hl+l:]
	}
	return u, true
}

// prefixesOK walks plain IPv4 or IPv6 prefixes (length byte, then bytes).
func prefixesOK(b []byte, maxBits int) (int, bool) {
	n := 0
	for len(b) > 0 {
		bits := int(b[0])
		nb := (bits + 7) / 8
		if bits > maxBits || 1+nb > len(b) {
			return n, false
		}
		b = b[1+nb:]
		n++
	}
	return n, true
}

// evpnRoute is one EVPN NLRI: route type, then the route.
type evpnRoute struct {
	typ uint8
	raw []byte // type, length, route
}

// splitEVPN frames the EVPN NLRI of an MP attribute (RFC 7432 section 7).
func splitEVPN(b []byte) ([]evpnRoute, bool) {
	var out []evpnRoute
	for len(b) > 0 {
		if len(b) < 2 || 2+int(b[1]) > len(b) {
			return nil, false
		}
		out = append(out, evpnRoute{typ: b[0], raw: b[:2+int(b[1])]})
		b = b[2+int(b[1]):]
	}
	return out, true
}

// evpnProblem checks the contents of a framed EVPN route against the
// layouts of RFC 7432 section 7 and RFC 9136. known is false for route
// types this speaker does not know.
func evpnProblem(r evpnRoute) (reason string, known bool) {
	d := r.raw[2:]
	ipLen := func(bits byte) (int, bool) {
		switch bits {
		case 32:
			return 4, true
		case 128:
			return 16, true
		}
		return 0, false
	}
	switch r.typ {
	case 1: // Ethernet A-D: RD, ESI, tag, label
		if len(d) != 25 {
			return fmt.Sprintf("Ethernet A-D route of length %d (want 25)", len(d)), true
		}
	case 2: // MAC/IP: RD, ESI, tag, MAC length, MAC, IP length, IP, 1-2 labels
		if len(d) < 33 {
			return fmt.Sprintf("MAC/IP route of length %d (at least 33)", len(d)), true
		}
		if d[22] != 48 {
			return fmt.Sprintf("MAC/IP route with MAC length %d", d[22]), true
		}
		il := 0
		if d[29] != 0 {
			var ok bool
			if il, ok = ipLen(d[29]); !ok {
				return fmt.Sprintf("MAC/IP route with IP length %d", d[29]), true
			}
		}
		if rest := len(d) - 30 - il; rest != 3 && rest != 6 {
			return fmt.Sprintf("MAC/IP route of length %d with a %d-bit IP", len(d), d[29]), true
		}
	case 3: // IMET: RD, tag, IP length, IP
		if len(d) < 13 {
			return fmt.Sprintf("IMET route of length %d (at least 17)", len(d)), true
		}
		il, ok := ipLen(d[12])
		if !ok || len(d) != 13+il {
			return fmt.Sprintf("IMET route of length %d with IP length %d", len(d), d[12]), true
		}
	case 4: // Ethernet segment: RD, ESI, IP length, IP
		if len(d) < 19 {
			return fmt.Sprintf("Ethernet segment route of length %d (at least 23)", len(d)), true
		}
		il, ok := ipLen(d[18])
		if !ok || len(d) != 19+il {
			return fmt.Sprintf("Ethernet segment route of length %d with IP length %d", len(d), d[18]), true
		}
	case 5: // IP prefix: RD, ESI, tag, prefix length, prefix, gateway, label
		switch len(d) {
		case 34:
			if d[22] > 32 {
				return fmt.Sprintf("IPv4 prefix route with prefix length %d", d[22]), true
			}
		case 58:
			if d[22] > 128 {
				return fmt.Sprintf("IPv6 prefix route with prefix length %d", d[22]), true
			}
		default:
			return fmt.Sprintf("IP prefix route of length %d (want 34 or 58)", len(d)), true
		}
	default:
		return fmt.Sprintf("unknown EVPN route type %d", r.typ), false
	}
	return "", true
}

// mpFamily is the AFI/SAFI of an MP attribute.
type mpFamily struct {
	afi  uint16
	safi uint8
}

func (f mpFamily) evpn() bool { return f.afi == bgp.AFI_L2VPN && f.safi == bgp.SAFI_EVPN }
func (f mpFamily) unicast() (int, bool) {
	if f.safi != bgp.SAFI_UNICAST {
		return 0, false
	}
	switch f.afi {
	case bgp.AFI_IP:
		return 32, true
	case bgp.AFI_IP6:
		return 128, true
	}
	return 0, false
}

// mpNLRI checks the NLRI of one MP attribute and returns the well-formed
// routes' bytes; ok is false when the list cannot be framed (reset).
func mpNLRI(f mpFamily, b []byte, what string, v *Verdict) (good []byte, bad int, ok bool) {
	if bits, uni := f.unicast(); uni {
		if _, ok := prefixesOK(b, bits); !ok {
			v.reset(errUpdate, subOptionalAttr, nil, "%s: malformed prefix list", what)
			return nil, 0, false
		}
		return b, 0, true
	}
	if !f.evpn() {
		return b, 0, true // not a family we enable; GoBGP refuses it
	}
	routes, ok := splitEVPN(b)
	if !ok {
		v.reset(errUpdate, subOptionalAttr, nil, "%s: EVPN route length overruns the attribute", what)
		return nil, 0, false
	}
	for _, r := range routes {
		if why, known := evpnProblem(r); why != "" {
			if !known {
				v.add(DiscardRoute, "%s: %s", what, why)
				continue
			}
			bad++
			v.add(TreatAsWithdraw, "%s: %s", what, why)
			continue
		}
		good = append(good, r.raw...)
	}
	return good, bad, true
}

// checkUpdate applies RFC 7606 to an UPDATE.
func checkUpdate(msg []byte) Verdict {
	var v Verdict
	u, ok := splitUpdate(msg, &v)
	if !ok {
		return v
	}
	if _, ok := prefixesOK(u.withdrawn, 32); !ok {
		return v.reset(errUpdate, subInvalidNet, nil, "malformed withdrawn routes")
	}
	n4, ok := prefixesOK(u.nlri, 32)
	if !ok {
		return v.reset(errUpdate, subInvalidNet, nil, "malformed NLRI")
	}
	seen := map[bgp.BGPAttrType]bool{}
	drop := map[int]bool{}
	changed := false
	var reach, unreach *mpFamily
	var reachNLRI, unreachNLRI, reachHead []byte
	taw := func(a attribute, format string, args ...any) {
		v.add(TreatAsWithdraw, "attribute %d: "+format, append([]any{a.typ}, args...)...)
	}
	discard := func(i int, a attribute, format string, args ...any) {
		v.add(DiscardAttribute, "attribute %d: "+format, append([]any{a.typ}, args...)...)
		drop[i] = true
		changed = true
	}
	for i, a := range u.attrs {
		if seen[a.typ] {
			if a.typ == bgp.BGP_ATTR_TYPE_MP_REACH_NLRI || a.typ == bgp.BGP_ATTR_TYPE_MP_UNREACH_NLRI {
				return v.reset(errUpdate, subAttrList, nil, "attribute %d repeated", a.typ)
			}
			discard(i, a, "repeated (the first is kept)")
			continue
		}
		seen[a.typ] = true
		l := len(a.value)
		opt, trans := a.flags&flagOptional != 0, a.flags&flagTransitive != 0
		wellKnown := func() bool { return !opt && trans }
		switch a.typ {
		case bgp.BGP_ATTR_TYPE_ORIGIN:
			if !wellKnown() || l != 1 || a.value[0] > 2 {
				taw(a, "ORIGIN malformed (flags %#x, length %d)", a.flags, l)
			}
		case bgp.BGP_ATTR_TYPE_AS_PATH:
			if !wellKnown() || !asPathOK(a.value) {
				taw(a, "AS_PATH malformed")
			}
		case bgp.BGP_ATTR_TYPE_NEXT_HOP:
			if !wellKnown() || l != 4 {
				taw(a, "NEXT_HOP of length %d", l)
			} else if a.value[0] == 0 || a.value[0] == 127 || a.value[0] >= 224 {
				taw(a, "NEXT_HOP %d.%d.%d.%d is not a unicast address", a.value[0], a.value[1], a.value[2], a.value[3])
			}
		case bgp.BGP_ATTR_TYPE_MULTI_EXIT_DISC, bgp.BGP_ATTR_TYPE_ORIGINATOR_ID:
			if !opt || trans || l != 4 {
				taw(a, "length %d or flags %#x wrong", l, a.flags)
			}
		case bgp.BGP_ATTR_TYPE_LOCAL_PREF:
			if !wellKnown() || l != 4 {
				taw(a, "LOCAL_PREF of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_ATOMIC_AGGREGATE:
			if !wellKnown() || l != 0 {
				discard(i, a, "ATOMIC_AGGREGATE of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_AGGREGATOR:
			if !opt || !trans || (l != 6 && l != 8) {
				discard(i, a, "AGGREGATOR of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_AS4_AGGREGATOR:
			if !opt || !trans || l != 8 {
				discard(i, a, "AS4_AGGREGATOR of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_AS4_PATH:
			if !opt || !trans || !as4PathOK(a.value) {
				discard(i, a, "AS4_PATH malformed") // RFC 6793 section 6
			}
		case bgp.BGP_ATTR_TYPE_COMMUNITIES:
			if !opt || !trans || l == 0 || l%4 != 0 {
				taw(a, "COMMUNITIES of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_CLUSTER_LIST:
			if !opt || trans || l == 0 || l%4 != 0 {
				taw(a, "CLUSTER_LIST of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_EXTENDED_COMMUNITIES:
			if !opt || !trans || l == 0 || l%8 != 0 {
				taw(a, "EXTENDED_COMMUNITIES of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_LARGE_COMMUNITY:
			if !opt || !trans || l == 0 || l%12 != 0 {
				taw(a, "LARGE_COMMUNITY of length %d", l)
			}
		case bgp.BGP_ATTR_TYPE_PMSI_TUNNEL:
			if !opt || !trans || !pmsiOK(a.value) {
				taw(a, "PMSI_TUNNEL malformed (length %d)", l)
			}
		case bgp.BGP_ATTR_TYPE_MP_REACH_NLRI:
			// RFC 7606 section 7.11: an MP attribute that cannot be
			// parsed means its routes cannot be located: reset.
			if l < 5 || 4+int(a.value[3])+1 > l {
				return v.reset(errUpdate, subOptionalAttr, nil, "MP_REACH_NLRI of length %d is truncated", l)
			}
			f := mpFamily{binary.BigEndian.Uint16(a.value), a.value[2]}
			nhl := int(a.value[3])
			if f.evpn() || func() bool { _, u := f.unicast(); return u }() {
				if nhl != 4 && nhl != 16 && nhl != 32 {
					return v.reset(errUpdate, subOptionalAttr, nil, "MP_REACH_NLRI next hop of length %d", nhl)
				}
			}
			reach, reachHead = &f, a.value[:4+nhl+1]
			good, _, ok := mpNLRI(f, a.value[4+nhl+1:], "MP_REACH_NLRI", &v)
			if !ok {
				return v
			}
			if len(good) != len(a.value)-(4+nhl+1) {
				changed = true
			}
			reachNLRI = good
		case bgp.BGP_ATTR_TYPE_MP_UNREACH_NLRI:
			if l < 3 {
				return v.reset(errUpdate, subOptionalAttr, nil, "MP_UNREACH_NLRI of length %d is truncated", l)
			}
			f := mpFamily{binary.BigEndian.Uint16(a.value), a.value[2]}
			// A withdrawal that cannot be read withdraws nothing: it is
			// dropped, the rest stays.
			vv := Verdict{}
			good, _, ok := mpNLRI(f, a.value[3:], "MP_UNREACH_NLRI", &vv)
			if !ok {
				v.Problems = append(v.Problems, vv.Problems...)
				v.Notify = vv.Notify
				return v
			}
			for _, p := range vv.Problems {
				v.add(DiscardRoute, "%s (withdrawal dropped)", p.Reason)
			}
			if len(good) != len(a.value)-3 {
				changed = true
			}
			unreach, unreachNLRI = &f, good
		}
	}
	// Missing well-known attributes (RFC 7606 section 3 d).
	if n4 > 0 || (reach != nil && len(reachNLRI) > 0) {
		for _, t := range []bgp.BGPAttrType{bgp.BGP_ATTR_TYPE_ORIGIN, bgp.BGP_ATTR_TYPE_AS_PATH} {
			if !seen[t] {
				v.add(TreatAsWithdraw, "well-known attribute %d missing", t)
			}
		}
		if n4 > 0 && !seen[bgp.BGP_ATTR_TYPE_NEXT_HOP] {
			v.add(TreatAsWithdraw, "NEXT_HOP missing")
		}
	}
	if v.Worst() == TreatAsWithdraw {
		v.Out = withdrawals(u, reach, reachNLRI, unreach, unreachNLRI)
		return v
	}
	if !changed {
		v.Out = [][]byte{msg}
		return v
	}
	// Rebuild without the discarded attributes and routes.
	var attrs []byte
	for i, a := range u.attrs {
		switch {
		case drop[i]:
		case a.typ == bgp.BGP_ATTR_TYPE_MP_REACH_NLRI:
			if len(reachNLRI) > 0 {
				attrs = append(attrs, attr(a.flags, a.typ, append(append([]byte{}, reachHead...), reachNLRI...))...)
			}
		case a.typ == bgp.BGP_ATTR_TYPE_MP_UNREACH_NLRI:
			if len(unreachNLRI) > 0 {
				attrs = append(attrs, attr(a.flags, a.typ, append(append([]byte{}, a.value[:3]...), unreachNLRI...))...)
			}
		default:
			attrs = append(attrs, a.raw...)
		}
	}
	if len(u.withdrawn) == 0 && len(u.nlri) == 0 && len(reachNLRI) == 0 && len(unreachNLRI) == 0 {
		return v // nothing left to say
	}
	v.Out = [][]byte{updateMsg(u.withdrawn, attrs, u.nlri)}
	return v
}

// withdrawals is an UPDATE treated as withdraw: every route it announced or
// withdrew, as withdrawals, one message per family.
func withdrawals(u *update, reach *mpFamily, reachNLRI []byte, unreach *mpFamily, unreachNLRI []byte) [][]byte {
	var out [][]byte
	if w := append(append([]byte{}, u.withdrawn...), u.nlri...); len(w) > 0 {
		out = append(out, updateMsg(w, nil, nil))
	}
	byFam := map[mpFamily][]byte{}
	var order []mpFamily
	for _, m := range []struct {
		f    *mpFamily
		nlri []byte
	}{{unreach, unreachNLRI}, {reach, reachNLRI}} {
		if m.f == nil || len(m.nlri) == 0 {
			continue
		}
		if _, ok := byFam[*m.f]; !ok {
			order = append(order, *m.f)
		}
		byFam[*m.f] = append(byFam[*m.f], m.nlri...)
	}
	for _, f := range order {
		val := binary.BigEndian.AppendUint16(nil, f.afi)
		val = append(val, f.safi)
		val = append(val, byFam[f]...)
		out = append(out, updateMsg(nil, attr(flagOptional, bgp.BGP_ATTR_TYPE_MP_UNREACH_NLRI, val), nil))
	}
	return out
}

// attr encodes one path attribute, with an extended length when needed.
func attr(flags uint8, typ bgp.BGPAttrType, val []byte) []byte {
	if len(val) > 255 {
		b := []byte{flags | flagExtLen, byte(typ)}
		b = binary.BigEndian.AppendUint16(b, uint16(len(val)))
		return append(b, val...)
	}
	return append([]byte{flags &^ flagExtLen, byte(typ), byte(len(val))}, val...)
}

func updateMsg(withdrawn, attrs, nlri []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(withdrawn)))
	b = append(b, withdrawn...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = append(b, attrs...)
	b = append(b, nlri...)
	return frame(bgp.BGP_MSG_UPDATE, b)
}

// asPathOK accepts an AS_PATH that walks cleanly with 4-octet or with
// 2-octet AS numbers (which one was negotiated is GoBGP's business).
func asPathOK(b []byte) bool { return segmentsOK(b, 4) || segmentsOK(b, 2) }

func as4PathOK(b []byte) bool { return segmentsOK(b, 4) }

func segmentsOK(b []byte, asLen int) bool {
	for len(b) > 0 {
		if len(b) < 2 || b[0] < 1 || b[0] > 4 || b[1] == 0 || 2+int(b[1])*asLen > len(b) {
			return false
		}
		b = b[2+int(b[1])*asLen:]
	}
	return true
}

// pmsiOK checks a PMSI tunnel attribute (RFC 6514 section 5): flags, type,
// label, identifier; ingress replication carries an IPv4 or IPv6 address.
func pmsiOK(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if b[1] == 6 { // ingress replication
		return len(b) == 9 || len(b) == 21
	}
	return true
}
