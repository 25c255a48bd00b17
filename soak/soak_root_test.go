package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/sdn"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/topology"
)

const demoFile = "../examples/demo/lab.yaml"

// Helper mode for the kill -9 cycles: the test binary brings a lab up (with
// agents), says UP, and waits to be killed.
const (
	envUpFile  = "SDNLAB_SOAK_UP_FILE"
	envUpName  = "SDNLAB_SOAK_UP_NAME"
	envUpState = "SDNLAB_SOAK_UP_STATE"
	envUpAgent = "SDNLAB_SOAK_UP_AGENT"
)

func TestMain(m *testing.M) {
	if f := os.Getenv(envUpFile); f != "" {
		lab, err := topology.LoadNamed(f, os.Getenv(envUpName), sdn.Compile)
		if err == nil {
			_, err = topology.Up(context.Background(), lab, topology.Options{StateDir: os.Getenv(envUpState),
				StartAgents: true, AgentPath: os.Getenv(envUpAgent)})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("UP")
		select {}
	}
	os.Exit(m.Run())
}

// counts of the short form (CI) and of SDNLAB_SOAK=long (`make soak`).
type counts struct{ migrations, cycles, kills, flaps int }

func soakCounts() counts {
	if os.Getenv("SDNLAB_SOAK") == "long" {
		return counts{migrations: 1000, cycles: 200, kills: 50, flaps: 200}
	}
	return counts{migrations: 100, cycles: 20, kills: 5, flaps: 5}
}

// figures are what the soak prints.
type figures struct {
	migrations    int
	migrateTime   time.Duration
	recoveries    []time.Duration // first probe reply after each migration
	probesLost    int
	dupFlagged    int
	flaps         int
	flapRecovery  []time.Duration
	cycles, kills int
	cycleTime     time.Duration
	peakRSS       map[string]int // kB per node
	res50, resEnd map[string]resources
	leaks         []string
}

func (f *figures) print(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "soak figures (a shared 2-core machine: timings are noisy)\n")
	if f.migrations > 0 {
		fmt.Fprintf(&b, "  migrations: %d in %s (%.0f per minute); first probe reply after a move: median %s, max %s; probes lost %d\n",
			f.migrations, f.migrateTime.Round(time.Millisecond), float64(f.migrations)/f.migrateTime.Minutes(),
			median(f.recoveries), maxDur(f.recoveries), f.probesLost)
		fmt.Fprintf(&b, "  MACs flagged duplicate (warn only): %d\n", f.dupFlagged)
		for _, n := range slices.Sorted(mapsKeys(f.resEnd)) {
			r50, re := f.res50[n], f.resEnd[n]
			fmt.Fprintf(&b, "  agent %s: RSS after 50 %d kB, peak %d kB, final %d kB; goroutines %d -> %d; fds %d -> %d\n",
				n, r50.rssKB, f.peakRSS[n], re.rssKB, r50.goroutines, re.goroutines, r50.fds, re.fds)
		}
	}
	if f.flaps > 0 {
		fmt.Fprintf(&b, "  session flaps: %d; tables back to the same state after: median %s, max %s\n",
			f.flaps, median(f.flapRecovery), maxDur(f.flapRecovery))
	}
	if f.cycles > 0 {
		fmt.Fprintf(&b, "  up/down cycles: %d, %s each on average\n", f.cycles, (f.cycleTime / time.Duration(f.cycles)).Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "  ups interrupted by kill -9: %d\n", f.kills)
	fmt.Fprintf(&b, "  leaks found: %d\n", len(f.leaks))
	for _, l := range f.leaks {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	t.Log(b.String())
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Microsecond)
}

func maxDur(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return slices.Max(d).Round(100 * time.Microsecond)
}

// TestSoak is the long run (short form by default). It fails on any leak:
// stale or missing kernel entries after the migrations and after each
// flap, inconsistent MAC mobility sequences, a frozen duplicate, agent RSS,
// goroutines or file descriptors growing more than 10 %, or anything left
// after down.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a long run")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to build labs")
	}
	c := soakCounts()
	bin := sdnlabBinary(t)
	f := &figures{peakRSS: map[string]int{}}
	defer f.print(t)
	host := hostState(t)
	t.Run("migrations-and-flaps", func(t *testing.T) { migrationsAndFlaps(t, bin, c, f) })
	t.Run("up-down", func(t *testing.T) { upDownCycles(t, bin, c.cycles, f) })
	t.Run("kill9", func(t *testing.T) { killedUps(t, bin, c.kills, f) })
	if after := hostState(t); after != host {
		f.leaks = append(f.leaks, "host network changed")
		t.Errorf("the host's ip addr/route/link changed:\nbefore:\n%s\nafter:\n%s", host, after)
	}
}

