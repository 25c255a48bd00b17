package evpn

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/sdnlab/sdnlab/sdn/bfd"
)

// Snapshot is the agent's state as `sdnlab show` prints it.
type Snapshot struct {
	Node     string `json:"node"`
	RouterID string `json:"router_id"`
	ASN      uint32 `json:"asn"`
	VTEP     string `json:"vtep"`
	Uptime   string `json:"uptime"`
	Synced   bool   `json:"synced"`
	// Goroutines is the agent's goroutine count (leak checks).
	Goroutines int `json:"goroutines"`
	// Runtime is the agent process's Go runtime (scale measurements).
	Runtime RuntimeStats `json:"runtime"`
	// BFD counts the BFD scheduler's work (nil: no BFD).
	BFD   *bfd.Stats   `json:"bfd,omitempty"`
	Peers []PeerStatus `json:"peers"`
	// BFDDropped counts received BFD packets dropped by the checks of
	// RFC 5880 section 6.8.6, by reason.
	BFDDropped map[string]uint64 `json:"bfd_dropped,omitempty"`
	Routes     []Route           `json:"routes"` // local and remote EVPN routes
	Kernel     []KernelEntry     `json:"kernel"` // what the agent programmed
	Local      []LocalEntry      `json:"local"`  // MACs and MAC+IP learned on this node
	// Duplicates are the MACs flagged by duplicate address detection,
	// wherever they live now (FRR's `show evpn mac vni all duplicate`).
	Duplicates []DupEntry `json:"duplicates"`
	// Cleared is how many flags a clear request removed.
	Cleared int `json:"cleared,omitempty"`
}

// DupEntry is one MAC flagged duplicate.
type DupEntry struct {
	VNI      uint32    `json:"vni"`
	MAC      string    `json:"mac"`
	Owner    string    `json:"owner"` // local or remote: where it was last
	Seq      uint32    `json:"seq"`
	Since    time.Time `json:"since"`
	Moves    int       `json:"moves"`
	Frozen   bool      `json:"frozen,omitempty"` // no longer advertised (DupFreeze)
	FreezeTo time.Time `json:"freeze_until,omitzero"`
}

// LocalEntry is a MAC (and its IPs) learned on a local port.
type LocalEntry struct {
	VNI   uint32   `json:"vni"`
	MAC   string   `json:"mac"`
	IPs   []string `json:"ips,omitempty"`
	Seq   uint32   `json:"seq"`
	Owner string   `json:"owner"` // local or remote (a newer route elsewhere won)
	Dup   bool     `json:"duplicate,omitempty"`
	Moves int      `json:"moves,omitempty"`
}

func (a *Agent) snapshot() *Snapshot {
	s := a.peerSnapshot()
	a.addTables(s)
	return s
}

// peerSnapshot is the agent's sessions and counters, without its tables.
func (a *Agent) peerSnapshot() *Snapshot {
	s := &Snapshot{Node: a.cfg.Node, RouterID: a.cfg.RouterID.String(), ASN: a.cfg.ASN, VTEP: a.cfg.LocalVTEP.String(),
		Uptime: time.Since(a.start).Round(time.Millisecond).String(), Synced: a.syncDone,
		Goroutines: runtime.NumGoroutine(), Runtime: readRuntime()}
	s.Runtime.Resets, s.Runtime.BFDDowns = a.resets, a.bfdDowns
	received := map[string]int{}
	for _, r := range a.rib {
		received[r.Peer]++
	}
	for _, p := range a.peers {
		ps := *p
		ps.Received = received[ps.Addr]
		if a.guard != nil {
			if addr, err := netip.ParseAddr(ps.Addr); err == nil {
				ps.Malformed = a.guard.Counters(addr)
			}
		}
		if ps.State == "Established" {
			ps.UpFor = time.Since(ps.Since).Round(time.Second).String()
		}
		for _, n := range a.cfg.Neighbors {
			if n.Addr.String() != ps.Addr || !n.BFD || a.cfg.BFDDisabledAll {
				continue
			}
			// Asked for and not running is a state too: the session has
			// no fast failure detection.
			ps.BFD = BFDNotRunning
			if a.bfd != nil {
				ps.BFD = a.bfd.State(n.Addr)
			}
		}
		s.Peers = append(s.Peers, ps)
	}
	sort.Slice(s.Peers, func(i, j int) bool { return s.Peers[i].Addr < s.Peers[j].Addr })
	if a.bfd != nil {
		st := a.bfd.Stats()
		s.BFD = &st
		s.BFDDropped = a.bfd.Dropped()
	}
	return s
}

