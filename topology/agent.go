package topology

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

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
// kills it (by PID, found through its namespace, so no pid file is needed).
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
	return livePID(AgentPIDFile(stateDir, node), n.NS)
}

func startAgents(lab *Lab, opts Options, dir string, pr *progress) error {
	bin := opts.AgentPath
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		bin = exe
	}
	for _, n := range lab.Nodes {
		plan := lab.Plans[n.Name]
		if plan == nil || plan.FRR == nil || n.EngineOf() != EngineAgent {
			continue
		}
		if pid := AgentPID(lab, dir, n.Name); pid != 0 {
			continue
		}
		cmd := exec.Command(bin, "agent", "--lab", lab.Name, "--node", n.Name, "--state", dir)
		logFile := filepath.Join(dir, "nodes", n.Name, "agent.log")
		pid, err := startDaemon(n.NS, cmd, logFile, AgentPIDFile(dir, n.Name), "node "+n.Name+": start agent")
		if err != nil {
			return err
		}
		pr.printf("node %s: agent started (pid %d)", n.Name, pid)
	}
	return nil
}

// startDaemon starts cmd in namespace ns as a session leader appending its
// output to logFile, and writes its PID to pidFile. what prefixes the error
// when the start fails.
func startDaemon(ns string, cmd *exec.Cmd, logFile, pidFile, what string) (int, error) {
	logf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = nsutil.Start(ns, cmd)
	logf.Close()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return 0, err
	}
	// Reap it if it dies while this process lives (tests, long runs).
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}
