package topology

// Up: bringing a resolved lab up, in parallel where it can.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/sdn/realize"
)

type progress struct {
	mu sync.Mutex
	w  io.Writer
	t0 time.Time
}

func (p *progress) printf(format string, a ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%7.3fs  %s\n", time.Since(p.t0).Seconds(), fmt.Sprintf(format, a...))
}

// parallel runs fn(0..n-1) on up to workers goroutines and joins errors.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, workers)
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Up builds the lab: switches, nodes with their host interfaces, routers,
// the upstream and external hosts, then realizes every node's SDN plan and
// attaches the guests. It is idempotent: on a lab running from the same
// lab file it converges (re-realizing changed plans); a lab of the same
// name up from another file is an *InUseError. lab comes from Load; Up
// records in it what was detected and skipped, and returns it.
func Up(ctx context.Context, lab *Lab, opts Options) (*Lab, error) {
	pr := &progress{w: opts.Progress, t0: time.Now()}
	// Another lab file's lab of this name would be taken over (its guests
	// left behind): refuse before writing any state.
	if err := CheckTakeover(lab, opts); err != nil {
		return nil, err
	}
	// VM guests: refused here, with the reason, before anything exists.
	vms, err := prepareVMs(ctx, lab, pr)
	if err != nil {
		return nil, err
	}
	dir := opts.LabDir(lab.Name)
	lab.StateDir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	// The state is written first, so down finds everything even if up dies.
	if err := writeJSON(filepath.Join(dir, "lab.json"), lab); err != nil {
		return nil, err
	}
	if opts.Caps != nil {
		lab.Caps = *opts.Caps
	} else {
		c, err := kernelCaps(opts.stateRoot(), lab.Prefix()+"caps")
		if err != nil {
			return nil, err
		}
		lab.Caps = c
	}
	pr.printf("lab %s: kernel: %s", lab.Name, lab.Caps)
	// Fabrics the lab cannot run: refused before anything is built.
	if err := checkFabrics(lab); err != nil {
		return lab, err
	}
	for _, w := range lab.Warnings {
		pr.printf("warning: %s", w)
	}
	w := opts.workers()

	// 1. Switches.
	if err := parallel(ctx, len(lab.Segments), w, func(i int) error {
		return buildSegment(lab.Segments[i])
	}); err != nil {
		return lab, err
	}
	pr.printf("segments: %d", len(lab.Segments))

	// 2. Nodes, routers, external hosts (all independent of each other).
	type job struct {
		name string
		fn   func() error
	}
	var jobs []job
	for _, n := range lab.Nodes {
		jobs = append(jobs, job{"node " + n.Name, func() error { return buildNode(lab, n, dir) }})
	}
	for _, r := range lab.Routers {
		jobs = append(jobs, job{"router " + r.Name, func() error { return buildRouter(lab, r) }})
	}
	for _, h := range lab.Hosts {
		jobs = append(jobs, job{"external " + h.Name, func() error { return buildHost(lab, h) }})
	}
	if err := parallel(ctx, len(jobs), w, func(i int) error {
		if err := jobs[i].fn(); err != nil {
			return fmt.Errorf("%s: %w", jobs[i].name, err)
		}
		if len(lab.Nodes) <= 10 {
			pr.printf("%s: up", jobs[i].name)
		}
		return nil
	}); err != nil {
		return lab, err
	}
	if err := buildP2P(lab); err != nil {
		return lab, err
	}
	if len(lab.P2P) > 0 {
		pr.printf("point-to-point links: %d", len(lab.P2P))
	}
	pr.printf("underlay: %d nodes, %d routers, %d external hosts", len(lab.Nodes), len(lab.Routers), len(lab.Hosts))
	stations, err := underlayStations(lab)
	if err != nil {
		return lab, err
	}
	if pairs := underlayPairs(stations); pairs > staticNeighAbove {
		if err := staticUnderlayNeigh(ctx, stations, w); err != nil {
			return lab, err
		}
		pr.printf("underlay: %d permanent neighbour entries (the kernel's shared ARP/ND table holds 1024 dynamic ones)", pairs)
	}
	// BGP routers converge while the SDN is realized.
	if err := startRouters(lab, opts, dir, pr); err != nil {
		return lab, err
	}

	// 3. Each node's SDN plan.
	var mu sync.Mutex
	lab.Skipped, lab.Models = nil, nil
	wgs := &wireGuards{dir: dir}
	if err := parallel(ctx, len(lab.Nodes), w, func(i int) error {
		n := lab.Nodes[i]
		plan := lab.Plans[n.Name]
		if plan == nil {
			return nil
		}
		rep, err := realize.Apply(ctx, realize.Target{
			NS:        n.NS,
			VRFNS:     func(zone string) string { return VRFNS(lab.Name, n.Name, zone) },
			Keep:      n.keep,
			WireGuard: wgs.up(n, pr),
		}, plan, lab.Caps)
		if err != nil {
			return fmt.Errorf("node %s: realize: %w", n.Name, err)
		}
		planFile := filepath.Join(dir, "nodes", n.Name, "plan.json")
		changed, err := writeJSONChanged(planFile, plan)
		if err != nil {
			return err
		}
		mu.Lock()
		if changed {
			// A running agent applies a changed plan by a restart.
			if lab.planChanged == nil {
				lab.planChanged = map[string]bool{}
			}
			lab.planChanged[n.Name] = true
		}
		for _, s := range rep.Skipped {
			lab.Skipped = append(lab.Skipped, fmt.Sprintf("node %s: %s", n.Name, s))
		}
		for _, m := range rep.Models {
			lab.Models = append(lab.Models, fmt.Sprintf("node %s: %s", n.Name, m))
		}
		mu.Unlock()
		if len(lab.Nodes) <= 10 {
			pr.printf("node %s: SDN realized (%d devices)", n.Name, len(rep.Devices))
		}
		return nil
	}); err != nil {
		return lab, err
	}
	if err := wgs.startKeepalives(ctx, lab); err != nil {
		return lab, err
	}
	pr.printf("SDN realized on %d nodes", len(lab.Nodes))
	sort.Strings(lab.Models)
	for _, m := range lab.Models {
		pr.printf("realized as: %s", m)
	}

	// DHCP servers (dnsmasq per zone in each node), before guests ask.
	if err := startDHCP(lab, dir, pr); err != nil {
		return lab, err
	}

	// 4. Guests.
	if err := parallel(ctx, len(lab.Guests), w, func(i int) error {
		g := lab.Guests[i]
		build := buildGuest
		if g.IsVM() {
			build = func(lab *Lab, g *Guest) (string, error) { return buildVMGuest(ctx, lab, g, vms) }
		}
		note, err := build(lab, g)
		if err != nil {
			return fmt.Errorf("guest %s: %w", g.Name, err)
		}
		if note != "" {
			mu.Lock()
			lab.Skipped = append(lab.Skipped, note)
			mu.Unlock()
		}
		return nil
	}); err != nil {
		return lab, err
	}
	pr.printf("guests: %d", len(lab.Guests))
	for _, s := range lab.Skipped {
		pr.printf("not realized: %s", s)
	}

	// 5. The underlay's routes (node agents peer across it: the underlay
	// routers' BGP, then the fabrics), then the node agents.
	if err := waitBGP(ctx, lab, dir, opts.BGPWait, pr); err != nil {
		return lab, err
	}
	if opts.StartAgents {
		if err := stopOtherEngines(lab, dir, pr); err != nil {
			return lab, err
		}
		// Without fabrics the agents start first, so FRR nodes' first
		// connections find them listening (FRR retries only after 120 s).
		// Over fabrics they start once the fabrics route their peers: an
		// agent whose first sessions fail backs off up to 30 s.
		agentsLast := len(fabricTargets(lab)) > 0
		if !agentsLast {
			if err := startAgents(lab, opts, dir, pr); err != nil {
				return lab, err
			}
		}
		fabricT0 := time.Now()
		if err := startFabricFRR(ctx, lab, dir, w, pr); err != nil {
			return lab, err
		}
		if err := startFRR(ctx, lab, dir, w, pr); err != nil {
			return lab, err
		}
		if err := waitFabrics(ctx, lab, fabricT0, opts.FabricWait, pr); err != nil {
			return lab, err
		}
		if agentsLast {
			if err := startAgents(lab, opts, dir, pr); err != nil {
				return lab, err
			}
		}
	}
	if err := writeJSON(filepath.Join(dir, "lab.json"), lab); err != nil {
		return lab, err
	}
	// The lab file's impairments (after lab.json: a lab whose impairment
	// fails can still be brought down).
	if err := applyDeclared(ctx, lab, opts, pr); err != nil {
		return lab, err
	}
	pr.printf("lab %s is up", lab.Name)
	return lab, nil
}
