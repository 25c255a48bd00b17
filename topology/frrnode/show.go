package frrnode

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/evpn"
)

// Snapshot asks a node's FRR (vtysh JSON) and the kernel for the same state
// an agent's `show` gives, in the agent's schema, so `sdnlab show` prints
// the same columns and JSON on both engines. vrfNS are the node's VRF
// namespaces (their kernel tables are zebra's, as they are the agent's).
func Snapshot(ctx context.Context, node, ns, dir string, vrfNS []string) (*evpn.Snapshot, error) {
	var sum bgpSummary
	if err := vtyJSON(ctx, ns, dir, "show bgp l2vpn evpn summary json", &sum); err != nil {
		return nil, err
	}
	s := &evpn.Snapshot{Node: node, RouterID: sum.RouterID, ASN: sum.AS, VTEP: sum.RouterID, Synced: true}
	if pid := PID(dir, ns); pid != 0 {
		s.Uptime = processAge(pid)
	}
	var bfd []bfdPeer
	_ = vtyJSON(ctx, ns, dir, "show bfd peers json", &bfd) // bfdd absent: no BFD column
	bfdState := map[string]string{}
	for _, p := range bfd {
		bfdState[p.Peer] = p.Status
	}
	for addr, p := range sum.Peers {
		ps := evpn.PeerStatus{Addr: addr, RemoteAS: p.RemoteAS, State: p.State, Received: p.PfxRcd, BFD: bfdState[addr]}
		if p.State == "Established" {
			up := time.Duration(p.UptimeMsec) * time.Millisecond
			ps.Since = time.Now().Add(-up)
			ps.UpFor = up.Round(time.Second).String()
		}
		s.Peers = append(s.Peers, ps)
		if p.State != "Established" {
			s.Synced = false
		}
	}
	sort.Slice(s.Peers, func(i, j int) bool { return s.Peers[i].Addr < s.Peers[j].Addr })

	var table map[string]json.RawMessage
	if err := vtyJSON(ctx, ns, dir, "show bgp l2vpn evpn route detail json", &table); err != nil {
		return nil, err
	}
	routes, err := routesOf(table)
	if err != nil {
		return nil, err
	}
	s.Routes = routes
	for _, r := range routes {
		if r.Peer == "" && r.Type == evpn.TypeIMET && r.NextHop.IsValid() {
			s.VTEP = r.NextHop.String()
			break
		}
	}

	var macs map[string]macVNI
	if err := vtyJSON(ctx, ns, dir, "show evpn mac vni all json", &macs); err != nil {
		return nil, err
	}
	s.Local, s.Duplicates = localOf(macs, routes)

	for _, n := range append([]string{ns}, vrfNS...) {
		label := n
		if n == ns {
			label = ""
		}
		es, err := kernelOf(n, label)
		if err != nil {
			return nil, err
		}
		s.Kernel = append(s.Kernel, es...)
	}
	sort.Slice(s.Kernel, func(i, j int) bool {
		return s.Kernel[i].Kind+s.Kernel[i].Dev+s.Kernel[i].MAC+s.Kernel[i].IP+s.Kernel[i].Prefix <
			s.Kernel[j].Kind+s.Kernel[j].Dev+s.Kernel[j].MAC+s.Kernel[j].IP+s.Kernel[j].Prefix
	})
	return s, nil
}

func vtyJSON(ctx context.Context, ns, dir, cmd string, v any) error {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := Vtysh(qctx, ns, dir, cmd)
	if err != nil {
		return fmt.Errorf("vtysh -c %q: %w: %s", cmd, err, tail(string(out), 300))
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("vtysh -c %q: not the JSON expected: %w", cmd, err)
	}
	return nil
}

type bgpSummary struct {
	RouterID string `json:"routerId"`
	AS       uint32 `json:"as"`
	Peers    map[string]struct {
		RemoteAS   uint32 `json:"remoteAs"`
		State      string `json:"state"`
		PfxRcd     int    `json:"pfxRcd"`
		UptimeMsec int64  `json:"peerUptimeMsec"`
	} `json:"peers"`
}

