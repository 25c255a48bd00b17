package evpn

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sdnlab/sdnlab/internal/bgpguard"
	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/sdn/bfd"
)

// Agent is one node's EVPN control plane. All state below is owned by the
// goroutine running Run; other goroutines talk to it through events.
type Agent struct {
	cfg   Config
	log   *slog.Logger
	bgp   *server.BgpServer
	guard *bgpguard.Guard // between the peers and bgp
	ev    chan any
	start time.Time

	// OnFDB, when set, is called (from the agent goroutine) after a remote
	// MAC's FDB entry is programmed; benchmarks use it.
	OnFDB func(mac string, vtep netip.Addr)

	handles map[string]*netlink.Handle // by namespace name, "" the agent's own
	// subscribed are the namespaces whose neighbour changes are followed;
	// done ends the subscriptions (with Run).
	subscribed map[string]bool
	done       chan struct{}
	l2         []*l2vni
	l3         []*l3vni

	rib       map[string]*Route // remote best paths by NLRI
	adverts   map[string]*Route // what this node advertises, by NLRI
	installed map[string]*installed
	peers     map[string]*PeerStatus
	eor       map[string]bool
	syncDone  bool
	bfd       bfdControl

	// ucDests are the received ipv4/ipv6 unicast paths by prefix (all of
	// them, for multipath); ucDirty asks for a re-read from GoBGP. Every
	// change sets it: a received unicast update (watchUnicast, withdrawals
	// included), a unicast best-path change (ours too) and a session that
	// went down; GoBGP serializes the re-read after the table update, so
	// no periodic re-read is needed.
	ucDests map[netip.Prefix][]ucPath
	ucDirty bool

	resets, bfdDowns uint64 // counters for show (scale measurements)
	// dirty: an event since the last reconcile may change its outcome.
	dirty bool
	// urgent: a MAC moved (learned on a local port, or announced from
	// elsewhere with a MAC mobility sequence): reconcile at once, not
	// after the gap that batches the bulk of routes at start-up. A moved
	// guest's traffic is lost until then. Measured on examples/demo: the
	// UPDATE for a migrated guest left 27.5 ms after its first RARP,
	// because the tap's own FDB events had just been reconciled.
	urgent bool
	// retry: the last reconcile failed to program an entry or advertise a
	// route; the next tick tries again.
	retry bool
	// ticks counts the one-second ticks (resyncTicks).
	ticks int
	// resetQ feeds the goroutine that re-creates failed peers, so that a
	// burst of failures never holds up the event loop (show, BFD, routes).
	resetQ chan resetReq
	track  resetTrack
	// dialing are passive peers (waitsFor) made active because they did
	// not come up within passiveGrace: the other end may not know us by
	// the address we compared.
	dialing map[string]bool
	// bfdUp is when each peer's BFD session last came up (absent: down).
	bfdUp   map[string]time.Time
	backoff map[string]*resetBackoff
	// probe are the remote neighbour entries (by kobj key) that reconcile
	// turns into kernel probes instead of deleting them: IPs a MAC that
	// moved here brought along (adoptIPs).
	probe map[string]*neighObj
}

type resetBackoff struct {
	at   time.Time
	wait time.Duration
}

type resetReq struct {
	conf *api.Peer
	addr string
	why  string
	at   time.Time
}

// resetTrack is what the event loop and resetLoop share about the
// re-creations. Measured at 100 nodes under load: one BFD down queued two
// re-creations (the BFD down, then the Idle our own delete caused), the
// queue ran seconds behind, and its late deletes killed sessions that had
// come back meanwhile; each killed session failed the other end's, which
// re-created its peer in turn (14,000 established sessions ended with
// read-failed in 30 s, 30,000 re-creations).
type resetTrack struct {
	mu      sync.Mutex
	pending map[string]bool      // queued and not yet run
	deleted map[string]time.Time // when resetLoop last deleted the peer
}

// ownEcho is how long after resetLoop deleted a peer an Idle of that peer
// is taken for the deletion's own report, not a new failure.
const ownEcho = 2 * time.Second

func (t *resetTrack) queue(addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending[addr] {
		return false
	}
	t.pending[addr] = true
	return true
}

func (t *resetTrack) running(addr string) {
	t.mu.Lock()
	delete(t.pending, addr)
	t.deleted[addr] = time.Now()
	t.mu.Unlock()
}

func (t *resetTrack) drop(addr string) {
	t.mu.Lock()
	delete(t.pending, addr)
	t.mu.Unlock()
}

func (t *resetTrack) echo(addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Since(t.deleted[addr]) < ownEcho
}

// passiveGrace is how long a passive peer may stay down before this end
// dials too.
const passiveGrace = 15 * time.Second

type installed struct {
	obj   kobj
	stale bool // found at start-up, left by an earlier run
}

type l2vni struct {
	L2VNI
	bridgeIdx, vxlanIdx int
	bridgeMAC           string
	macs                map[string]*localMAC  // learned on local ports
	ips                 map[netip.Addr]string // local neighbours (IP -> MAC)
	mob                 map[string]*mobility  // per MAC
	l3                  *l3vni                // the zone's L3VNI, nil none
}

type l3vni struct {
	L3VNI
	bridgeIdx, vxlanIdx int
	rmac                string
}

type localMAC struct {
	port   int
	static bool
	since  time.Time
	goneAt time.Time // the bridge dropped it; withdrawn after withdrawHold
}