// sdnlabBinary builds the sdnlab command (the node agent).
func sdnlabBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sdnlab")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/sdnlab/sdnlab/cmd/sdnlab").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/sdnlab: %v\n%s", err, out)
	}
	return bin
}

func labName(suffix string) string { return fmt.Sprintf("t%d%s", os.Getpid(), suffix) }

// hostState is the host's ip addr, route and link, without address
// lifetimes (they count down).
func hostState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"-o", "link"}, {"addr"}, {"route"}, {"-6", "route"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v", args, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "valid_lft") {
				continue
			}
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// soakLab is the demo lab under migration.
type soakLab struct {
	t     *testing.T
	lab   *topology.Lab
	dir   string // the lab's state directory
	nodes []string
	home  map[string]string // guest -> node at the start
	where map[string]string
	moves map[string]int
}

func upDemo(t *testing.T, bin, name string) *soakLab {
	t.Helper()
	opts := topology.Options{StateDir: t.TempDir(), StartAgents: true, AgentPath: bin}
	lab, err := topology.LoadNamed(demoFile, name, sdn.Compile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topology.Down(context.Background(), name, opts); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	lab, err = topology.Up(context.Background(), lab, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	s := &soakLab{t: t, lab: lab, dir: opts.LabDir(name), home: map[string]string{}, where: map[string]string{}, moves: map[string]int{}}
	for _, n := range lab.Nodes {
		s.nodes = append(s.nodes, n.Name)
	}
	for _, g := range lab.Guests {
		s.home[g.Name], s.where[g.Name] = g.Node, g.Node
	}
	return s
}

func (s *soakLab) query(node string) *evpn.Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	snap, err := evpn.Query(ctx, filepath.Join(s.dir, "nodes", node, "agent.sock"))
	if err != nil {
		return nil
	}
	return snap
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		ok, info := cond()
		if ok {
			return time.Since(start)
		}
		last = info
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; last:\n%s", timeout, what, last)
	return 0
}

// sessionsUp tells whether every agent has every session established.
func (s *soakLab) sessionsUp() (bool, string) {
	for _, n := range s.nodes {
		snap := s.query(n)
		if snap == nil {
			return false, n + ": agent does not answer"
		}
		for _, p := range snap.Peers {
			if p.State != "Established" {
				return false, fmt.Sprintf("%s: peer %s %s", n, p.Addr, p.State)
			}
		}
	}
	return true, ""
}

// partners are the other guests of a guest's VNet.
func (s *soakLab) partners(guest string) []*topology.Guest {
	g := s.lab.Guest(guest)
	var out []*topology.Guest
	for _, o := range s.lab.Guests {
		if o.Name != guest && o.VNet == g.VNet {
			out = append(out, o)
		}
	}
	return out
}

// probe pings from guest to each partner until one reply each (every
// address family both have); it returns the time to the last first reply
// and how many single probes went unanswered.
func (s *soakLab) probe(guest string, timeout time.Duration) (time.Duration, int, error) {
	start := time.Now()
	lost := 0
	for _, p := range s.partners(guest) {
		for _, a := range p.Addrs {
			if !hasFamily(s.lab.Guest(guest), a.Addr()) {
				continue
			}
			for {
				r, err := s.lab.Ping(context.Background(), guest, a.Addr(), ping.Opts{Count: 1, Timeout: 300 * time.Millisecond})
				if err == nil && r.Received == 1 {
					break
				}
				lost++
				if time.Since(start) > timeout {
					return 0, lost, fmt.Errorf("%s -> %s (%s): no reply in %s", guest, p.Name, a.Addr(), timeout)
				}
			}
		}
	}
	return time.Since(start), lost, nil
}

func hasFamily(g *topology.Guest, a netip.Addr) bool {
	for _, p := range g.Addrs {
		if p.Addr().Is4() == a.Is4() {
			return true
		}
	}
	return false
}

// probeAll refreshes every guest's presence (it sends traffic) and checks
// reachability within each VNet.
func (s *soakLab) probeAll() {
	s.t.Helper()
	for _, g := range s.lab.Guests {
		if _, _, err := s.probe(g.Name, 10*time.Second); err != nil {
			s.t.Fatal(err)
		}
	}
}

// tables are the kernel entries the agents program, per namespace: remote
// FDB and flood entries, extern_learn neighbours, BGP routes.
func (s *soakLab) tables() map[string][]string {
	out := map[string][]string{}
	for _, n := range s.lab.Nodes {
		nss := []string{n.NS}
		for _, z := range s.lab.Plans[n.Name].Zones {
			nss = append(nss, topology.VRFNS(s.lab.Name, n.Name, z.ID))
		}
		for _, ns := range nss {
			var lines []string
			for _, c := range []struct {
				cmd  []string
				keep func(string) bool
			}{
				{[]string{"bridge", "fdb", "show"}, func(l string) bool {
					return strings.Contains(l, "extern_learn") || strings.Contains(l, " dst ")
				}},
				{[]string{"ip", "neigh", "show"}, func(l string) bool { return strings.Contains(l, "extern_learn") }},
				{[]string{"ip", "-4", "route", "show", "table", "all", "proto", "bgp"}, func(string) bool { return true }},
				{[]string{"ip", "-6", "route", "show", "table", "all", "proto", "bgp"}, func(string) bool { return true }},
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				b, err := nsutil.Output(ctx, ns, c.cmd...)
				cancel()
				if err != nil {
					lines = append(lines, fmt.Sprintf("error: %v: %v", c.cmd, err))
					continue
				}
				for _, l := range strings.Split(string(b), "\n") {
					if l = strings.TrimSpace(l); l != "" && c.keep(l) {
						lines = append(lines, strings.Join(c.cmd[:2], " ")+": "+l)
					}
				}
			}
			sort.Strings(lines)
			out[strings.TrimPrefix(ns, topology.NSPrefix(s.lab.Name))] = lines
		}
	}
	return out
}

// diffTables lists what is missing from and extra in got, against want.
func diffTables(want, got map[string][]string) []string {
	var out []string
	for _, ns := range slices.Sorted(mapsKeys(want)) {
		for _, l := range want[ns] {
			if !slices.Contains(got[ns], l) {
				out = append(out, fmt.Sprintf("%s: missing: %s", ns, l))
			}
		}
		for _, l := range got[ns] {
			if !slices.Contains(want[ns], l) {
				out = append(out, fmt.Sprintf("%s: stale: %s", ns, l))
			}
		}
	}
	return out
}

// resources of one agent process.
type resources struct{ rssKB, goroutines, fds int }

func (s *soakLab) resources(node string) (resources, error) {
	var r resources
	pid := topology.AgentPID(s.lab, s.dir, node)
	if pid == 0 {
		return r, fmt.Errorf("node %s: no agent running", node)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return r, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			r.rssKB, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return r, err
	}
	r.fds = len(fds)
	snap := s.query(node)
	if snap == nil {
		return r, fmt.Errorf("node %s: agent does not answer", node)
	}
	r.goroutines = snap.Goroutines
	return r, nil
}

func (s *soakLab) allResources() map[string]resources {
	s.t.Helper()
	out := map[string]resources{}
	for _, n := range s.nodes {
		r, err := s.resources(n)
		if err != nil {
			s.t.Fatal(err)
		}
		out[n] = r
	}
	return out
}

// nextMove picks a random migration such that, after remaining moves in
// all, every guest is back home: the final placement is the initial one,
// whose tables were recorded on a freshly built lab.
func (s *soakLab) nextMove(rng *rand.Rand, remaining int) (guest, to string) {
	var displaced, all []string
	for _, g := range slices.Sorted(mapsKeys(s.where)) {
		all = append(all, g)
		if s.where[g] != s.home[g] {
			displaced = append(displaced, g)
		}
	}
	other := func(not ...string) string {
		var c []string
		for _, n := range s.nodes {
			if !slices.Contains(not, n) {
				c = append(c, n)
			}
		}
		return c[rng.IntN(len(c))]
	}
	switch {
	case remaining == len(displaced):
		g := displaced[rng.IntN(len(displaced))]
		return g, s.home[g]
	case remaining == len(displaced)+1 && len(displaced) > 0:
		g := displaced[rng.IntN(len(displaced))]
		return g, other(s.home[g], s.where[g])
	}
	g := all[rng.IntN(len(all))]
	return g, other(s.where[g])
}

func migrationsAndFlaps(t *testing.T, bin string, c counts, f *figures) {
	s := upDemo(t, bin, labName("sk"))
	eventually(t, "every session established", 60*time.Second, s.sessionsUp)
	s.probeAll()
	// The reference: the tables of the fresh lab, once they stop changing.
	var base map[string][]string
	eventually(t, "tables settle", 30*time.Second, func() (bool, string) {
		a := s.tables()
		time.Sleep(time.Second)
		b := s.tables()
		base = b
		d := diffTables(a, b)
		return len(d) == 0, strings.Join(d, "\n")
	})
	entries := 0
	for _, l := range base {
		entries += len(l)
	}
	if entries < 20 {
		t.Fatalf("only %d agent-programmed kernel entries in the fresh lab: the comparison would check nothing\n%v", entries, base)
	}

	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SDNLAB_SOAK_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("migration seed %d (SDNLAB_SOAK_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	// One RARP per move instead of QEMU's five rounds over 800 ms: the soak
	// looks for leaks, not announcement timing (the migration scenarios
	// check that), and the probe after each move makes the guest heard.
	schedule := topology.AnnounceSchedule
	topology.AnnounceSchedule = []time.Duration{0}
	defer func() { topology.AnnounceSchedule = schedule }()
	at50 := min(50, c.migrations/2)
	start := time.Now()
	for i := 0; i < c.migrations; i++ {
		g, to := s.nextMove(rng, c.migrations-i)
		if _, err := topology.Migrate(context.Background(), s.lab, g, to, 20*time.Millisecond); err != nil {
			t.Fatalf("migration %d: %s to %s: %v", i+1, g, to, err)
		}
		s.where[g] = to
		s.moves[g]++
		d, lost, err := s.probe(g, 10*time.Second)
		if err != nil {
			t.Fatalf("migration %d (%s to %s): %v", i+1, g, to, err)
		}
		f.recoveries = append(f.recoveries, d)
		f.probesLost += lost
		for _, n := range s.nodes {
			if r, err := s.resources(n); err == nil && r.rssKB > f.peakRSS[n] {
				f.peakRSS[n] = r.rssKB
			}
		}
		if i+1 == at50 {
			f.res50 = s.allResources()
		}
	}
	f.migrations = c.migrations
	f.migrateTime = time.Since(start)
	for g, n := range s.where {
		if n != s.home[g] {
			t.Fatalf("guest %s ends on %s, not home on %s", g, n, s.home[g])
		}
	}
	s.probeAll()
	settled := func(what string) {
		t.Helper()
		var d []string
		_ = eventually(t, what, 60*time.Second, func() (bool, string) {
			d = diffTables(base, s.tables())
			return len(d) == 0, strings.Join(d, "\n")
		})
	}
	settled("the tables of the final placement (the fresh lab's)")
	s.staleControl(t, base)
	s.checkMobility(t, f)
	f.resEnd = s.allResources()
	for _, n := range s.nodes {
		a, b := f.res50[n], f.resEnd[n]
		if float64(b.rssKB) > 1.1*float64(a.rssKB) {
			f.leaks = append(f.leaks, fmt.Sprintf("agent %s RSS %d kB -> %d kB", n, a.rssKB, b.rssKB))
		}
		if !within10(a.goroutines, b.goroutines) {
			f.leaks = append(f.leaks, fmt.Sprintf("agent %s goroutines %d -> %d", n, a.goroutines, b.goroutines))
		}
		if !within10(a.fds, b.fds) {
			f.leaks = append(f.leaks, fmt.Sprintf("agent %s file descriptors %d -> %d", n, a.fds, b.fds))
		}
	}
	if len(f.leaks) > 0 {
		t.Errorf("leaks over %d migrations: %v", c.migrations, f.leaks)
	}

	// Session flaps: the last node's underlay port on its switch goes down
	// (carrier lost, the node keeps its addresses and routes) and comes
	// back; every table must return to the reference each time.
	victim := s.lab.Nodes[len(s.lab.Nodes)-1]
	watcher := s.nodes[0]
	sw := s.lab.Segment(victim.Link.Segment).NS
	for i := 0; i < c.flaps; i++ {
		setLink(t, sw, victim.Link.Port, "down")
		eventually(t, "the cut seen by "+watcher, 30*time.Second, func() (bool, string) {
			snap := s.query(watcher)
			if snap == nil {
				return false, "no answer"
			}
			for _, p := range snap.Peers {
				if p.Addr == victim.Addr.Addr().String() {
					return p.State != "Established", p.State
				}
			}
			return false, "no such peer"
		})
		setLink(t, sw, victim.Link.Port, "up")
		start := time.Now()
		eventually(t, "sessions back after flap "+strconv.Itoa(i+1), 60*time.Second, s.sessionsUp)
		settled("tables back after flap " + strconv.Itoa(i+1))
		f.flapRecovery = append(f.flapRecovery, time.Since(start))
		f.flaps++
	}
}

// staleControl shows the table comparison sees a stale entry: one added by
// hand to a VNet's vxlan device is reported, and removed again.
func (s *soakLab) staleControl(t *testing.T, base map[string][]string) {
	t.Helper()
	n := s.lab.Nodes[0]
	z := s.lab.Plans[n.Name].Zones[0]
	vrf := topology.VRFNS(s.lab.Name, n.Name, z.ID)
	dev := z.VNets[0].Vxlan
	entry := []string{"bridge", "fdb", "add", "02:00:5e:00:53:99", "dev", dev, "dst", "192.0.2.99", "self", "extern_learn"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := nsutil.Output(ctx, vrf, entry...); err != nil {
		t.Fatalf("positive control: %v: %v\n%s", entry, err, out)
	}
	d := diffTables(base, s.tables())
	entry[2] = "del"
	if out, err := nsutil.Output(ctx, vrf, entry...); err != nil {
		t.Fatalf("positive control: %v: %v\n%s", entry, err, out)
	}
	if len(d) != 1 || !strings.Contains(d[0], "stale") || !strings.Contains(d[0], "02:00:5e:00:53:99") {
		t.Fatalf("positive control: a stale FDB entry added by hand is not reported as the one difference: %v", d)
	}
}

func within10(a, b int) bool {
	d := float64(b - a)
	return d <= 0.1*float64(a) && -d <= 0.1*float64(a)
}

func setLink(t *testing.T, ns, dev, state string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := nsutil.Output(ctx, ns, "ip", "link", "set", dev, state); err != nil {
		t.Fatalf("%s: ip link set %s %s: %v\n%s", ns, dev, state, err, out)
	}
}

// checkMobility: every node holds one route per guest MAC, all with the
// same MAC mobility sequence, equal to the guest's number of moves (RFC 7432
// section 15: each move bumps it by one); duplicates are flagged as FRR
// does (warn only), never frozen.
func (s *soakLab) checkMobility(t *testing.T, f *figures) {
	t.Helper()
	dups := map[string]bool{}
	for _, n := range s.nodes {
		snap := s.query(n)
		if snap == nil {
			t.Fatalf("%s: agent does not answer", n)
		}
		for _, g := range s.lab.Guests {
			mac := strings.ToLower(g.MAC)
			origins := map[string]bool{}
			var seqs []uint32
			for _, r := range snap.Routes {
				if r.Type != evpn.TypeMACIP || strings.ToLower(r.MAC) != mac {
					continue
				}
				origins[r.RD] = true
				seqs = append(seqs, r.Seq)
			}
			if len(origins) != 1 {
				t.Errorf("%s: guest %s's MAC is advertised by %d route distinguishers %v (want 1: its node's)", n, g.Name, len(origins), origins)
			}
			for _, q := range seqs {
				if q != uint32(s.moves[g.Name]) {
					t.Errorf("%s: guest %s's MAC has sequence %d, want %d (its moves)", n, g.Name, q, s.moves[g.Name])
					break
				}
			}
		}
		for _, d := range snap.Duplicates {
			dups[d.MAC] = true
			if d.Frozen {
				t.Errorf("%s: %s frozen as a duplicate (FRR's default only warns)", n, d.MAC)
			}
		}
	}
	f.dupFlagged = len(dups)
	busiest := 0
	for _, m := range s.moves {
		busiest = max(busiest, m)
	}
	if busiest >= 6 && len(dups) == 0 {
		t.Errorf("a guest moved %d times in %s and no MAC was flagged duplicate (5 moves in 180 s)", busiest, f.migrateTime.Round(time.Second))
	}
}

// leftovers lists what remains of a lab after down.
func leftovers(name string, opts topology.Options) []string {
	var out []string
	if l, _ := nsutil.List(topology.NSPrefix(name)); len(l) > 0 {
		out = append(out, fmt.Sprintf("namespaces %v", l))
	}
	if _, err := os.Stat(opts.LabDir(name)); err == nil {
		out = append(out, "state directory "+opts.LabDir(name))
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, topology.NSPrefix(name)) {
				out = append(out, "mount "+l)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "\x00--lab\x00"+name+"\x00") {
			out = append(out, "process "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// leftoverControl shows leftovers sees what down would leave: a namespace
// of the lab's name made by hand (and its bind mount).
func leftoverControl(t *testing.T, name string, opts topology.Options) {
	t.Helper()
	ns := topology.NSPrefix(name) + "ctl"
	if err := nsutil.Create(ns); err != nil {
		t.Fatal(err)
	}
	l := leftovers(name, opts)
	if err := nsutil.Delete(ns); err != nil {
		t.Fatal(err)
	}
	if len(l) == 0 || !strings.HasPrefix(l[0], "namespaces") || !strings.Contains(strings.Join(l, " "), ns) {
		t.Fatalf("positive control: a namespace %s left behind is not reported: %v", ns, l)
	}
}

func upDownCycles(t *testing.T, bin string, n int, f *figures) {
	name := labName("cy")
	opts := topology.Options{StateDir: t.TempDir(), StartAgents: true, AgentPath: bin}
	t.Cleanup(func() { _ = topology.Down(context.Background(), name, opts) })
	start := time.Now()
	for i := 0; i < n; i++ {
		lab, err := topology.LoadNamed(demoFile, name, sdn.Compile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := topology.Up(context.Background(), lab, opts); err != nil {
			t.Fatalf("cycle %d: up: %v", i+1, err)
		}
		pids := 0
		for _, nd := range lab.Nodes {
			if topology.AgentPID(lab, opts.LabDir(name), nd.Name) != 0 {
				pids++
			}
		}
		if pids != len(lab.Nodes) {
			t.Fatalf("cycle %d: %d agents running after up, want %d", i+1, pids, len(lab.Nodes))
		}
		if err := topology.Down(context.Background(), name, opts); err != nil {
			t.Fatalf("cycle %d: down: %v", i+1, err)
		}
		if l := leftovers(name, opts); len(l) > 0 {
			f.leaks = append(f.leaks, l...)
			t.Fatalf("cycle %d: left after down: %v", i+1, l)
		}
		if i == 0 {
			leftoverControl(t, name, opts)
		}
		f.cycles++
	}
	f.cycleTime = time.Since(start)
}

func killedUps(t *testing.T, bin string, n int, f *figures) {
	name := labName("k9")
	opts := topology.Options{StateDir: t.TempDir()}
	t.Cleanup(func() { _ = topology.Down(context.Background(), name, opts) })
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for i := 0; i < n; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envUpFile+"="+demoFile, envUpName+"="+name, envUpState+"="+opts.StateDir, envUpAgent+"="+bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A random point of up: from before the first namespace to after
		// the agents started (up of the demo lab takes about a second).
		time.Sleep(time.Duration(rng.Int64N(int64(1500 * time.Millisecond))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if err := topology.Down(context.Background(), name, opts); err != nil {
			t.Fatalf("kill -9 %d: down: %v", i+1, err)
		}
		if l := leftovers(name, opts); len(l) > 0 {
			f.leaks = append(f.leaks, l...)
			t.Fatalf("kill -9 %d: left after down: %v", i+1, l)
		}
		f.kills++
	}
}
