// Package underlaybgp is the BGP speaker of an underlay router of a lab
// (`routing: bgp`): an embedded GoBGP server that announces the segments the
// router is connected to, peers with the other BGP routers on its segments,
// and installs what it learns into the kernel routing table of the namespace
// it runs in (protocol "bgp", as bgpd/zebra would).
//
// It runs as its own process inside the router's namespace (`sdnlab router`,
// started by topology): GoBGP dials from arbitrary threads, so one process
// per namespace is the only way to make it dial from the right one, and
// killing the process is a router's control plane crashing.
//
// GoBGP listens on the loopback only: every session passes through a guard
// (internal/bgpguard) that checks each received message per RFC 7606 first,
// since GoBGP v3.37.0 panics on some malformed ones. The errors are logged
// with peer and reason and counted per peer in the status file.
package underlaybgp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/sdnlab/sdnlab/internal/bgpguard"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/gobgp"
)

// Config is a router's BGP configuration; topology writes it as
// routers/<router>/bgp.json in the lab's state directory.
type Config struct {
	Router   string     `json:"router"`
	ASN      uint32     `json:"asn"`
	RouterID netip.Addr `json:"routerID"`
	// Neighbors are the other BGP routers on this router's segments.
	Neighbors []Neighbor `json:"neighbors"`
	// Networks are announced (the connected segments).
	Networks []netip.Prefix `json:"networks"`
	// ListenPort is 179 unless set (tests).
	ListenPort int `json:"listenPort,omitempty"`
	// StatusPath, when set, is where the speaker keeps its sessions'
	// states and malformed-message counts (a Status, as JSON).
	StatusPath string `json:"-"`
}

// Status is what a running speaker reports about its sessions.
type Status struct {
	Peers []PeerStatus `json:"peers"`
}

// PeerStatus is one session and the errors found in its messages.
type PeerStatus struct {
	Addr      string            `json:"addr"`
	Name      string            `json:"name,omitempty"`
	State     string            `json:"state"`
	Malformed bgpguard.Counters `json:"malformed"`
}

