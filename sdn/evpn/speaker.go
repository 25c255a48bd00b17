package evpn

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/sdnlab/sdnlab/internal/bgpguard"
)

// startSpeaker starts the embedded GoBGP server with the node's global
// settings and neighbours, behind a guard (package bgpguard) that checks
// every received message before GoBGP parses it: GoBGP listens on the
// loopback only and knows each neighbour by a loopback alias. It must run on
// a thread in the node's namespace (in the agent process every thread is),
// since Serve and the guard open listeners.
func startSpeaker(ctx context.Context, cfg *Config, log *slog.Logger) (*server.BgpServer, *bgpguard.Guard, error) {
	var peers []bgpguard.Peer
	for _, n := range cfg.Neighbors {
		peers = append(peers, bgpguard.Peer{Addr: n.Addr, Local: n.UpdateSource, TTL: sessionTTL(cfg, n)})
	}
	g, err := bgpguard.Start(ctx, bgpguard.Config{Port: cfg.ListenPort, Peers: peers}, log.With("bgp", "guard"))
	if err != nil {
		return nil, nil, err
	}
	s := server.NewBgpServer(server.LoggerOption(&gobgpLogger{log: log.With("bgp", "gobgp")}))
	go s.Serve()
	fail := func(err error) (*server.BgpServer, *bgpguard.Guard, error) {
		s.Stop()
		g.Close()
		return nil, nil, err
	}
	err = s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:             cfg.ASN,
		RouterId:        cfg.RouterID.String(),
		ListenPort:      int32(g.InnerPort),
		ListenAddresses: []string{bgpguard.InnerAddr},
	}})
	if err != nil {
		return fail(fmt.Errorf("start bgp: %w", err))
	}
	if err := evpnNexthopUnchanged(ctx, s); err != nil {
		return fail(err)
	}
	for _, n := range cfg.Neighbors {
		if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConf(cfg, n, g)}); err != nil {
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

// peerConf maps a Neighbor onto GoBGP's peer configuration; behind guard g
// (nil: none) GoBGP knows the neighbour by its alias and dials the guard.
func peerConf(cfg *Config, n Neighbor, g *bgpguard.Guard) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Addr.String(), PeerAsn: n.RemoteAS},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:           1,
			HoldTime:               uint64(cfg.HoldSec),
			KeepaliveInterval:      uint64(cfg.KeepaliveSec),
			IdleHoldTimeAfterReset: 1,
		}},
		Transport: &api.Transport{},
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
		p.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: cfg.RouterID.String()}
	}
	if g != nil {
		p.Conf.NeighborAddress = g.Alias(n.Addr).String()
		p.Transport.LocalAddress = bgpguard.InnerAddr
		p.Transport.RemotePort = uint32(g.DialPort)
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
	familyEVPN = &api.Family{Afi: api.Family_AFI_L2VPN, Safi: api.Family_SAFI_EVPN}
	familyV4   = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	familyV6   = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

// gobgpLogger routes GoBGP's logs into slog (GoBGP is chatty at info: it
// goes to debug).
type gobgpLogger struct {
	log   *slog.Logger
	level gobgplog.LogLevel
}

func attrs(f gobgplog.Fields) []any {
	out := make([]any, 0, 2*len(f))
	for k, v := range f {
		out = append(out, k, v)
	}
	return out
}

func (l *gobgpLogger) Panic(msg string, f gobgplog.Fields) {
	l.log.Error(msg, attrs(f)...)
	panic(msg)
}
func (l *gobgpLogger) Fatal(msg string, f gobgplog.Fields) { l.log.Error("fatal: "+msg, attrs(f)...) }
func (l *gobgpLogger) Error(msg string, f gobgplog.Fields) { l.log.Warn(msg, attrs(f)...) }
func (l *gobgpLogger) Warn(msg string, f gobgplog.Fields)  { l.log.Info(msg, attrs(f)...) }
func (l *gobgpLogger) Info(msg string, f gobgplog.Fields)  { l.log.Debug(msg, attrs(f)...) }
func (l *gobgpLogger) Debug(msg string, f gobgplog.Fields) {}
func (l *gobgpLogger) SetLevel(level gobgplog.LogLevel)    { l.level = level }
func (l *gobgpLogger) GetLevel() gobgplog.LogLevel         { return gobgplog.InfoLevel }

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
