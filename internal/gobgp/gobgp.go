// Package gobgp starts the embedded GoBGP server the same way for every
// BGP speaker of the lab (the node agents' EVPN speaker in sdn/evpn and
// the underlay routers in topology/underlaybgp), with GoBGP's logs going
// to log/slog.
package gobgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/sdnlab/sdnlab/internal/bgpguard"
)

// Global are a speaker's global settings.
type Global struct {
	ASN      uint32
	RouterID netip.Addr
	// ListenPort is the BGP port (0: 179).
	ListenPort int
	// Share, when set, shares the port with another speaker in the
	// namespace (bgpguard.Share).
	Share *bgpguard.Share
}

// Port is the port g listens on.
func (g Global) Port() int32 {
	if g.ListenPort == 0 {
		return 179
	}
	return int32(g.ListenPort)
}

// Start starts a GoBGP server with g and returns it serving, behind a guard
// (package bgpguard) for peers: every session passes through the guard,
// which checks each received message before GoBGP parses it (GoBGP v3.37.0
// panics on some malformed ones). GoBGP listens on the loopback only; the
// guard listens on g's port, on IPv4 and on IPv6 when the namespace has it.
// The caller adds each peer configured with Guard.Configure, and stops
// both. It must run on a thread in the speaker's namespace, since it opens
// the listeners.
func Start(ctx context.Context, g Global, peers []bgpguard.Peer, log *slog.Logger) (*server.BgpServer, *bgpguard.Guard, error) {
	guard, err := bgpguard.Start(ctx, bgpguard.Config{Port: int(g.Port()), Peers: peers, Share: g.Share}, log.With("bgp", "guard"))
	if err != nil {
		return nil, nil, err
	}
	s := server.NewBgpServer(server.LoggerOption(Logger(log.With("bgp", "gobgp"))))
	go s.Serve()
	err = s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:             g.ASN,
		RouterId:        g.RouterID.String(),
		ListenPort:      int32(guard.InnerPort),
		ListenAddresses: []string{bgpguard.InnerAddr},
	}})
	if err != nil {
		s.Stop()
		guard.Close()
		return nil, nil, fmt.Errorf("start bgp: %w", err)
	}
	return s, guard, nil
}

// Address families.
var (
	FamilyEVPN = &api.Family{Afi: api.Family_AFI_L2VPN, Safi: api.Family_SAFI_EVPN}
	FamilyV4   = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	FamilyV6   = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

// Logger routes GoBGP's logs into log (GoBGP is chatty at info: that goes
// to debug; its errors are warnings here, since it recovers from them).
func Logger(log *slog.Logger) gobgplog.Logger { return &logger{log: log} }

type logger struct{ log *slog.Logger }

func attrs(f gobgplog.Fields) []any {
	out := make([]any, 0, 2*len(f))
	for k, v := range f {
		out = append(out, k, v)
	}
	return out
}

func (l *logger) Panic(msg string, f gobgplog.Fields) { l.log.Error(msg, attrs(f)...); panic(msg) }
func (l *logger) Fatal(msg string, f gobgplog.Fields) { l.log.Error("fatal: "+msg, attrs(f)...) }
func (l *logger) Error(msg string, f gobgplog.Fields) { l.log.Warn(msg, attrs(f)...) }
func (l *logger) Warn(msg string, f gobgplog.Fields)  { l.log.Info(msg, attrs(f)...) }
func (l *logger) Info(msg string, f gobgplog.Fields)  { l.log.Debug(msg, attrs(f)...) }
func (l *logger) Debug(string, gobgplog.Fields)       {}
func (l *logger) SetLevel(gobgplog.LogLevel)          {}
func (l *logger) GetLevel() gobgplog.LogLevel         { return gobgplog.InfoLevel }