// ReadStatus reads a Status a speaker wrote.
func ReadStatus(path string) (Status, error) {
	var st Status
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// writeStatus writes the sessions' status when it changed (atomically, so
// a reader never sees half a file).
func writeStatus(path string, st Status, last *[]byte) {
	b, err := json.Marshal(st)
	if err != nil || string(b) == string(*last) {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err == nil && os.Rename(tmp, path) == nil {
		*last = b
	}
}

// Neighbor is one BGP session on a shared segment.
type Neighbor struct {
	Addr  netip.Addr `json:"addr"`
	ASN   uint32     `json:"asn"`
	Name  string     `json:"name,omitempty"` // the peer router, for logs
	Local netip.Addr `json:"local,omitzero"` // our address on the segment
}

// RouteProtocol marks the kernel routes this speaker installs (RTPROT_BGP,
// what zebra uses for bgpd's routes): status shows them, restart removes them.
const RouteProtocol = unix.RTPROT_BGP

// ReadConfig reads a bgp.json.
func ReadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.ASN == 0 || !c.RouterID.Is4() {
		return c, fmt.Errorf("%s: asn and an IPv4 router id are required", path)
	}
	return c, nil
}

// Run serves until ctx is done or, when stdin is not nil, stdin reaches EOF
// (a parent holding a pipe ends us by closing it). It must run in the
// router's namespace: the whole process is.
func Run(ctx context.Context, cfg Config, stdin io.Reader, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	k := &kernel{h: h, log: log, installed: map[netip.Prefix][]netip.Addr{}}
	// Routes of an earlier instance (a restarted router) are stale.
	k.flushStale()
	defer k.flushAll()

	// Every session passes through the guard (see the package doc).
	var peers []bgpguard.Peer
	for _, n := range cfg.Neighbors {
		ttl := 0
		if n.ASN != cfg.ASN {
			ttl = 1 // single-hop eBGP, as GoBGP sets it
		}
		peers = append(peers, bgpguard.Peer{Addr: n.Addr, Local: n.Local, TTL: ttl})
	}
	s, g, err := gobgp.Start(ctx, gobgp.Global{ASN: cfg.ASN, RouterID: cfg.RouterID, ListenPort: cfg.ListenPort}, peers, log)
	if err != nil {
		return err
	}
	defer g.Close()
	defer s.Stop()
	for _, n := range cfg.Neighbors {
		fam := familyV4
		if n.Addr.Is6() {
			fam = familyV6
		}
		p := &api.Peer{
			Conf: &api.PeerConf{PeerAsn: n.ASN, Description: n.Name},
			Timers: &api.Timers{Config: &api.TimersConfig{
				ConnectRetry: 1, HoldTime: 9, KeepaliveInterval: 3, IdleHoldTimeAfterReset: 1,
			}},
			Transport: &api.Transport{},
			AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}},
		}
		if n.Local.IsValid() {
			// Only the side with the lower address dials: GoBGP handles
			// colliding connections badly (a restarted peer and one that
			// comes back from idle hold dial at once and both give up,
			// again and again).
			p.Transport.PassiveMode = n.Addr.Less(n.Local)
		}
		g.Configure(p, n.Addr)
		if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: p}); err != nil {
			return fmt.Errorf("neighbor %s: %w", n.Addr, err)
		}
	}
	own := map[netip.Prefix]bool{}
	for _, pf := range cfg.Networks {
		pf = pf.Masked()
		own[pf] = true
		path, err := localPath(pf)
		if err != nil {
			return err
		}
		if _, err := s.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
			return fmt.Errorf("announce %s: %w", pf, err)
		}
	}
	states := map[string]string{}
	for _, n := range cfg.Neighbors {
		states[n.Addr.String()] = "Idle"
	}
	status := func() Status {
		var st Status
		for _, n := range cfg.Neighbors {
			st.Peers = append(st.Peers, PeerStatus{Addr: n.Addr.String(), Name: n.Name, State: states[n.Addr.String()],
				Malformed: g.Counters(n.Addr)})
		}
		return st
	}
	var lastStatus []byte
	stateCh := make(chan [2]string, 64)
	kick := make(chan struct{}, 1)
	if err := s.WatchEvent(ctx, &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
		}},
	}, func(r *api.WatchEventResponse) {
		if p, ok := r.Event.(*api.WatchEventResponse_Peer); ok && p.Peer.GetPeer().GetState() != nil {
			st := p.Peer.Peer.State
			addr := g.Real(st.NeighborAddress)
			log.Info("neighbor", "addr", addr, "state", st.SessionState.String())
			select {
			case stateCh <- [2]string{addr, st.SessionState.String()}:
			default:
			}
		}
		select {
		case kick <- struct{}{}:
		default:
		}
	}); err != nil {
		return fmt.Errorf("watch bgp: %w", err)
	}
	log.Info("underlay bgp running", "router", cfg.Router, "asn", cfg.ASN, "router_id", cfg.RouterID,
		"neighbors", len(cfg.Neighbors), "networks", cfg.Networks)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		k.sync(best(ctx, s, own))
		if cfg.StatusPath != "" {
			writeStatus(cfg.StatusPath, status(), &lastStatus)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case e := <-stateCh:
			states[e[0]] = e[1]
		case <-tick.C:
		}
	}
}

var (
	familyV4 = gobgp.FamilyV4
	familyV6 = gobgp.FamilyV6
)

// localPath is the announcement of a connected prefix; the unspecified next
// hop becomes our address on each session.
func localPath(pf netip.Prefix) (*api.Path, error) {
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	var nlri bgp.AddrPrefixInterface
	if pf.Addr().Is4() {
		nlri = bgp.NewIPAddrPrefix(uint8(pf.Bits()), pf.Addr().String())
		attrs = append(attrs, bgp.NewPathAttributeNextHop("0.0.0.0"))
	} else {
		nlri = bgp.NewIPv6AddrPrefix(uint8(pf.Bits()), pf.Addr().String())
		attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI("::", []bgp.AddrPrefixInterface{nlri}))
	}
	return apiutil.NewPath(nlri, false, attrs, time.Now())
}

