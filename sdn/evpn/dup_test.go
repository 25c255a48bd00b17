package evpn

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func dupAgent(t *testing.T, freeze time.Duration) *Agent {
	t.Helper()
	a, err := New(Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000, DupFreeze: freeze,
		L2VNIs: []L2VNI{{VNI: 100, Bridge: "br", VxlanDev: "vx"}, {VNI: 200, Bridge: "br2", VxlanDev: "vx2"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range a.l2 {
		v.bridgeIdx, v.vxlanIdx = 10+i, 20+i
	}
	return a
}

// advertised tells whether reconciling v would advertise a type 2 for mac.
func advertised(a *Agent, v *l2vni, mac string) bool {
	d := &desiredState{kernel: map[string]kobj{}, adverts: map[string]*Route{}}
	a.planL2(v, d, map[netip.Addr]bool{}, map[string]bool{})
	for _, r := range d.adverts {
		if r.Type == TypeMACIP && r.MAC == mac {
			return true
		}
	}
	return false
}

// FRR without `dup-addr-detection freeze` (Proxmox sets none) only warns:
// the duplicate stays advertised; with freeze it is withheld.
func TestDuplicateWarnOnlyAndFreeze(t *testing.T) {
	const mac = "02:00:00:00:00:01"
	for _, c := range []struct {
		freeze time.Duration
		want   bool
	}{{0, true}, {time.Minute, false}} {
		a := dupAgent(t, c.freeze)
		v := a.l2[0]
		v.macs[mac] = &localMAC{port: 3, since: time.Now()}
		for i := 0; i < a.cfg.DupMaxMoves; i++ {
			a.move(v, mac, v.mobFor(mac))
		}
		if !v.mob[mac].dup {
			t.Fatal("not flagged after DupMaxMoves moves")
		}
		if got := advertised(a, v, mac); got != c.want {
			t.Errorf("freeze %v: duplicate advertised = %v, want %v", c.freeze, got, c.want)
		}
		// The flag outlives the window without freeze (until cleared), and
		// ends with the freeze timer with one.
		v.mob[mac].dupAt = time.Now().Add(-2 * time.Hour)
		a.expireMobility()
		if v.mob[mac].dup != (c.freeze == 0) {
			t.Errorf("freeze %v: flag after the timers = %v", c.freeze, v.mob[mac].dup)
		}
	}
}

// The control socket clears flags like FRR's `clear evpn dup-addr`.
func TestClearDupOverControlSocket(t *testing.T) {
	a := dupAgent(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the agent's event loop, without BGP or netlink
		for {
			select {
			case e := <-a.ev:
				a.handle(e)
			case <-ctx.Done():
				return
			}
		}
	}()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	if err := a.ServeControl(ctx, sock); err != nil {
		t.Fatal(err)
	}
	flag := func(v *l2vni, mac string) {
		m := v.mobFor(mac)
		m.dup, m.dupAt, m.owner = true, time.Now(), "local"
	}
	call := func(req Request) *Snapshot {
		t.Helper()
		c, cl := context.WithTimeout(ctx, 5*time.Second)
		defer cl()
		s, err := Call(c, sock, req)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The state is the agent goroutine's: set it through an event.
	done := make(chan struct{})
	a.ev <- evFunc(func() {
		flag(a.l2[0], "02:00:00:00:00:01")
		flag(a.l2[0], "02:00:00:00:00:02")
		flag(a.l2[1], "02:00:00:00:00:01")
		close(done)
	})
	<-done
	if s := call(Request{Show: ShowAll}); len(s.Duplicates) != 3 {
		t.Fatalf("duplicates %+v, want 3", s.Duplicates)
	}
	s := call(Request{Clear: "dup", VNI: 100, MAC: "02-00-00-00-00-02"})
	if s.Cleared != 1 || len(s.Duplicates) != 2 {
		t.Fatalf("clear one: cleared %d, left %+v", s.Cleared, s.Duplicates)
	}
	s = call(Request{Clear: "dup"})
	if s.Cleared != 2 || len(s.Duplicates) != 0 {
		t.Fatalf("clear all: cleared %d, left %+v", s.Cleared, s.Duplicates)
	}
	if _, err := Call(ctx, sock, Request{Clear: "everything"}); err == nil {
		t.Error("unknown clear accepted")
	}
	// A pollers' request: the sessions only, and what events changed is
	// left for the agent's own reconcile.
	done = make(chan struct{})
	a.ev <- evFunc(func() {
		flag(a.l2[0], "02:00:00:00:00:03")
		a.peers["192.0.2.7"] = &PeerStatus{Addr: "192.0.2.7", State: "Established"}
		a.dirty = true
		close(done)
	})
	<-done
	s = call(Request{Show: ShowPeers})
	if len(s.Peers) != 1 || s.Peers[0].State != "Established" {
		t.Errorf("peers answer: sessions %+v, want the one Established", s.Peers)
	}
	if len(s.Duplicates) != 0 || len(s.Routes) != 0 {
		t.Errorf("peers answer carries tables: %d duplicates, %d routes", len(s.Duplicates), len(s.Routes))
	}
	dirty := make(chan bool)
	a.ev <- evFunc(func() { dirty <- a.dirty })
	if !<-dirty {
		t.Error("a peers request reconciled")
	}
	if s := call(Request{Show: ShowAll}); len(s.Duplicates) != 1 {
		t.Errorf("full answer: duplicates %+v, want the one flagged", s.Duplicates)
	}
}

// Proxmox's frr.conf has no `advertise-default-gw`, so FRR does not
// advertise the VNet bridge's (anycast gateway) MAC; a remote route
// claiming it, even sticky with a high sequence, never moves it off the
// bridge (zebra ignores remote updates for its local gateway MAC).
func TestGatewayMACNeverAdvertisedNorMoved(t *testing.T) {
	a := dupAgent(t, 0)
	v := a.l2[0]
	const gw = "bc:24:11:00:00:fe"
	v.bridgeMAC = gw
	// The bridge's own (permanent) FDB entry is not learnt as a guest MAC.
	a.onNeigh("", neighUpdate(gw, v.bridgeIdx, v.bridgeIdx, true))
	if v.macs[gw] != nil {
		t.Fatal("the bridge's own MAC was learnt as a local guest MAC")
	}
	v.macs[gw] = &localMAC{port: 3, since: time.Now()} // even if it were
	a.rib["r"] = &Route{Type: TypeMACIP, RD: "10.0.0.2:2", MAC: gw, IP: netip.MustParseAddr("10.1.0.1"), VNI: 100,
		RTs: []string{"65000:100"}, NextHop: netip.MustParseAddr("10.0.0.2"), Seq: 10, HasSeq: true, Sticky: true,
		DefaultGW: true, Peer: "10.0.0.2"}
	d := &desiredState{kernel: map[string]kobj{}, adverts: map[string]*Route{}}
	a.planL2(v, d, map[netip.Addr]bool{}, map[string]bool{})
	for _, r := range d.adverts {
		if r.MAC == gw {
			t.Errorf("gateway MAC advertised: %+v", r)
		}
	}
	for _, o := range d.kernel {
		if e := o.view(); e.MAC == gw {
			t.Errorf("a remote route moved the gateway MAC: %+v", e)
		}
	}
}

// neighUpdate is a bridge FDB notification for mac on port link of bridge
// master (permanent: the bridge's own address).
func neighUpdate(mac string, link, master int, permanent bool) netlink.NeighUpdate {
	n := netlink.Neigh{LinkIndex: link, MasterIndex: master, Family: unix.AF_BRIDGE, HardwareAddr: parseMAC(mac),
		State: netlink.NUD_REACHABLE}
	if permanent {
		n.State = netlink.NUD_PERMANENT
	}
	return netlink.NeighUpdate{Type: unix.RTM_NEWNEIGH, Neigh: n}
}