type bfdPeer struct {
	Peer   string `json:"peer"`
	Status string `json:"status"`
}

type evpnPath struct {
	VNI   string `json:"vni"` // "L2VNI" or "L2VNI/L3VNI"; a type 5's is the L3VNI
	Valid bool   `json:"valid"`
	Local bool   `json:"local"`
	Best  *struct {
		Overall bool `json:"overall"`
	} `json:"bestpath"`
	ExtCommunity struct {
		String string `json:"string"`
	} `json:"extendedCommunity"`
	Nexthops []struct {
		IP string `json:"ip"`
	} `json:"nexthops"`
	Peer struct {
		PeerID string `json:"peerId"`
	} `json:"peer"`
	Med  uint32 `json:"med"`
	PMSI *struct {
		Label uint32 `json:"label"`
	} `json:"pmsi"`
}

// routesOf reads `show bgp l2vpn evpn route detail json`: RD -> prefix ->
// paths (a list of lists of paths).
func routesOf(table map[string]json.RawMessage) ([]evpn.Route, error) {
	var out []evpn.Route
	for rd, raw := range table {
		var byPrefix map[string]json.RawMessage
		if json.Unmarshal(raw, &byPrefix) != nil {
			continue // the table's scalar fields (numPrefix, ...)
		}
		for pfx, praw := range byPrefix {
			var entry struct {
				Paths [][]evpnPath `json:"paths"`
			}
			if json.Unmarshal(praw, &entry) != nil || len(entry.Paths) == 0 {
				continue
			}
			base, err := parsePrefix(pfx)
			if err != nil {
				return nil, fmt.Errorf("route %s %s: %w", rd, pfx, err)
			}
			for _, group := range entry.Paths {
				for _, p := range group {
					r := base
					r.RD, r.Key = rd, rd+" "+pfx
					l2, l3, _ := strings.Cut(p.VNI, "/")
					if v, err := strconv.ParseUint(l2, 10, 32); err == nil {
						r.VNI = uint32(v)
					}
					if v, err := strconv.ParseUint(l3, 10, 32); err == nil {
						r.L3VNI = uint32(v)
					}
					if r.VNI == 0 && p.PMSI != nil {
						r.VNI = p.PMSI.Label // a received type 3 carries its VNI in the PMSI label
					}
					communities(&r, p.ExtCommunity.String)
					if len(p.Nexthops) > 0 {
						r.NextHop, _ = netip.ParseAddr(p.Nexthops[0].IP)
					}
					if !p.Local && p.Peer.PeerID != "0.0.0.0" {
						r.Peer = p.Peer.PeerID
					}
					r.Best = p.Best != nil && p.Best.Overall
					r.MED = p.Med
					out = append(out, r)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		if out[i].RD != out[j].RD {
			return out[i].RD < out[j].RD
		}
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Peer < out[j].Peer
	})
	return out, nil
}

// parsePrefix reads FRR's EVPN prefix text: [2]:[ET]:[48]:[MAC](:[32]:[IP]),
// [3]:[ET]:[32]:[IP], [5]:[ET]:[LEN]:[IP].
func parsePrefix(s string) (evpn.Route, error) {
	var f []string
	for _, part := range strings.Split(s, "]:[") {
		f = append(f, strings.Trim(part, "[]"))
	}
	var r evpn.Route
	if len(f) < 4 {
		return r, fmt.Errorf("unknown EVPN prefix")
	}
	t, err := strconv.Atoi(f[0])
	if err != nil {
		return r, fmt.Errorf("route type %q", f[0])
	}
	r.Type = uint8(t)
	switch t {
	case evpn.TypeMACIP:
		r.MAC = f[3]
		if len(f) >= 6 {
			r.IP, _ = netip.ParseAddr(f[5])
		}
	case evpn.TypeIMET:
		r.IP, _ = netip.ParseAddr(f[3])
	case evpn.TypePrefix:
		bits, _ := strconv.Atoi(f[2])
		a, err := netip.ParseAddr(f[3])
		if err != nil {
			return r, fmt.Errorf("type 5 prefix %q", f[3])
		}
		r.Prefix = netip.PrefixFrom(a, bits)
	}
	return r, nil
}

// communities reads FRR's extended community text: RT:A:N, Rmac:MAC,
// MM:SEQ[, sticky MAC], "Default Gateway", ET:8.
func communities(r *evpn.Route, s string) {
	f := strings.Fields(s)
	for i := 0; i < len(f); i++ {
		w := f[i]
		switch {
		case strings.HasPrefix(w, "RT:"):
			r.RTs = append(r.RTs, strings.TrimPrefix(w, "RT:"))
		case strings.HasPrefix(w, "Rmac:"):
			r.RouterMAC = strings.TrimPrefix(w, "Rmac:")
		case strings.HasPrefix(w, "MM:"):
			v := strings.TrimSuffix(strings.TrimPrefix(w, "MM:"), ",")
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				r.Seq, r.HasSeq = uint32(n), true
			}
			if i+2 < len(f) && f[i+1] == "sticky" && f[i+2] == "MAC" {
				r.Sticky = true
			}
		case w == "Default" && i+1 < len(f) && f[i+1] == "Gateway":
			r.DefaultGW = true
		}
	}
}

type macVNI struct {
	Macs map[string]struct {
		Type       string `json:"type"`
		LocalSeq   uint32 `json:"localSequence"`
		RemoteSeq  uint32 `json:"remoteSequence"`
		Detections int    `json:"detectionCount"`
		Duplicate  bool   `json:"isDuplicate"`
		RemoteVTEP string `json:"remoteVtep"`
	} `json:"macs"`
}

// localOf gives the local MACs (with the IPs of their local type 2
// routes) and the duplicate-flagged MACs of zebra's MAC tables.
func localOf(vnis map[string]macVNI, routes []evpn.Route) ([]evpn.LocalEntry, []evpn.DupEntry) {
	ips := map[string][]string{}
	for _, r := range routes {
		if r.Peer == "" && r.Type == evpn.TypeMACIP && r.IP.IsValid() {
			k := fmt.Sprint(r.VNI, r.MAC)
			ips[k] = append(ips[k], r.IP.String())
		}
	}
	local := []evpn.LocalEntry{}
	dups := []evpn.DupEntry{}
	for v, m := range vnis {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			continue
		}
		vni := uint32(n)
		for mac, e := range m.Macs {
			owner := "remote"
			seq := e.RemoteSeq
			if e.Type == "local" {
				owner, seq = "local", e.LocalSeq
				l := evpn.LocalEntry{VNI: vni, MAC: mac, Seq: seq, Owner: owner, Dup: e.Duplicate, Moves: e.Detections}
				l.IPs = ips[fmt.Sprint(vni, mac)]
				sort.Strings(l.IPs)
				local = append(local, l)
			}
			if e.Duplicate {
				dups = append(dups, evpn.DupEntry{VNI: vni, MAC: mac, Owner: owner, Seq: seq, Moves: e.Detections})
			}
		}
	}
	sort.Slice(local, func(i, j int) bool {
		return fmt.Sprint(local[i].VNI, local[i].MAC) < fmt.Sprint(local[j].VNI, local[j].MAC)
	})
	sort.Slice(dups, func(i, j int) bool {
		return fmt.Sprint(dups[i].VNI, dups[i].MAC) < fmt.Sprint(dups[j].VNI, dups[j].MAC)
	})
	return local, dups
}