// best lists, for every prefix that is not our own, the next hops to
// install: the best path's and those of the other paths with the same AS
// path (BGP multipath as bgpd does it without multipath-relax), so routes
// from several exit nodes of one AS share ECMP.
func best(ctx context.Context, s *server.BgpServer, own map[netip.Prefix]bool) map[netip.Prefix][]netip.Addr {
	out := map[netip.Prefix][]netip.Addr{}
	for _, fam := range []*api.Family{familyV4, familyV6} {
		_ = s.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: fam}, func(d *api.Destination) {
			type cand struct {
				nh     netip.Addr
				asPath string
			}
			var bestPath *cand
			var all []cand
			var pf netip.Prefix
			for _, p := range d.Paths {
				if p.IsWithdraw || p.IsNexthopInvalid || p.Filtered {
					continue
				}
				prefix, nh, asPath, ok := decode(p)
				if !ok || own[prefix] {
					continue
				}
				pf = prefix
				c := cand{nh, asPath}
				all = append(all, c)
				if p.Best {
					bestPath = &c
				}
			}
			if bestPath == nil {
				return
			}
			nhs := []netip.Addr{bestPath.nh}
			for _, c := range all {
				if c.asPath == bestPath.asPath && !slices.Contains(nhs, c.nh) {
					nhs = append(nhs, c.nh)
				}
			}
			slices.SortFunc(nhs, func(a, b netip.Addr) int { return a.Compare(b) })
			out[pf] = nhs
		})
	}
	return out
}

// decode reads a unicast path's prefix, next hop and AS path.
func decode(p *api.Path) (netip.Prefix, netip.Addr, string, bool) {
	n, err := apiutil.GetNativeNlri(p)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, "", false
	}
	pf, err := netip.ParsePrefix(n.String())
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, "", false
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, "", false
	}
	var nh net.IP
	asPath := ""
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			nh = a.Value
		case *bgp.PathAttributeMpReachNLRI:
			nh = a.Nexthop
		case *bgp.PathAttributeAsPath:
			asPath = a.String()
		}
	}
	addr, ok := netip.AddrFromSlice(nh)
	if !ok || addr.IsUnspecified() {
		return netip.Prefix{}, netip.Addr{}, "", false
	}
	return pf.Masked(), addr.Unmap(), asPath, true
}

// kernel keeps the namespace's BGP routes equal to the best paths.
type kernel struct {
	h         *netlink.Handle
	log       *slog.Logger
	installed map[netip.Prefix][]netip.Addr
}

func (k *kernel) route(pf netip.Prefix, nhs []netip.Addr) *netlink.Route {
	r := &netlink.Route{
		Dst:      &net.IPNet{IP: net.IP(pf.Addr().AsSlice()), Mask: net.CIDRMask(pf.Bits(), pf.Addr().BitLen())},
		Protocol: RouteProtocol,
		Priority: 20, // bgpd's eBGP distance, as a metric: a connected route wins
		Family:   netlink.FAMILY_V4,
	}
	if pf.Addr().Is6() {
		r.Family = netlink.FAMILY_V6
	}
	switch {
	case len(nhs) == 1:
		r.Gw = net.IP(nhs[0].AsSlice())
	case len(nhs) > 1:
		for _, nh := range nhs {
			r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{Gw: net.IP(nh.AsSlice())})
		}
	}
	return r
}

func (k *kernel) sync(want map[netip.Prefix][]netip.Addr) {
	var keys []netip.Prefix
	for pf := range want {
		keys = append(keys, pf)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, pf := range keys {
		nhs := want[pf]
		if old, ok := k.installed[pf]; ok && slices.Equal(old, nhs) {
			continue
		}
		if err := k.h.RouteReplace(k.route(pf, nhs)); err != nil {
			k.log.Warn("install route", "prefix", pf, "via", nhs, "err", err)
			continue
		}
		k.log.Info("route installed", "prefix", pf, "via", nhs)
		k.installed[pf] = nhs
	}
	for pf, nhs := range k.installed {
		if _, ok := want[pf]; ok {
			continue
		}
		if err := k.h.RouteDel(k.route(pf, nhs)); err != nil {
			k.log.Warn("remove route", "prefix", pf, "err", err)
		}
		k.log.Info("route withdrawn", "prefix", pf)
		delete(k.installed, pf)
	}
}

// flushStale removes every BGP-protocol route of the namespace.
func (k *kernel) flushStale() {
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := k.h.RouteListFiltered(fam, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			continue
		}
		for i := range rs {
			_ = k.h.RouteDel(&rs[i])
		}
	}
}

// flushAll removes what we installed (a clean stop withdraws the routes,
// as zebra does when bgpd stops).
func (k *kernel) flushAll() { k.sync(nil) }
