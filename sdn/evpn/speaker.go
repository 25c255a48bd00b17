package evpn

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/sdnlab/sdnlab/internal/bgpguard"
	"github.com/sdnlab/sdnlab/internal/gobgp"
)

// startSpeaker starts the embedded GoBGP server with the node's global
// settings and neighbours, behind the guard that checks every received
// message before GoBGP parses it (internal/gobgp). It must run on a thread
// in the node's namespace (in the agent process every thread is), since it
// opens the listeners.
func startSpeaker(ctx context.Context, cfg *Config, log *slog.Logger) (*server.BgpServer, *bgpguard.Guard, error) {
	var peers []bgpguard.Peer
	for _, n := range cfg.Neighbors {
		peers = append(peers, bgpguard.Peer{Addr: n.Addr, Local: n.UpdateSource, TTL: sessionTTL(cfg, n)})
	}
	global := gobgp.Global{ASN: cfg.ASN, RouterID: cfg.RouterID, ListenPort: cfg.ListenPort}
	if sp := cfg.SharedPorts; sp != nil {
		global.Share = &bgpguard.Share{Addrs: sp.Addrs, UID: sp.UID}
	}
	s, g, err := gobgp.Start(ctx, global, peers, log)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*server.BgpServer, *bgpguard.Guard, error) {
		s.Stop()
		g.Close()
		return nil, nil, err
	}
	if err := evpnNexthopUnchanged(ctx, s); err != nil {
		return fail(err)
	}
	for _, n := range cfg.Neighbors {
		if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConf(cfg, n, g, waitsFor(cfg, n))}); err != nil {
			return fail(fmt.Errorf("neighbor %s: %w", n.Addr, err))
		}
	}
	return s, g, nil
}

// sessionTTL is the TTL GoBGP would give the session: 1 for single-hop
// eBGP, the multihop TTL, else the system default.
func sessionTTL(cfg *Config, n Neighbor) int {
	switch {
	case n.Multihop > 0:
		return n.Multihop
	case n.External || (n.RemoteAS != 0 && n.RemoteAS != cfg.ASN):
		return 1
	}
	return 0
}

// evpnNexthopUnchanged keeps the next hop (the originating VTEP) of EVPN
// routes passed on to eBGP peers, as bgpd does for l2vpn evpn; GoBGP would
// otherwise put its own address there.
func evpnNexthopUnchanged(ctx context.Context, s *server.BgpServer) error {
	pol := &api.Policy{Name: "evpn-nexthop-unchanged", Statements: []*api.Statement{{
		Name:       "evpn",
		Conditions: &api.Conditions{AfiSafiIn: []*api.Family{familyEVPN}},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT, Nexthop: &api.NexthopAction{Unchanged: true}},
	}}}
	if err := s.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol}); err != nil {
		return fmt.Errorf("bgp export policy: %w", err)
	}
	err := s.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_EXPORT, Policies: []*api.Policy{{Name: pol.Name}},
		DefaultAction: api.RouteAction_ACCEPT,
	}})
	if err != nil {
		return fmt.Errorf("bgp export policy: %w", err)
	}
	return nil
}

// waitsFor tells whether this speaker leaves the connect to n: of two
// iBGP speakers, the one with the higher address dials.
//
// Why (measured, docs/SCALE.md): GoBGP v3.37.0 does no collision
// resolution. A peer that has sent its OPEN closes every connection
// accepted meanwhile, so when both ends dial at once each closes the
// other's connection and both fail; the window is the time to send an
// OPEN, which grows with CPU load. At 50 nodes on a loaded machine nearly
// every attempt collided and no session came up. FRR peers still dial
// whatever we do, so this only removes the agent-to-agent race.
func waitsFor(cfg *Config, n Neighbor) bool {
	if n.External || n.Multihop > 0 || (n.RemoteAS != 0 && n.RemoteAS != cfg.ASN) {
		return false
	}
	local := n.UpdateSource
	if !local.IsValid() {
		local = cfg.LocalVTEP
	}
	if !local.IsValid() || local.Is4() != n.Addr.Is4() {
		return false
	}
	return n.Addr.Less(local)
}

// peerConf maps a Neighbor onto GoBGP's peer configuration; behind guard g
// (nil: none) GoBGP knows the neighbour by its alias and dials the guard.
// A passive peer is not dialled (waitsFor).
func peerConf(cfg *Config, n Neighbor, g *bgpguard.Guard, passive bool) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Addr.String(), PeerAsn: n.RemoteAS},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:           1,
			HoldTime:               uint64(cfg.HoldSec),
			KeepaliveInterval:      uint64(cfg.KeepaliveSec),
			IdleHoldTimeAfterReset: 1,
		}},
		Transport: &api.Transport{PassiveMode: passive},
	}
	switch {
	case n.External:
		p.Conf.PeerAsn = 0 // any AS: GoBGP skips the AS check, like `remote-as external`
		p.Conf.Type = api.PeerType_EXTERNAL
	case n.RemoteAS == 0:
		p.Conf.PeerAsn = cfg.ASN
	}
	if n.UpdateSource.IsValid() {
		p.Transport.LocalAddress = n.UpdateSource.String()
	}
	if n.Multihop > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.Multihop)}
	}
	if n.RRClient {
		cid := cfg.ClusterID
		if !cid.IsValid() {
			cid = cfg.RouterID
		}
		p.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: cid.String()}
	}
	if g != nil {
		g.Configure(p, n.Addr)
	}
	for _, f := range n.Families {
		fam := familyEVPN
		switch f {
		case FamilyIPv4:
			fam = familyV4
		case FamilyIPv6:
			fam = familyV6
		}
		p.AfiSafis = append(p.AfiSafis, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}})
	}
	return p
}

var (
	familyEVPN = gobgp.FamilyEVPN
	familyV4   = gobgp.FamilyV4
	familyV6   = gobgp.FamilyV6
)

// sessionState names a GoBGP session state like FRR does.
func sessionState(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_IDLE:
		return "Idle"
	case api.PeerState_CONNECT:
		return "Connect"
	case api.PeerState_ACTIVE:
		return "Active"
	case api.PeerState_OPENSENT:
		return "OpenSent"
	case api.PeerState_OPENCONFIRM:
		return "OpenConfirm"
	case api.PeerState_ESTABLISHED:
		return "Established"
	}
	return strconv.Itoa(int(s))
}
