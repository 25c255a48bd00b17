package topology

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/topology/underlaybgp"
)

// Underlay routers with routing: bgp run a BGP speaker each:
//
//	<RouterPath> router --lab LAB --router ROUTER --state DIR
//
// started inside the router's namespace exactly like the node agents (own
// session, stdin /dev/null, output appended to DIR/routers/ROUTER/bgp.log,
// PID in DIR/routers/ROUTER/bgp.pid). It reads DIR/routers/ROUTER/bgp.json
// (an underlaybgp.Config). Down kills it with everything else in the lab's
// namespaces; up again restarts a missing one and leaves a running one alone.

// DefaultBGPWait bounds how long Up waits for the underlay BGP routes.
const DefaultBGPWait = 30 * time.Second

// waitBGP waits until every BGP router has a kernel route for each prefix
// it is expected to learn; the error names what is missing.
func waitBGP(ctx context.Context, lab *Lab, dir string, max time.Duration, pr *progress) error {
	if max <= 0 {
		max = DefaultBGPWait
	}
	deadline := time.Now().Add(max)
	for _, rt := range lab.Routers {
		if rt.BGP == nil || len(rt.BGPRoutes) == 0 {
			continue
		}
		for {
			have, err := LearnedRoutes(rt.NS)
			if err != nil {
				return fmt.Errorf("router %s: %w", rt.Name, err)
			}
			var missing []string
			for _, pf := range rt.BGPRoutes {
				if !hasPrefix(have, pf) {
					missing = append(missing, pf.String())
				}
			}
			if len(missing) == 0 {
				pr.printf("router %s: %d BGP routes learned", rt.Name, len(have))
				break
			}
			if RouterPID(lab, dir, rt.Name) == 0 {
				return fmt.Errorf("router %s: its BGP speaker is not running (see %s)", rt.Name, filepath.Join(RouterDir(dir, rt.Name), "bgp.log"))
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("router %s: BGP did not bring %s within %s (see %s)", rt.Name, strings.Join(missing, ", "), max,
					filepath.Join(RouterDir(dir, rt.Name), "bgp.log"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// LearnedRoute is a kernel route a BGP speaker installed.
type LearnedRoute struct {
	Dst netip.Prefix `json:"dst"`
	Via netip.Addr   `json:"via"`
	Dev string       `json:"dev,omitempty"`
}

func hasPrefix(l []LearnedRoute, pf netip.Prefix) bool {
	for _, r := range l {
		if r.Dst == pf {
			return true
		}
	}
	return false
}

// LearnedRoutes lists the BGP routes (protocol bgp) in a namespace's main
// table, IPv4 first.
func LearnedRoutes(ns string) ([]LearnedRoute, error) {
	h, err := nsutil.Handle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var out []LearnedRoute
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := h.RouteListFiltered(fam, &netlink.Route{Protocol: underlaybgp.RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return nil, fmt.Errorf("%s: list routes: %w", ns, err)
		}
		for _, r := range rs {
			if r.Dst == nil {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			lr := LearnedRoute{Dst: netip.PrefixFrom(a.Unmap(), ones)}
			if gw, ok := netip.AddrFromSlice(r.Gw); ok {
				lr.Via = gw.Unmap()
			}
			if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
				lr.Dev = l.Attrs().Name
			}
			out = append(out, lr)
		}
	}
	return out, nil
}

// RunRouter is `sdnlab router`: it reads the router's bgp.json from the
// lab's state directory (default /run/sdnlab/LAB) and runs its speaker in
// the calling process, which must already be in the router's namespace.
// stdin, when it is a pipe, ends it at EOF.
func RunRouter(ctx context.Context, lab, router, stateDir string, stdin *os.File) error {
	if stateDir == "" {
		stateDir = filepath.Join(DefaultStateDir, lab)
	}
	cfg, err := underlaybgp.ReadConfig(filepath.Join(RouterDir(stateDir, router), "bgp.json"))
	if err != nil {
		return fmt.Errorf("router %s: %w", router, err)
	}
	log := proc.Logger("lab", lab, "router", router)
	cfg.StatusPath = RouterStatusFile(stateDir, router)
	return underlaybgp.Run(ctx, cfg, proc.ParentPipe(stdin), log)
}

// RouterDir is the state directory of an underlay router.
func RouterDir(stateDir, router string) string { return filepath.Join(stateDir, "routers", router) }

// RouterPID returns the PID of a router's running BGP speaker, or 0.
func RouterPID(lab *Lab, stateDir, router string) int {
	rt := lab.Router(router)
	if rt == nil {
		return 0
	}
	return proc.Alive(routerProc(lab.Name, stateDir, rt, ""))
}

// SelfRouterEnv, set to 1, says that this executable handles the `router`
// command even though it is a Go test binary (topology's own tests).
const SelfRouterEnv = "SDNLAB_SELF_ROUTER"

// agentBinary is the sdnlab binary that runs agents, reflectors and
// impairment daemons: AgentPath, else sdnlab-engine beside this
// executable, else this executable.
func (o *Options) agentBinary() (string, error) {
	if o.AgentPath != "" {
		return o.AgentPath, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return engineBeside(exe), nil
}

// EngineName is the lean binary of the lab's daemons (cmd/sdnlab-engine).
const EngineName = "sdnlab-engine"

// engineBeside is sdnlab-engine in exe's directory when it is there and
// not older than exe (`make build` builds both; an old one left beside a
// newer CLI could read another plan format), else exe itself, which runs
// the same daemons.
func engineBeside(exe string) string {
	engine := filepath.Join(filepath.Dir(exe), EngineName)
	es, err1 := os.Stat(engine)
	xs, err2 := os.Stat(exe)
	if err1 != nil || err2 != nil || !es.Mode().IsRegular() || es.Mode()&0o111 == 0 || es.ModTime().Before(xs.ModTime()) {
		return exe
	}
	return engine
}

func (o *Options) routerBinary() (string, error) {
	switch {
	case o.RouterPath != "":
		return o.RouterPath, nil
	case o.AgentPath != "":
		return o.AgentPath, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if e := engineBeside(exe); e != exe {
		return e, nil
	}
	// Another package's test binary would not run a router but all its
	// tests again: refuse instead of recursing.
	if strings.HasSuffix(exe, ".test") && os.Getenv(SelfRouterEnv) != "1" {
		return "", fmt.Errorf("the lab has BGP routers: set Options.RouterPath (or AgentPath) to the sdnlab binary")
	}
	return exe, nil
}

// startRouters writes every BGP router's configuration and starts its
// speaker (when not already running).
func startRouters(lab *Lab, opts Options, dir string, pr *progress) error {
	var bin string
	for _, rt := range lab.Routers {
		if rt.Reflector != nil && opts.StartAgents {
			start := startReflector
			if rt.Engine == EngineFRR {
				start = startFRRReflector
			}
			if err := start(lab, opts, dir, rt, pr); err != nil {
				return err
			}
		}
		if rt.BGP == nil {
			continue
		}
		rdir := RouterDir(dir, rt.Name)
		if err := writeJSON(filepath.Join(rdir, "bgp.json"), rt.BGP); err != nil {
			return err
		}
		if pid := RouterPID(lab, dir, rt.Name); pid != 0 {
			continue
		}
		if bin == "" {
			b, err := opts.routerBinary()
			if err != nil {
				return fmt.Errorf("router %s: %w", rt.Name, err)
			}
			bin = b
		}
		pid, err := proc.Start(routerProc(lab.Name, dir, rt, bin))
		if err != nil {
			return err
		}
		pr.printf("router %s: bgp started (pid %d, AS %d, %d neighbors)", rt.Name, pid, rt.ASN, len(rt.BGP.Neighbors))
	}
	return nil
}

// routerProc is how a router's BGP speaker runs (bin may be empty when
// only looking for it).
func routerProc(lab, dir string, rt *Router, bin string) proc.Spec {
	rdir := RouterDir(dir, rt.Name)
	return proc.Spec{
		Name:       "router " + rt.Name + ": bgp",
		NS:         rt.NS,
		Argv:       []string{bin, "router", "--lab", lab, "--router", rt.Name, "--state", dir},
		LogFile:    filepath.Join(rdir, "bgp.log"),
		PIDFile:    filepath.Join(rdir, "bgp.pid"),
		TimerSlack: proc.ControlPlaneSlack,
	}
}

// RouterStatusFile is where a router's speaker keeps its sessions' status
// (underlaybgp.Status).
func RouterStatusFile(stateDir, router string) string {
	return filepath.Join(RouterDir(stateDir, router), "bgp-status.json")
}

// startReflector runs a router's EVPN route reflector: the node agent
// (`sdnlab agent --config`) with no VNIs, every node a route-reflector
// client, in the router's namespace. Its state lives where a node's
// does (nodes/<router>/), so `sdnlab show LAB <router> bgp` reads it.
func startReflector(lab *Lab, opts Options, dir string, rt *Router, pr *progress) error {
	file := filepath.Join(dir, "nodes", rt.Name, "reflector.json")
	if err := writeJSON(file, rt.Reflector); err != nil {
		return err
	}
	bin, err := opts.agentBinary()
	if err != nil {
		return fmt.Errorf("router %s: reflector: %w", rt.Name, err)
	}
	pid, err := proc.Start(reflectorProc(lab.Name, dir, rt, bin))
	if err != nil {
		return err
	}
	pr.printf("router %s: EVPN route reflector started (pid %d, %d clients and peers)", rt.Name, pid, len(rt.Reflector.Neighbors))
	return nil
}

func reflectorProc(lab, dir string, rt *Router, bin string) proc.Spec {
	return proc.Spec{
		Name: "router " + rt.Name + ": reflector",
		NS:   rt.NS,
		Argv: []string{bin, "agent", "--lab", lab, "--node", rt.Name, "--state", dir,
			"--config", filepath.Join(dir, "nodes", rt.Name, "reflector.json")},
		LogFile:    filepath.Join(dir, "nodes", rt.Name, "agent.log"),
		PIDFile:    AgentPIDFile(dir, rt.Name),
		Hostname:   rt.Name,
		TimerSlack: proc.ControlPlaneSlack,
	}
}