// addTables adds the routes, kernel state and duplicates to s.
func (a *Agent) addTables(s *Snapshot) {
	for _, r := range a.adverts {
		rr := *r
		rr.Best = true
		s.Routes = append(s.Routes, rr)
	}
	for _, r := range a.rib {
		s.Routes = append(s.Routes, *r)
	}
	sort.Slice(s.Routes, func(i, j int) bool {
		if s.Routes[i].Type != s.Routes[j].Type {
			return s.Routes[i].Type < s.Routes[j].Type
		}
		if s.Routes[i].RD != s.Routes[j].RD {
			return s.Routes[i].RD < s.Routes[j].RD
		}
		return s.Routes[i].Key < s.Routes[j].Key
	})
	for _, in := range a.installed {
		e := in.obj.view()
		e.Stale = in.stale
		s.Kernel = append(s.Kernel, e)
	}
	sort.Slice(s.Kernel, func(i, j int) bool {
		return s.Kernel[i].Kind+s.Kernel[i].Dev+s.Kernel[i].MAC+s.Kernel[i].IP+s.Kernel[i].Prefix <
			s.Kernel[j].Kind+s.Kernel[j].Dev+s.Kernel[j].MAC+s.Kernel[j].IP+s.Kernel[j].Prefix
	})
	for _, v := range a.l2 {
		for mac, m := range v.mob {
			if v.macs[mac] == nil && m.owner != "local" {
				continue
			}
			e := LocalEntry{VNI: v.VNI, MAC: mac, Seq: m.seq, Owner: m.owner, Dup: m.dup, Moves: len(m.moves)}
			for ip, im := range v.ips {
				if im == mac {
					e.IPs = append(e.IPs, ip.String())
				}
			}
			sort.Strings(e.IPs)
			s.Local = append(s.Local, e)
		}
	}
	sort.Slice(s.Local, func(i, j int) bool {
		return fmt.Sprint(s.Local[i].VNI, s.Local[i].MAC) < fmt.Sprint(s.Local[j].VNI, s.Local[j].MAC)
	})
	s.Duplicates = []DupEntry{}
	for _, v := range a.l2 {
		for mac, m := range v.mob {
			if !m.dup {
				continue
			}
			e := DupEntry{VNI: v.VNI, MAC: mac, Owner: m.owner, Seq: m.seq, Since: m.dupAt, Moves: len(m.moves)}
			if a.cfg.DupFreeze > 0 {
				e.Frozen, e.FreezeTo = true, m.dupAt.Add(a.cfg.DupFreeze)
			}
			s.Duplicates = append(s.Duplicates, e)
		}
	}
	sort.Slice(s.Duplicates, func(i, j int) bool {
		return fmt.Sprint(s.Duplicates[i].VNI, s.Duplicates[i].MAC) < fmt.Sprint(s.Duplicates[j].VNI, s.Duplicates[j].MAC)
	})
}

// Snapshot asks the running agent for its state.
func (a *Agent) Snapshot(ctx context.Context) (*Snapshot, error) {
	return a.ask(ctx, evShow{})
}

// Peers asks the running agent for its sessions only (ShowPeers).
func (a *Agent) Peers(ctx context.Context) (*Snapshot, error) {
	return a.ask(ctx, evShow{peersOnly: true})
}

// ClearDup clears duplicate flags (vni 0: all VNIs, mac "": all MACs) and
// returns the state afterwards, Cleared saying how many went.
func (a *Agent) ClearDup(ctx context.Context, vni uint32, mac string) (*Snapshot, error) {
	return a.ask(ctx, evShow{clear: true, vni: vni, mac: mac})
}