// kernelOf reads what zebra programmed in one namespace, in the agent's
// kinds: flood (00:00:00:00:00:00 dst VTEP on a VXLAN device), fdb (remote
// MACs: extern_learn entries with a VTEP), neigh (extern_learn neighbours)
// and route (protocol bgp routes).
func kernelOf(ns, label string) ([]evpn.KernelEntry, error) {
	h, err := nsutil.Handle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("%s: links: %w", ns, err)
	}
	name := map[int]string{}
	vxlan := map[int]bool{}
	for _, l := range links {
		name[l.Attrs().Index] = l.Attrs().Name
		if l.Type() == "vxlan" {
			vxlan[l.Attrs().Index] = true
		}
	}
	var out []evpn.KernelEntry
	fdb, err := h.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("%s: fdb: %w", ns, err)
	}
	for _, n := range fdb {
		if !vxlan[n.LinkIndex] || n.IP == nil || n.Flags&netlink.NTF_SELF == 0 {
			continue
		}
		e := evpn.KernelEntry{Netns: label, Dev: name[n.LinkIndex], MAC: n.HardwareAddr.String(), VTEP: n.IP.String()}
		switch {
		case n.HardwareAddr.String() == (net.HardwareAddr{0, 0, 0, 0, 0, 0}).String():
			e.Kind = "flood"
		case n.Flags&netlink.NTF_EXT_LEARNED != 0:
			e.Kind = "fdb"
		default:
			continue
		}
		out = append(out, e)
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		ns4, err := h.NeighList(0, fam)
		if err != nil {
			return nil, fmt.Errorf("%s: neighbours: %w", ns, err)
		}
		for _, n := range ns4 {
			if n.Flags&netlink.NTF_EXT_LEARNED == 0 || n.IP == nil {
				continue
			}
			out = append(out, evpn.KernelEntry{Kind: "neigh", Netns: label, Dev: name[n.LinkIndex], IP: n.IP.String(), MAC: n.HardwareAddr.String()})
		}
		rs, err := h.RouteListFiltered(fam, &netlink.Route{Protocol: unix.RTPROT_BGP, Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("%s: routes: %w", ns, err)
		}
		for _, r := range rs {
			if r.Dst == nil {
				continue
			}
			e := evpn.KernelEntry{Kind: "route", Netns: label, Dev: name[r.LinkIndex], Prefix: r.Dst.String()}
			hop := func(gw net.IP, via netlink.Destination, link int) {
				if e.Dev == "" {
					e.Dev = name[link]
				}
				switch {
				case gw != nil:
					e.NextHop = append(e.NextHop, gw.String())
				case via != nil:
					e.NextHop = append(e.NextHop, strings.TrimPrefix(via.String(), "Via: "))
				}
			}
			if len(r.MultiPath) == 0 {
				hop(r.Gw, r.Via, r.LinkIndex)
			}
			for _, nh := range r.MultiPath {
				hop(nh.Gw, nh.Via, nh.LinkIndex)
			}
			sort.Strings(e.NextHop)
			out = append(out, e)
		}
	}
	return out, nil
}

