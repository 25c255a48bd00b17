package topology

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Process supervision: the lab's long-running processes (node agents,
// underlay BGP routers) are proc.Specs started, found and stopped through
// internal/proc; an FRR engine's daemons join the same way.
//
// The agent hook. After a node's plan is realized, and only with
// Options.StartAgents, Up starts
//
//	<AgentPath> agent --lab LAB --node NODE --state DIR
//
// inside the node's namespace (forked from a thread in it, via nsutil.Start)
// for every node whose plan has a controller (plan.FRR != nil). DIR is the
// lab's state directory (/run/sdnlab/LAB): the agent reads
// DIR/nodes/NODE/plan.json and DIR/lab.json. The agent runs in its own
// session with stdin on /dev/null and stdout/stderr appended to
// DIR/nodes/NODE/agent.log; its PID is written to DIR/nodes/NODE/agent.pid.
// Its lifetime is the lab's: `up` returns while it keeps running, and Down
// kills it (by PID, found through its namespace, so even a lost pid file
// is no leak).
// Killing it by hand is a node crash; `up` again restarts a missing agent.

// AgentPIDFile is where a node's agent PID is recorded.
func AgentPIDFile(stateDir, node string) string {
	return filepath.Join(stateDir, "nodes", node, "agent.pid")
}

// AgentPID returns the PID of a node's running agent, or 0.
func AgentPID(lab *Lab, stateDir, node string) int {
	n := lab.Node(node)
	if n == nil {
		return 0
	}
	return proc.Alive(agentProc(lab.Name, stateDir, n, ""))
}

func startAgents(lab *Lab, opts Options, dir string, pr *progress) error {
	bin, err := opts.agentBinary()
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	for _, n := range lab.Nodes {
		plan := lab.Plans[n.Name]
		if plan == nil || plan.FRR == nil || plan.FRR.DefaultRouter() == nil || n.EngineOf() != EngineAgent {
			continue // a node with only a fabric runs no agent
		}
		if pid := AgentPID(lab, dir, n.Name); pid != 0 {
			if !lab.planChanged[n.Name] {
				continue
			}
			// A changed plan (a .cfg edited, up again) is applied in place
			// when only VNIs changed, as frr-reload applies the difference
			// on an FRR node: the sessions stay up. Else by a restart.
			err := reloadAgent(lab.Name, dir, n.Name, plan)
			if err == nil {
				pr.printf("node %s: plan changed: agent reloaded in place (sessions kept)", n.Name)
				continue
			}
			if err := proc.Stop(context.Background(), agentProc(lab.Name, dir, n, ""), 2*time.Second); err != nil {
				return err
			}
			pr.printf("node %s: plan changed: agent restarted (%v)", n.Name, err)
		}
		pid, err := proc.Start(agentProc(lab.Name, dir, n, bin))
		if err != nil {
			return err
		}
		pr.printf("node %s: agent started (pid %d)", n.Name, pid)
	}
	return nil
}

// agentProc is how a node's agent runs (bin may be empty when only
// looking for it).
func agentProc(lab, dir string, n *Node, bin string) proc.Spec {
	return proc.Spec{
		Name:       "node " + n.Name + ": agent",
		NS:         n.NS,
		Argv:       []string{bin, "agent", "--lab", lab, "--node", n.Name, "--state", dir},
		LogFile:    filepath.Join(dir, "nodes", n.Name, "agent.log"),
		PIDFile:    AgentPIDFile(dir, n.Name),
		Hostname:   n.Name,
		TimerSlack: proc.ControlPlaneSlack,
	}
}

// reloadAgent hands a node's running agent the configuration of its new
// plan through its control socket.
func reloadAgent(lab, dir, node string, p *plan.NodePlan) error {
	cfg, err := AgentConfig(lab, dir, node, p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = evpn.Call(ctx, filepath.Join(dir, "nodes", node, "agent.sock"), evpn.Request{Reload: &cfg})
	return err
}

// AgentConfig is the agent configuration of a node's plan: what the agent
// reads at start and what a reload hands it, so that the two never differ
// in anything but the plan. dir is the lab's state directory.
func AgentConfig(lab, dir, node string, p *plan.NodePlan) (evpn.Config, error) {
	cfg, err := evpn.FromPlan(p, func(zone string) string { return VRFNS(lab, node, zone) })
	if err != nil {
		return cfg, err
	}
	if cfg.Node == "" {
		cfg.Node = node
	}
	if cfg.SharedPorts, err = sharedPorts(dir, node, p, &cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}
