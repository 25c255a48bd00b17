package evpn

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/sdnlab/sdnlab/internal/gobgp"
	"github.com/sdnlab/sdnlab/sdn/bfd"
)

// GoBGP accepts every kind of neighbour FromPlan produces: iBGP, eBGP with
// a number, `remote-as external`, multihop with an update source, a route
// reflector client, several families; and the export policy.
func TestPeerConfAccepted(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Neighbors: []Neighbor{
		{Addr: netip.MustParseAddr("192.0.2.2")},
		{Addr: netip.MustParseAddr("192.0.2.3"), RemoteAS: 65001, Families: []string{FamilyEVPN, FamilyIPv4, FamilyIPv6}},
		{Addr: netip.MustParseAddr("192.0.2.4"), External: true, Multihop: 10, UpdateSource: netip.MustParseAddr("192.0.2.1")},
		{Addr: netip.MustParseAddr("192.0.2.5"), RRClient: true},
	}}
	cfg.Defaults()
	s := server.NewBgpServer(server.LoggerOption(gobgp.Logger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	go s.Serve()
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: cfg.ASN, RouterId: cfg.RouterID.String(), ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	if err := evpnNexthopUnchanged(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, n := range cfg.Neighbors {
		if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConf(&cfg, n, nil, false)}); err != nil {
			t.Errorf("neighbor %+v: %v", n, err)
		}
	}
	var got []*api.Peer
	_ = s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) { got = append(got, p) })
	if len(got) != len(cfg.Neighbors) {
		t.Fatalf("%d peers configured, want %d", len(got), len(cfg.Neighbors))
	}
	for _, p := range got {
		if p.Timers.Config.HoldTime != 9 || p.Timers.Config.KeepaliveInterval != 3 {
			t.Errorf("peer %s timers %+v, want FRR's datacenter 3/9", p.Conf.NeighborAddress, p.Timers.Config)
		}
	}
}

// A reset brings the peer back even when it is missing from GoBGP (an
// earlier re-add failed, say on a timeout under load): the delete then
// fails, and nothing else would ever configure the peer again.
func TestResetRestoresMissingPeer(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr("192.0.2.2")}}}
	a := idleAgent(t, cfg)
	s := quietServer()
	go s.Serve()
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: cfg.ASN, RouterId: cfg.RouterID.String(), ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	a.bgp = s
	go a.resetLoop(ctx)
	a.recreatePeer("192.0.2.2", "test")
	for {
		var got []string
		_ = s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) { got = append(got, p.Conf.NeighborAddress) })
		if len(got) == 1 && got[0] == "192.0.2.2" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("peers after the reset of a missing peer: %v, want [192.0.2.2]", got)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A peer has at most one re-creation queued, and the Idle that our own
// delete reports is not taken for a new failure: measured at 100 nodes,
// each BFD down queued two re-creations, and late deletes killed sessions
// that had come back, which failed the other ends in turn.
func TestResetsQueuedOnce(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000,
		Neighbors: []Neighbor{{Addr: netip.MustParseAddr("192.0.2.2")}}}
	a := idleAgent(t, cfg)
	a.bgp = quietServer() // no resetLoop: requests stay queued
	for _, why := range []string{"BFD down", "session failed", "session failed"} {
		a.recreatePeer("192.0.2.2", why)
	}
	if len(a.resetQ) != 1 || a.resets != 1 {
		t.Fatalf("%d re-creations queued (%d counted) for one peer, want 1", len(a.resetQ), a.resets)
	}
	r := <-a.resetQ
	a.track.running(r.addr) // resetLoop deletes the peer now
	a.onPeer(evPeer{addr: "192.0.2.2", state: api.PeerState_ESTABLISHED})
	a.onPeer(evPeer{addr: "192.0.2.2", state: api.PeerState_IDLE})
	if len(a.resetQ) != 0 {
		t.Fatal("the Idle our own delete reported queued another re-creation")
	}
	a.track.deleted["192.0.2.2"] = time.Now().Add(-time.Minute)
	a.onPeer(evPeer{addr: "192.0.2.2", state: api.PeerState_ESTABLISHED})
	a.onPeer(evPeer{addr: "192.0.2.2", state: api.PeerState_IDLE})
	if len(a.resetQ) != 1 {
		t.Fatal("an established session that failed long after our delete was not re-created")
	}
}

// noBFD stands in for a running BFD manager.
type noBFD struct{}

func (noBFD) State(netip.Addr) string    { return "Down" }
func (noBFD) Dropped() map[string]uint64 { return nil }
func (noBFD) Stats() bfd.Stats           { return bfd.Stats{} }
func (noBFD) Close()                     {}

// A passive peer that stays down is dialled only once its BFD has been up
// for the grace: before that it may not run yet, and dialling it would
// collide with its own connects when it starts (measured at 300 nodes).
func TestDialLateWaitsForBFD(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.1") // lower than ours: it dials, we wait
	cfg := Config{RouterID: netip.MustParseAddr("192.0.2.9"), LocalVTEP: netip.MustParseAddr("192.0.2.9"), ASN: 65000,
		Neighbors: []Neighbor{{Addr: peer, BFD: true}}}
	a := idleAgent(t, cfg)
	if !waitsFor(&a.cfg, a.cfg.Neighbors[0]) {
		t.Fatal("the test needs a passive peer")
	}
	a.bgp = quietServer() // no resetLoop: requests stay queued
	a.bfd = noBFD{}
	long := time.Now().Add(-time.Minute)
	a.start = long
	a.peers[peer.String()] = &PeerStatus{Addr: peer.String(), State: "Active", Since: long}

	a.dialLate()
	if len(a.resetQ) != 0 {
		t.Fatal("dialled a peer whose BFD never came up")
	}
	a.onBFD(evBFD{peer: peer, up: true})
	a.dialLate()
	if len(a.resetQ) != 0 {
		t.Fatal("dialled a peer whose BFD came up just now")
	}
	a.bfdUp[peer.String()] = long
	a.dialLate()
	if len(a.resetQ) != 1 || !a.dialing[peer.String()] {
		t.Fatal("a peer up in BFD for a minute without a session was not dialled")
	}
}

// idleAgent is an agent of cfg (defaults filled in) that runs nothing.
func idleAgent(t *testing.T, cfg Config) *Agent {
	t.Helper()
	cfg.Defaults()
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// quietServer is a GoBGP server that logs nothing.
func quietServer() *server.BgpServer {
	return server.NewBgpServer(server.LoggerOption(gobgp.Logger(slog.New(slog.DiscardHandler))))
}