// processAge is how long a process has run (from /proc/PID/stat).
func processAge(pid int) string {
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d", pid), &st) != nil {
		return ""
	}
	return time.Since(time.Unix(st.Ctim.Sec, st.Ctim.Nsec)).Round(time.Millisecond).String()
}

// ClearDup clears duplicate-address flags as `clear evpn dup-addr` does:
// every VNI, one VNI, or one MAC of a VNI. It returns how many were set.
func ClearDup(ctx context.Context, ns, dir string, vni uint32, mac string) (int, error) {
	var macs map[string]macVNI
	if err := vtyJSON(ctx, ns, dir, "show evpn mac vni all json", &macs); err != nil {
		return 0, err
	}
	n := 0
	for v, m := range macs {
		for a, e := range m.Macs {
			if e.Duplicate && (vni == 0 || v == fmt.Sprint(vni)) && (mac == "" || strings.EqualFold(a, mac)) {
				n++
			}
		}
	}
	cmd := "clear evpn dup-addr vni all"
	switch {
	case vni != 0 && mac != "":
		cmd = fmt.Sprintf("clear evpn dup-addr vni %d mac %s", vni, mac)
	case vni != 0:
		cmd = fmt.Sprintf("clear evpn dup-addr vni %d", vni)
	}
	if out, err := Vtysh(ctx, ns, dir, cmd); err != nil {
		return 0, fmt.Errorf("vtysh -c %q: %w: %s", cmd, err, tail(string(out), 300))
	}
	return n, nil
}