func (a *Agent) ask(ctx context.Context, e evShow) (*Snapshot, error) {
	reply := make(chan *Snapshot, 1)
	e.reply = reply
	select {
	case a.ev <- e:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case s := <-reply:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Request is one control socket request: {"show":"all"} (ShowAll),
// {"show":"peers"} (ShowPeers), or {"clear":"dup","vni":N,"mac":"..."}
// (vni and mac optional).
type Request struct {
	Show  string `json:"show,omitempty"`
	Clear string `json:"clear,omitempty"`
	VNI   uint32 `json:"vni,omitempty"`
	MAC   string `json:"mac,omitempty"`
	// Reload applies a new configuration in place (Agent.Reload); the
	// reply is the state afterwards, or an error naming ErrNeedsRestart.
	Reload *Config `json:"reload,omitempty"`
}

// ServeControl answers requests on a unix socket until ctx ends. The
// protocol is one JSON Request line and one JSON Snapshot in reply; the
// client picks what to print.
func (a *Agent) ServeControl(ctx context.Context, path string) error {
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	go func() {
		<-ctx.Done()
		l.Close()
		os.Remove(path)
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go a.serveConn(ctx, c)
		}
	}()
	return nil
}

func (a *Agent) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	var req Request
	_ = json.Unmarshal([]byte(line), &req) // an unreadable request still gets the state
	var s *Snapshot
	switch {
	case req.Reload != nil:
		if err = a.Reload(ctx, *req.Reload); err == nil {
			s, err = a.Snapshot(ctx)
		}
	case req.Clear == "" && req.Show == ShowPeers:
		s, err = a.Peers(ctx)
	case req.Clear == "":
		s, err = a.Snapshot(ctx)
	case req.Clear == "dup":
		s, err = a.ClearDup(ctx, req.VNI, normMAC(req.MAC))
	default:
		err = fmt.Errorf("unknown clear %q", req.Clear)
	}
	if err != nil {
		_ = json.NewEncoder(c).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(c).Encode(s)
}

// ShowAll asks for everything the agent knows: sessions, counters,
// routes, kernel state and duplicates, programmed first.
const ShowAll = "all"

// ShowPeers asks for the sessions and counters only: no routes or kernel
// state, and the answer does not first program what events changed, as
// a full show does. For pollers: the scale bench asked each node of a
// 100-node lab for everything twice a second, and every answer forced a
// reconcile outside the agent's gap (docs/SCALE.md 34).
const ShowPeers = "peers"

// Query asks the agent behind the control socket at path for its state.
func Query(ctx context.Context, path string) (*Snapshot, error) {
	return Call(ctx, path, Request{Show: ShowAll})
}

// normMAC is the canonical text of a MAC ("" stays "").
func normMAC(s string) string {
	if m, err := net.ParseMAC(s); err == nil {
		return m.String()
	}
	return s
}

// Call sends one request to the agent behind the control socket at path.
func Call(ctx context.Context, path string, req Request) (*Snapshot, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent control socket %s: %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("agent control socket: %w", err)
	}
	var reply struct {
		Snapshot
		Error string `json:"error"`
	}
	if err := json.NewDecoder(c).Decode(&reply); err != nil {
		return nil, errors.Join(fmt.Errorf("agent control socket: bad reply"), err)
	}
	if reply.Error != "" {
		return nil, fmt.Errorf("agent: %s", reply.Error)
	}
	return &reply.Snapshot, nil
}

// RuntimeStats are the Go runtime figures of an agent process.
type RuntimeStats struct {
	GOMAXPROCS int    `json:"gomaxprocs"`
	GCCycles   uint32 `json:"gc_cycles"`
	HeapMB     uint64 `json:"heap_mb"`   // live and unswept heap objects
	SysMB      uint64 `json:"sys_mb"`    // obtained from the OS
	Resets     uint64 `json:"resets"`    // BGP peers re-created (session failed, BFD down)
	BFDDowns   uint64 `json:"bfd_downs"` // BFD sessions that went from Up to Down
}

func readRuntime() RuntimeStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return RuntimeStats{GOMAXPROCS: runtime.GOMAXPROCS(0), GCCycles: ms.NumGC, HeapMB: ms.HeapAlloc >> 20, SysMB: ms.Sys >> 20}
}