// withdrawHold is how long a MAC that left its local port stays advertised
// unless a newer route from elsewhere wins first.
const withdrawHold = time.Second

// mobility is the RFC 7432 section 15 state of one MAC in one VNI.
type mobility struct {
	seq       uint32 // the sequence number this node uses when it owns the MAC
	remoteSeq uint32 // highest remote sequence seen
	remoteAt  time.Time
	moves     []time.Time
	dup       bool
	dupAt     time.Time
	owner     string // "local", "remote" or ""
}

// BFDNotRunning is the BFD state of a session that asks for BFD on an
// agent that runs none.
const BFDNotRunning = "not running"

// PeerStatus is one BGP session as `show bgp` prints it.
type PeerStatus struct {
	Addr     string    `json:"addr"`
	RemoteAS uint32    `json:"remote_as"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	UpFor    string    `json:"up_for,omitempty"`
	RouterID string    `json:"router_id,omitempty"`
	// BFD is the session's BFD state ("Up", "Down", ... on the agent,
	// "up", "down" on FRR); "" when the session runs no BFD.
	BFD string `json:"bfd,omitempty"`
	// Received counts the best paths from this peer in the RIB (derived
	// when a snapshot is taken).
	Received int `json:"received"`
	// UpAfter is how long after agent start the session first came up.
	UpAfter string `json:"up_after,omitempty"`
	// Malformed counts the errors found in this peer's messages (RFC 7606
	// actions taken by the guard in front of GoBGP).
	Malformed bgpguard.Counters `json:"malformed"`
}

// bfdControl is what the agent needs from BFD (nil when no peer asks).
type bfdControl interface {
	State(peer netip.Addr) string
	Dropped() map[string]uint64
	Stats() bfd.Stats
	Close()
}

// events
type evPaths struct{ paths []*api.Path }
type evPeer struct {
	addr, routerID string
	state          api.PeerState_SessionState
}
type evNeigh struct {
	ns string
	u  netlink.NeighUpdate
}
type evBFD struct {
	peer netip.Addr
	up   bool
}
type evShow struct {
	reply chan *Snapshot
	// clear asks to clear duplicate flags first (vni 0 all, mac "" all).
	clear bool
	vni   uint32
	mac   string
	// peersOnly answers with the sessions alone, reconciling nothing.
	peersOnly bool
}
type evTick struct{}
type evUnicast struct{}

// evFunc runs a function on the agent goroutine (tests use it to set state).
type evFunc func()

// New checks cfg and returns an agent ready to Run.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("evpn config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	a := &Agent{
		cfg:       cfg,
		log:       log,
		ev:        make(chan any, 4096),
		handles:   map[string]*netlink.Handle{},
		rib:       map[string]*Route{},
		adverts:   map[string]*Route{},
		installed: map[string]*installed{},
		peers:     map[string]*PeerStatus{},
		eor:       map[string]bool{},
		resetQ:    make(chan resetReq, 1024),
		track:     resetTrack{pending: map[string]bool{}, deleted: map[string]time.Time{}},
		dialing:   map[string]bool{},
		bfdUp:     map[string]time.Time{},
		backoff:   map[string]*resetBackoff{},
		probe:     map[string]*neighObj{},
	}
	l3ByVNI := map[uint32]*l3vni{}
	for _, z := range cfg.L3VNIs {
		l := &l3vni{L3VNI: z}
		a.l3 = append(a.l3, l)
		l3ByVNI[z.VNI] = l
	}
	for _, v := range cfg.L2VNIs {
		a.l2 = append(a.l2, &l2vni{L2VNI: v, macs: map[string]*localMAC{}, ips: map[netip.Addr]string{},
			mob: map[string]*mobility{}, l3: l3ByVNI[v.L3VNI]})
	}
	for _, n := range cfg.Neighbors {
		as := n.RemoteAS
		if as == 0 && !n.External {
			as = cfg.ASN
		}
		a.peers[n.Addr.String()] = &PeerStatus{Addr: n.Addr.String(), RemoteAS: as, State: "Idle"}
	}
	return a, nil
}

// Config returns the effective configuration (defaults filled in).
func (a *Agent) Config() Config { return a.cfg }

// Run runs the agent until ctx ends. The caller's process must live in the
// node's namespace.
func (a *Agent) Run(ctx context.Context) error {
	a.start = time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		for _, h := range a.handles {
			h.Close()
		}
	}()
	if err := a.openHandles(); err != nil {
		return err
	}
	a.resolve()
	a.adoptStale()

	done := make(chan struct{})
	defer close(done)
	if err := a.subscribe(done); err != nil {
		return err
	}
	send := func(e any) {
		select {
		case a.ev <- e:
		case <-done:
		}
	}
	// BFD before BGP: starting a BFD process (a reflector's) takes a
	// fork, an exec and the child's answer, seconds on a loaded machine;
	// started after the speaker, that wait kept the event loop from
	// reading GoBGP's events while its sessions came up.
	if b, err := a.startBFD(ctx, send); err != nil {
		return err
	} else if b != nil {
		a.bfd = b
		defer b.Close()
	}
	s, g, err := startSpeaker(ctx, &a.cfg, a.log)
	if err != nil {
		return err
	}
	a.bgp, a.guard = s, g
	go a.resetLoop(ctx)
	defer func() {
		stopCtx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = s.StopBgp(stopCtx, &api.StopBgpRequest{})
		s.Stop()
		g.Close()
	}()
	err = s.WatchEvent(ctx, &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
			{Type: api.WatchEventRequest_Table_Filter_EOR},
		}},
	}, func(r *api.WatchEventResponse) {
		switch e := r.Event.(type) {
		case *api.WatchEventResponse_Table:
			for _, p := range e.Table.Paths {
				p.NeighborIp = g.Real(p.NeighborIp)
			}
			send(evPaths{paths: e.Table.Paths})
		case *api.WatchEventResponse_Peer:
			if e.Peer.Peer == nil || e.Peer.Peer.State == nil {
				return
			}
			st := e.Peer.Peer.State
			send(evPeer{addr: g.Real(st.NeighborAddress), routerID: st.RouterId, state: st.SessionState})
		}
	})
	if err != nil {
		return fmt.Errorf("watch bgp: %w", err)
	}
	if a.unicastPeers() {
		if err := a.watchUnicast(ctx, send); err != nil {
			return err
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	if a.cfg.TestFault != "" {
		a.log.Warn("TEST FAULT: this agent is broken on purpose (conformance suite)", "fault", a.cfg.TestFault, "env", TestFaultEnv)
	}
	a.log.Info("evpn agent running", "node", a.cfg.Node, "router_id", a.cfg.RouterID, "asn", a.cfg.ASN,
		"neighbors", len(a.cfg.Neighbors), "l2vnis", len(a.l2), "l3vnis", len(a.l3))
	a.reconcile()
	last := time.Now()
	later := time.NewTimer(time.Hour)
	later.Stop()
	defer later.Stop()
	armed := false
	gap := reconcileGap
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			a.handle(evTick{})
		case e := <-a.ev:
			a.handle(e)
		case <-later.C:
			armed = false
		}
		// Drain what is already queued, then reconcile once.
		for drained := false; !drained; {
			select {
			case e := <-a.ev:
				a.handle(e)
			default:
				drained = true
			}
		}
		if !a.dirty {
			continue
		}
		if wait := gap - time.Since(last); wait > 0 && !a.urgent {
			if !armed {
				later.Reset(wait)
				armed = true
			}
			continue
		}
		t0 := time.Now()
		a.reconcile()
		last = time.Now()
		gap = reconcileGapAfter(last.Sub(t0))
	}
}

// reconcileGapAfter is the gap that follows a reconcile that took d.
func reconcileGapAfter(d time.Duration) time.Duration {
	return min(max(reconcileGap, 50*d), maxReconcileGap)
}

// reconcileGap is the least time between two reconciles. A reconcile
// recomputes the whole desired state (O(routes)); measured at 50 nodes,
// recomputing it after every event (most of them session state changes
// that change nothing) was the largest share of the agents' CPU while the
// mesh came up. An isolated event is still reconciled at once, and a moved
// MAC (urgent) always is. The gap grows to 50 times the last reconcile's
// duration, so that reconciling takes at most about 2 % of an agent's time
// however large the RIB: a lab runs an agent per node on a few cores, and
// at 300 nodes the earlier 5 % per agent added up to more than the machine
// while the routes came in.
//
// The gap stops at maxReconcileGap: the duration is wall time, which a
// loaded machine stretches, and one reconcile of a second set the next a
// minute away. Measured at 100 nodes, a guest on node1 first reached one
// on node100 82.6 s after `up` started, the sessions having been up long
// before (docs/SCALE.md 26).
const (
	reconcileGap    = 25 * time.Millisecond
	maxReconcileGap = 5 * time.Second
)

func (a *Agent) openHandles() error { return a.openNewHandles() }

// openNewHandles opens a netlink handle in each namespace of a VNI that has
// none yet (all of them at start, those of new VNIs at a reload).
func (a *Agent) openNewHandles() error {
	names := map[string]bool{"": true}
	for _, v := range a.l2 {
		names[v.Netns] = true
	}
	for _, z := range a.l3 {
		names[z.Netns] = true
	}
	for n := range names {
		if a.handles[n] != nil {
			continue
		}
		h, err := openHandle(n)
		if err != nil {
			return err
		}
		a.handles[n] = h
	}
	return nil
}

func openHandle(name string) (*netlink.Handle, error) {
	if name == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		return h, nil
	}
	return nsutil.Handle(name)
}

// subscribe follows FDB and neighbour changes in every namespace that holds
// one of our bridges.
func (a *Agent) subscribe(done chan struct{}) error {
	a.done = done
	return a.subscribeNew()
}

// subscribeNew subscribes in the namespaces of L2VNIs not followed yet.
func (a *Agent) subscribeNew() error {
	done := a.done
	if a.subscribed == nil {
		a.subscribed = map[string]bool{}
	}
	names := map[string]bool{}
	for _, v := range a.l2 {
		if !a.subscribed[v.Netns] {
			names[v.Netns] = true
		}
	}
	for n := range names {
		a.subscribed[n] = true
		ch := make(chan netlink.NeighUpdate, 1024)
		opts := netlink.NeighSubscribeOptions{ListExisting: true, ReceiveBufferSize: 1 << 20,
			ErrorCallback: func(err error) { a.log.Warn("neighbour subscription", "netns", n, "err", err) }}
		if n != "" {
			ns, err := nsutil.Open(n)
			if err != nil {
				return err
			}
			opts.Namespace = &ns
			defer ns.Close()
		}
		if err := netlink.NeighSubscribeWithOptions(ch, done, opts); err != nil {
			return fmt.Errorf("subscribe to neighbours in %q: %w", n, err)
		}
		go func(n string) {
			for u := range ch {
				select {
				case a.ev <- evNeigh{ns: n, u: u}:
				case <-done:
					return
				}
			}
		}(n)
	}
	return nil
}

// resolve looks up device indexes; devices may appear after the agent
// starts (the realizer builds them) or be re-created.
func (a *Agent) resolve() (changed bool) {
	for _, v := range a.l2 {
		br, vx, mac := lookupDevs(a.handles[v.Netns], v.Bridge, v.VxlanDev)
		if br != v.bridgeIdx || vx != v.vxlanIdx {
			changed = true
			if v.bridgeIdx != 0 {
				a.forgetDevices(v.Netns, v.Bridge, v.VxlanDev)
			}
			v.bridgeIdx, v.vxlanIdx = br, vx
			if br != 0 {
				a.log.Info("vni devices", "vni", v.VNI, "bridge", v.Bridge, "vxlan", v.VxlanDev, "netns", v.Netns)
			}
		}
		if br != 0 {
			changed = changed || mac != v.bridgeMAC
			v.bridgeMAC = mac
		}
	}
	for _, z := range a.l3 {
		br, vx, mac := lookupDevs(a.handles[z.Netns], z.Bridge, z.VxlanDev)
		if br != z.bridgeIdx || vx != z.vxlanIdx {
			changed = true
			if z.bridgeIdx != 0 {
				a.forgetDevices(z.Netns, z.Bridge, z.VxlanDev)
				a.forgetRoutes(z.Netns)
			}
			z.bridgeIdx, z.vxlanIdx = br, vx
		}
		if br != 0 {
			rmac := z.RouterMAC
			if rmac == "" {
				rmac = mac
			}
			changed = changed || rmac != z.rmac
			z.rmac = rmac
		}
	}
	return changed
}

// lookupDevs returns the indexes of a bridge and its vxlan port, both 0
// while either is missing, and the bridge's MAC.
func lookupDevs(h *netlink.Handle, bridge, vxlan string) (brIdx, vxIdx int, brMAC string) {
	br, err1 := h.LinkByName(bridge)
	vx, err2 := h.LinkByName(vxlan)
	if err1 != nil || err2 != nil {
		return 0, 0, ""
	}
	return br.Attrs().Index, vx.Attrs().Index, br.Attrs().HardwareAddr.String()
}

// forgetDevices drops our record of entries on devices that went away (the
// kernel removed the entries with them).
func (a *Agent) forgetDevices(ns string, devs ...string) {
	for k, in := range a.installed {
		if in.obj.ns() != ns {
			continue
		}
		d := in.obj.view().Dev
		for _, dev := range devs {
			if d == dev {
				delete(a.installed, k)
			}
		}
	}
}

func (a *Agent) forgetRoutes(ns string) {
	for k, in := range a.installed {
		if in.obj.ns() == ns && in.obj.kind() == "route" {
			delete(a.installed, k)
		}
	}
}

// adoptStale records entries an earlier run of the agent left in the
// kernel, so that reconcile removes those no route asks for any more
// (after the initial BGP sync).
func (a *Agent) adoptStale() {
	adopt := func(o kobj) {
		if _, ok := a.installed[o.key()]; !ok {
			a.installed[o.key()] = &installed{obj: o, stale: true}
		}
	}
	fdbs := map[string][]netlink.Neigh{}
	listFDB := func(ns string) []netlink.Neigh {
		if l, ok := fdbs[ns]; ok {
			return l
		}
		l, err := a.handles[ns].NeighList(0, unix.AF_BRIDGE)
		if err != nil {
			a.log.Warn("list fdb", "netns", ns, "err", err)
		}
		fdbs[ns] = l
		return l
	}
	adoptVxlan := func(ns, dev string, idx int, flood bool) {
		for _, n := range listFDB(ns) {
			if n.LinkIndex != idx || n.IP == nil || n.Flags&netlink.NTF_SELF == 0 {
				continue
			}
			vtep := addrFrom(n.IP)
			if flood && n.HardwareAddr.String() == zeroMAC.String() {
				adopt(&floodObj{netns: ns, dev: dev, link: idx, vtep: vtep})
			} else if n.Flags&netlink.NTF_EXT_LEARNED != 0 {
				adopt(&fdbObj{netns: ns, dev: dev, link: idx, mac: n.HardwareAddr, vtep: vtep})
			}
		}
	}
	adoptNeigh := func(ns, dev string, idx int) {
		for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
			l, err := a.handles[ns].NeighList(idx, fam)
			if err != nil {
				continue
			}
			for _, n := range l {
				if n.Flags&netlink.NTF_EXT_LEARNED != 0 && n.LinkIndex == idx {
					adopt(&neighObj{netns: ns, dev: dev, link: idx, ip: addrFrom(n.IP), mac: n.HardwareAddr})
				}
			}
		}
	}
	for _, v := range a.l2 {
		if v.vxlanIdx == 0 {
			continue
		}
		adoptVxlan(v.Netns, v.VxlanDev, v.vxlanIdx, true)
		adoptNeigh(v.Netns, v.Bridge, v.bridgeIdx)
	}
	for _, z := range a.l3 {
		if z.vxlanIdx == 0 {
			continue
		}
		adoptVxlan(z.Netns, z.VxlanDev, z.vxlanIdx, false)
		adoptNeigh(z.Netns, z.Bridge, z.bridgeIdx)
		for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
			rs, err := a.handles[z.Netns].RouteListFiltered(fam, &netlink.Route{Protocol: unix.RTPROT_BGP}, netlink.RT_FILTER_PROTOCOL)
			if err != nil {
				continue
			}
			for _, r := range rs {
				if r.Dst == nil {
					continue
				}
				p, ok := netip.AddrFromSlice(r.Dst.IP)
				if !ok {
					continue
				}
				ones, _ := r.Dst.Mask.Size()
				o := &routeObj{netns: z.Netns, dev: z.Bridge, link: z.bridgeIdx, prefix: netip.PrefixFrom(p.Unmap(), ones)}
				if r.Gw != nil {
					o.vteps = append(o.vteps, addrFrom(r.Gw))
				}
				adopt(o)
			}
		}
	}
	if a.unicastPeers() {
		a.adoptUnicast(adopt)
	}
	if n := len(a.installed); n > 0 {
		a.log.Info("found entries from an earlier run; they go unless routes confirm them", "count", n)
	}
}

// handle applies one event to the agent's state and marks it dirty when
// the event may change what reconcile programs.
func (a *Agent) handle(e any) {
	switch e := e.(type) {
	case evPaths:
		for _, p := range e.paths {
			a.onPath(p)
		}
		a.dirty = true
	case evPeer:
		a.onPeer(e)
	case evNeigh:
		a.onNeigh(e.ns, e.u)
		a.dirty = true
	case evBFD:
		a.onBFD(e)
	case evUnicast:
		a.ucDirty = true
		a.dirty = true
	case evFunc:
		e()
		a.dirty = true
	case evReload:
		e.reply <- a.reload(e.cfg)
	case evShow:
		if e.peersOnly {
			e.reply <- a.peerSnapshot()
			return
		}
		n := 0
		if e.clear {
			n = a.clearDup(e.vni, e.mac)
			a.dirty = true
		}
		if a.dirty {
			a.reconcile() // show what the events so far programmed
		}
		s := a.snapshot()
		s.Cleared = n
		e.reply <- s
	case evTick:
		a.ticks++
		resync := a.ticks%resyncTicks == 0
		// Devices are looked up every second while one is missing (the
		// realizer is still building them), else at each resync: a lookup
		// is two netlink requests per VNI.
		changed := false
		if resync || a.unresolved() {
			changed = a.resolve()
		}
		if !a.syncDone && (time.Since(a.start) > 10*time.Second || a.allUpFor(time.Second)) {
			// GoBGP sends End-of-RIB only with graceful restart, which we
			// do not want (stale routes): a table dump follows a session
			// at once, so a second of every session being up will do.
			a.syncDone = true
			changed = true
		}
		expired := a.expireMobility()
		expired = a.expireGone() || expired
		a.dialLate()
		// Events reconcile as they come; a tick reconciles only for what
		// time changed, what failed to program, and every resyncTicks
		// (measured at 300 nodes: the agents' event loops were a quarter of
		// the machine, the per-second device lookups alone 8 %).
		if changed || expired || a.retry || resync {
			a.dirty = true
		}
	}
}

// resyncTicks is how many one-second ticks pass between two full
// reconciles and device lookups that no event asked for.
const resyncTicks = 5

// unresolved tells whether a VNI's devices are not found yet.
func (a *Agent) unresolved() bool {
	for _, v := range a.l2 {
		if v.bridgeIdx == 0 {
			return true
		}
	}
	for _, z := range a.l3 {
		if z.bridgeIdx == 0 {
			return true
		}
	}
	return false
}

func (a *Agent) onPath(p *api.Path) {
	if p.Nlri == nil { // End-of-RIB marker
		if p.NeighborIp != "" {
			a.eor[p.NeighborIp] = true
			a.checkSync()
		}
		return
	}
	r, ok, err := routeFromPath(p)
	if err != nil {
		a.log.Warn("bad path", "err", err)
		return
	}
	if !ok {
		return
	}
	if r.Type == TypeUnicast {
		// Our own network path winning or losing changes which received
		// prefixes refreshUnicast keeps, so it counts too.
		a.ucDirty = true
	}
	if r.Local() {
		return
	}
	if p.IsWithdraw {
		delete(a.rib, r.Key)
		return
	}
	r.Best = true
	a.rib[r.Key] = &r
	if r.Type == TypeMACIP && r.Seq > 0 {
		a.urgent = true // a moved MAC: its FDB entry must follow now
	}
}

func (a *Agent) checkSync() {
	if a.syncDone {
		return
	}
	for addr, ps := range a.peers {
		if ps.State == "Established" && !a.eor[addr] {
			return
		}
	}
	for addr := range a.peers {
		if !a.eor[addr] {
			return
		}
	}
	a.syncDone = true
}

// allUpFor tells whether every configured session has been up for d.
func (a *Agent) allUpFor(d time.Duration) bool {
	for _, n := range a.cfg.Neighbors {
		ps := a.peers[n.Addr.String()]
		if ps == nil || ps.State != "Established" || time.Since(ps.Since) < d {
			return false
		}
	}
	return true
}

func (a *Agent) onPeer(e evPeer) {
	if _, err := netip.ParseAddr(e.addr); err != nil {
		return // GoBGP reports its own global state with a nil address
	}
	ps := a.peers[e.addr]
	if ps == nil {
		ps = &PeerStatus{Addr: e.addr}
		a.peers[e.addr] = ps
	}
	st := sessionState(e.state)
	if st == ps.State {
		return
	}
	prev := ps.State
	ps.State, ps.Since = st, time.Now()
	if e.routerID != "" && e.routerID != "<nil>" {
		ps.RouterID = e.routerID
	}
	if st == "Established" && ps.UpAfter == "" {
		ps.UpAfter = time.Since(a.start).Round(time.Millisecond).String()
	}
	if prev == "Established" {
		delete(a.eor, e.addr)
		a.ucDirty = true
		a.dirty = true
	}
	a.log.Info("bgp session", "peer", e.addr, "state", st, "was", prev)
	if st == "Established" {
		delete(a.backoff, e.addr)
	}
	if st == "Idle" && prev != "" && prev != "Idle" {
		if a.track.echo(e.addr) {
			return // our own re-creation deleted it
		}
		if prev != "Established" && !a.mayReset(e.addr) {
			return // GoBGP retries by itself after its idle hold
		}
		a.recreatePeer(e.addr, "session failed")
	}
}

// mayReset rate-limits the re-creation of a peer that fails before it
// is established: 2 s after the last, doubling to 30 s while it keeps
// failing. Measured at 50 nodes under load: re-creating at every failure
// fed itself (deleting our peer fails the other end's attempt, which
// re-creates its peer and fails ours), 16,000 resets at one node in 80 s
// and not one session up.
func (a *Agent) mayReset(addr string) bool {
	b := a.backoff[addr]
	if b == nil {
		b = &resetBackoff{}
		a.backoff[addr] = b
	}
	if time.Since(b.at) < b.wait {
		return false
	}
	b.at = time.Now()
	b.wait = min(max(2*b.wait, 2*time.Second), 30*time.Second)
	return true
}

// recreatePeer replaces a failed peer with a fresh one. GoBGP holds a
// failed session idle for 5 s and closes connections meanwhile, so two
// agents that restart close together can keep missing each other; a fresh
// peer dials again after GoBGP's 1-2 s and accepts at once. The work is
// queued for resetLoop: at 100 nodes a burst of failures made the event
// loop wait seconds on GoBGP (measured), and BFD and show behind it.
func (a *Agent) recreatePeer(addr, why string) {
	if a.bgp == nil {
		return
	}
	var conf *api.Peer
	for _, n := range a.cfg.Neighbors {
		if n.Addr.String() == addr {
			conf = peerConf(&a.cfg, n, a.guard, waitsFor(&a.cfg, n) && !a.dialing[addr])
		}
	}
	if conf == nil {
		return
	}
	if !a.track.queue(addr) {
		return // one re-creation is queued already
	}
	select {
	case a.resetQ <- resetReq{conf: conf, addr: addr, why: why, at: time.Now()}:
		a.resets++
	default:
		a.track.drop(addr)
		a.log.Warn("reset queue full: peer left to GoBGP", "peer", addr, "why", why)
	}
}

// cameBack tells whether the session of a queued re-creation was
// established after the request: the queue ran late and the session
// recovered by itself, so deleting it now would only fail it again.
func (a *Agent) cameBack(ctx context.Context, r resetReq) bool {
	back := false
	_ = a.bgpCall(ctx, func(c context.Context) error {
		return a.bgp.ListPeer(c, &api.ListPeerRequest{Address: r.conf.Conf.NeighborAddress}, func(p *api.Peer) {
			if p.State == nil || p.State.SessionState != api.PeerState_ESTABLISHED || p.Timers == nil || p.Timers.State == nil {
				return
			}
			if up := p.Timers.State.Uptime; up != nil && up.AsTime().After(r.at) {
				back = true
			}
		})
	})
	return back
}

// resetLoop re-creates the peers recreatePeer queues, one at a time.
func (a *Agent) resetLoop(ctx context.Context) {
	for {
		var r resetReq
		select {
		case <-ctx.Done():
			return
		case r = <-a.resetQ:
		}
		if a.cameBack(ctx, r) {
			a.track.drop(r.addr)
			a.log.Debug("peer re-creation dropped: the session came back", "peer", r.addr, "why", r.why)
			continue
		}
		a.track.running(r.addr)
		if err := a.bgpCall(ctx, func(c context.Context) error {
			return a.bgp.DeletePeer(c, &api.DeletePeerRequest{Address: r.conf.Conf.NeighborAddress})
		}); err != nil {
			a.log.Warn("reset peer", "peer", r.addr, "why", r.why, "err", err)
		}
		// Added even when the delete failed: a peer whose earlier re-add
		// failed is missing (GoBGP cannot delete it) and would otherwise
		// never come back; one still there refuses the add, harmlessly.
		if err := a.bgpCall(ctx, func(c context.Context) error {
			return a.bgp.AddPeer(c, &api.AddPeerRequest{Peer: r.conf})
		}); err != nil {
			a.log.Warn("re-add peer", "peer", r.addr, "why", r.why, "err", err)
		} else {
			a.log.Debug("peer re-created", "peer", r.addr, "why", r.why)
		}
	}
}

// bgpCall runs one GoBGP request with its own 5 s deadline (a slow delete
// must not leave the add that follows it without time).
func (a *Agent) bgpCall(ctx context.Context, f func(context.Context) error) error {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return f(c)
}

// dialLate makes passive peers that stayed down past passiveGrace dial.
func (a *Agent) dialLate() {
	if time.Since(a.start) < passiveGrace {
		return
	}
	for _, n := range a.cfg.Neighbors {
		addr := n.Addr.String()
		ps := a.peers[addr]
		if a.dialing[addr] || !waitsFor(&a.cfg, n) || ps == nil || ps.State == "Established" || time.Since(ps.Since) < passiveGrace {
			continue
		}
		// With BFD the grace starts when the peer answers: before that it
		// may not run yet (a lab starts its nodes one by one, 300 in
		// 18 s, and a reflector that dialled all those not yet up after
		// 15 s collided with their own connects; docs/SCALE.md, 23).
		if a.bfd != nil && n.BFD && !a.cfg.BFDDisabledAll {
			if up, ok := a.bfdUp[addr]; !ok || time.Since(up) < passiveGrace {
				continue
			}
		}
		// A peer that keeps connecting is dialling as it should: its
		// attempts fail for another reason (a busy peer), and our own
		// dial would only collide with them.
		if a.guard != nil && time.Since(a.guard.LastInbound(n.Addr)) < passiveGrace {
			continue
		}
		a.dialing[addr] = true
		a.log.Info("passive peer still down: dialling it too", "peer", addr, "state", ps.State)
		a.recreatePeer(addr, "passive peer down")
	}
}

// onBFD resets the BGP session of a peer whose BFD session went down, so its
// routes go at once (as bgpd does on a BFD down).
func (a *Agent) onBFD(e evBFD) {
	a.log.Info("bfd", "peer", e.peer, "up", e.up)
	if e.up {
		a.bfdUp[e.peer.String()] = time.Now()
	} else {
		a.bfdDowns++
		delete(a.bfdUp, e.peer.String())
	}
	if e.up || a.bgp == nil {
		return
	}
	ps := a.peers[e.peer.String()]
	if ps == nil || ps.State != "Established" {
		return
	}
	// Dropping the session drops the peer's routes at once (as bgpd does on
	// a BFD down); the fresh peer re-forms when the neighbour returns.
	a.recreatePeer(e.peer.String(), "BFD down")
}

// onNeigh learns local MACs (bridge FDB) and MAC+IP bindings (the VNet
// bridge's neighbour table).
func (a *Agent) onNeigh(ns string, u netlink.NeighUpdate) {
	n := u.Neigh
	if len(n.HardwareAddr) != 6 && u.Type != unix.RTM_DELNEIGH {
		return
	}
	mac := n.HardwareAddr.String()
	if n.Family == unix.AF_BRIDGE {
		for _, v := range a.l2 {
			if v.Netns != ns || v.bridgeIdx == 0 {
				continue
			}
			if n.LinkIndex == v.vxlanIdx {
				// The bridge now sends this MAC to the tunnel: not local.
				if u.Type == unix.RTM_NEWNEIGH && n.Flags&netlink.NTF_SELF == 0 {
					delete(v.macs, mac)
				}
				return
			}
			if n.MasterIndex != v.bridgeIdx || n.LinkIndex == v.bridgeIdx {
				continue
			}
			if n.Flags&netlink.NTF_EXT_LEARNED != 0 || n.State&netlink.NUD_PERMANENT != 0 {
				return
			}
			if u.Type == unix.RTM_DELNEIGH {
				// Hold the route a moment: in a live migration the guest
				// shows up on its new node right after, and that node must
				// still see our route to bump the sequence number.
				if cur := v.macs[mac]; cur != nil && cur.port == n.LinkIndex && cur.goneAt.IsZero() {
					cur.goneAt = time.Now()
				}
				return
			}
			if cur := v.macs[mac]; cur != nil && cur.port == n.LinkIndex && cur.goneAt.IsZero() {
				return
			}
			v.macs[mac] = &localMAC{port: n.LinkIndex, static: n.State&netlink.NUD_NOARP != 0, since: time.Now()}
			a.localLearned(v, mac)
			return
		}
		return
	}
	ip := addrFrom(n.IP)
	if !ip.IsValid() || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
		return
	}
	for _, v := range a.l2 {
		if v.Netns != ns || v.bridgeIdx == 0 || n.LinkIndex != v.bridgeIdx {
			continue
		}
		if u.Type == unix.RTM_DELNEIGH && n.Flags&netlink.NTF_EXT_LEARNED != 0 {
			// One of our remote entries went: that says nothing of a
			// local binding (adoptIPs keeps one across the swap).
			return
		}
		gone := u.Type == unix.RTM_DELNEIGH || n.State&(netlink.NUD_FAILED|netlink.NUD_INCOMPLETE) != 0 ||
			n.Flags&netlink.NTF_EXT_LEARNED != 0 || len(n.HardwareAddr) != 6
		if gone {
			delete(v.ips, ip)
		} else {
			v.ips[ip] = mac
		}
		return
	}
}

// localLearned sets the sequence number of a MAC that just appeared on a
// local port: one above any remote one (a remote route without the
// community counts as 0, so the first move carries 1).
func (a *Agent) localLearned(v *l2vni, mac string) {
	m := v.mobFor(mac)
	remote := a.remoteMACIP(v, mac)
	remoteSeq, hasRemote := maxSeq(remote)
	recent := !m.remoteAt.IsZero() && time.Since(m.remoteAt) < a.cfg.DupWindow
	if (hasRemote || recent) && !a.cfg.Fault(FaultStuckSequence) {
		s := m.remoteSeq
		if hasRemote && remoteSeq > s {
			s = remoteSeq
		}
		if s+1 > m.seq {
			m.seq = s + 1
		}
	}
	a.adoptIPs(v, mac, remote)
	a.urgent = true
	a.log.Debug("local mac", "vni", v.VNI, "mac", mac, "seq", m.seq)
}

// adoptIPs: a guest keeps its addresses when it moves, so the IPs that
// remote MAC/IP routes bind to a MAC that just appeared on a local port are
// bound to it here at once and advertised in the same UPDATE round as the
// MAC (the old node withdraws its MAC/IP routes as soon as it sees ours;
// waiting for the guest to talk would leave the routed path without a host
// route meanwhile). The kernel confirms each: reconcile turns our remote
// neighbour entry into a probe (NUD_PROBE, a unicast ARP/NS to the MAC),
// and an unanswered probe (NUD_FAILED) drops the binding. remote are mac's
// type 2 routes in v (remoteMACIP).
func (a *Agent) adoptIPs(v *l2vni, mac string, remote []*Route) {
	for _, r := range remote {
		if !r.IP.IsValid() || r.IP.IsLinkLocalUnicast() {
			continue
		}
		if _, ok := v.ips[r.IP]; ok {
			continue
		}
		v.ips[r.IP] = mac
		o := &neighObj{netns: v.Netns, dev: v.Bridge, link: v.bridgeIdx, ip: r.IP, mac: parseMAC(mac)}
		a.probe[o.key()] = o
	}
}

func (v *l2vni) mobFor(mac string) *mobility {
	m := v.mob[mac]
	if m == nil {
		m = &mobility{}
		v.mob[mac] = m
	}
	return m
}

// remoteMACIP are the remote type 2 routes (MAC and MAC/IP) for mac in v:
// one pass over the RIB serves both the sequence number a move must beat
// and the IPs the MAC brings along.
func (a *Agent) remoteMACIP(v *l2vni, mac string) []*Route {
	var out []*Route
	for _, r := range a.rib {
		if r.Type == TypeMACIP && r.MAC == mac && rtMatch(r.RTs, v.ImportRTs) {
			out = append(out, r)
		}
	}
	return out
}

// maxSeq is the highest sequence number among rs (a route without the
// community counts as 0); found is false when rs is empty.
func maxSeq(rs []*Route) (best uint32, found bool) {
	for _, r := range rs {
		best = max(best, r.Seq)
	}
	return best, len(rs) > 0
}

// move records one move of a MAC and flags it duplicate after MaxMoves
// moves within the window (FRR's dup-addr-detection).
func (a *Agent) move(v *l2vni, mac string, m *mobility) {
	now := time.Now()
	m.moves = append(m.moves, now)
	keep := m.moves[:0]
	for _, t := range m.moves {
		if now.Sub(t) < a.cfg.DupWindow {
			keep = append(keep, t)
		}
	}
	m.moves = keep
	if !m.dup && len(m.moves) >= a.cfg.DupMaxMoves {
		m.dup, m.dupAt = true, now
		what := "duplicate MAC detected (warning only, as FRR without freeze)"
		if a.cfg.DupFreeze > 0 {
			what = "duplicate MAC detected: frozen, no longer advertised from here"
		}
		a.log.Warn(what, "vni", v.VNI, "mac", mac, "moves", len(m.moves), "window", a.cfg.DupWindow)
	}
}

// expireGone withdraws MACs that left their port and did not come back.
func (a *Agent) expireGone() (expired bool) {
	for _, v := range a.l2 {
		for mac, l := range v.macs {
			if !l.goneAt.IsZero() && time.Since(l.goneAt) >= withdrawHold {
				delete(v.macs, mac)
				expired = true
			}
		}
	}
	return expired
}

// expireMobility ends a freeze after DupFreeze (FRR's freeze timer runs
// from detection). Without freeze the flag stays until cleared, as in FRR.
func (a *Agent) expireMobility() (expired bool) {
	for _, v := range a.l2 {
		for mac, m := range v.mob {
			if m.dup && a.cfg.DupFreeze > 0 && time.Since(m.dupAt) > a.cfg.DupFreeze {
				m.dup, m.moves = false, nil
				a.log.Info("duplicate MAC freeze over: flag cleared", "vni", v.VNI, "mac", mac)
				expired = true
			}
			if m.owner == "" && v.macs[mac] == nil && time.Since(m.remoteAt) > a.cfg.DupWindow && !m.dup {
				delete(v.mob, mac)
				expired = true
			}
		}
	}
	return expired
}

// clearDup is FRR's `clear evpn dup-addr`: vni 0 means every VNI, mac ""
// every MAC. It returns how many flags it cleared.
func (a *Agent) clearDup(vni uint32, mac string) int {
	n := 0
	for _, v := range a.l2 {
		if vni != 0 && v.VNI != vni {
			continue
		}
		for k, m := range v.mob {
			if m.dup && (mac == "" || k == mac) {
				m.dup, m.moves = false, nil
				n++
				a.log.Info("duplicate MAC flag cleared by request", "vni", v.VNI, "mac", k)
			}
		}
	}
	return n
}

func parseMAC(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}
