package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// A node's control plane crashes and comes back: kill and restart the
// process that is its engine (the EVPN agent), or a BGP underlay router's
// speaker. The kernel state it programmed stays, as it does when bgpd or
// zebra crash on a real node.

// KillControlPlane kills (SIGKILL, no goodbye to its peers) the control
// plane of a node (its agent, or every FRR daemon) or of a BGP router and
// returns what it killed.
func KillControlPlane(l *Lab, opts Options, name string) (string, error) {
	dir := opts.LabDir(l.Name)
	var pids []int
	var what string
	switch {
	case l.Node(name) != nil:
		what = "agent"
		if l.Node(name).EngineOf() == EngineFRR {
			what = "frr"
		}
		pids = EnginePIDs(l, dir, name)
	case l.Router(name) != nil && l.Router(name).BGP != nil:
		what = "bgp speaker"
		if pid := RouterPID(l, dir, name); pid != 0 {
			pids = []int{pid}
		}
	case l.Router(name) != nil:
		return "", fmt.Errorf("router %s has static routes only: no control plane to kill", name)
	default:
		return "", fmt.Errorf("lab %s has no node or router %q", l.Name, name)
	}
	if len(pids) == 0 {
		return "", fmt.Errorf("%s: no %s is running (sdnlab restart %s %s starts it)", name, what, l.Name, name)
	}
	if err := proc.Kill(pids); err != nil {
		return "", fmt.Errorf("%s: %s: %w", name, what, err)
	}
	if err := proc.WaitGone(context.Background(), pids, 5*time.Second); err != nil {
		return "", fmt.Errorf("%s: %s: %w", name, what, err)
	}
	return fmt.Sprintf("%s %v", what, pids), nil
}

// RestartControlPlane starts a node's engine (agent or FRR) or a BGP
// router's speaker again, as up would, when it is not running.
func RestartControlPlane(ctx context.Context, l *Lab, opts Options, name string) (string, error) {
	dir := opts.LabDir(l.Name)
	pr := &progress{}
	switch {
	case l.Node(name) != nil:
		n := l.Node(name)
		if ok, what := EngineRunning(l, dir, name); ok {
			return "", fmt.Errorf("%s: its engine runs (%s): sdnlab kill %s %s first", name, what, l.Name, name)
		}
		p, err := readPlan(dir, name)
		if err != nil {
			return "", err
		}
		if p.FRR == nil {
			return "", fmt.Errorf("node %s has no controller: it runs no control plane", name)
		}
		one := *l
		one.Nodes = []*Node{n}
		one.Plans = map[string]*plan.NodePlan{name: p}
		if n.EngineOf() == EngineFRR {
			if err := startFRR(ctx, &one, dir, 1, pr); err != nil {
				return "", err
			}
		} else if err := startAgents(&one, opts, dir, pr); err != nil {
			return "", err
		}
		_, what := EngineRunning(l, dir, name)
		return what, nil
	case l.Router(name) != nil && l.Router(name).BGP != nil:
		if pid := RouterPID(l, dir, name); pid != 0 {
			return "", fmt.Errorf("%s: the bgp speaker is running (pid %d): sdnlab kill %s %s first", name, pid, l.Name, name)
		}
		one := *l
		one.Routers = []*Router{l.Router(name)}
		if err := startRouters(&one, opts, dir, pr); err != nil {
			return "", err
		}
		return fmt.Sprintf("bgp speaker %d", RouterPID(l, dir, name)), nil
	case l.Router(name) != nil:
		return "", fmt.Errorf("router %s has static routes only: no control plane to restart", name)
	}
	return "", fmt.Errorf("lab %s has no node or router %q", l.Name, name)
}

func readPlan(dir, node string) (*plan.NodePlan, error) {
	b, err := os.ReadFile(filepath.Join(dir, "nodes", node, "plan.json"))
	if err != nil {
		return nil, fmt.Errorf("node %s: no plan in the lab's state: %w", node, err)
	}
	var p plan.NodePlan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("node %s: bad plan.json: %w", node, err)
	}
	return &p, nil
}
