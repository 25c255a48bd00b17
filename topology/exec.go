package topology

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/topology/frrnode"
)

// Exec runs argv inside the namespace of a node, guest, router, external
// host or switch ("sw-<segment>") of the lab, with the given stdio, and
// waits for it. ctx kills it.
func (l *Lab) Exec(ctx context.Context, thing string, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if g := l.Guest(thing); g != nil && g.IsVM() {
		return execVM(ctx, g, argv, stdout)
	}
	ns := l.NS(thing)
	if ns == "" {
		return fmt.Errorf("lab %s has no node, guest, router or host %q", l.Name, thing)
	}
	// On an FRR node (or an agent node's FRR for its fabrics) a plain
	// `vtysh` must reach this node's FRR: it runs
	// in the mount namespace (and root, for frr: 10) of its daemons. Other
	// commands run as on any node.
	if l.runsFRR(thing) && l.StateDir != "" && len(argv) > 0 && filepath.Base(argv[0]) == "vtysh" {
		argv = frrnode.Wrap(FRRDir(l.StateDir, thing), ns, argv)
	}
	return ExecNS(ctx, ns, argv, stdin, stdout, stderr)
}

// ExecNS runs argv in a namespace and waits.
func ExecNS(ctx context.Context, ns string, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return fmt.Errorf("no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := nsutil.Start(ns, cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// Output runs argv in thing's namespace and returns its combined output.
func (l *Lab) Output(ctx context.Context, thing string, argv ...string) ([]byte, error) {
	var b bytes.Buffer
	err := l.Exec(ctx, thing, argv, nil, &b, &b)
	if err != nil {
		return b.Bytes(), fmt.Errorf("%v in %s: %w: %s", argv, thing, err, bytes.TrimSpace(b.Bytes()))
	}
	return b.Bytes(), nil
}

// runsFRR tells whether a node, or a router's route reflector, runs FRR.
func (l *Lab) runsFRR(thing string) bool {
	if n := l.Node(thing); n != nil {
		// An agent node's fabrics run in an FRR beside the agent.
		return n.EngineOf() == EngineFRR || (l.StateDir != "" && fabricOnlyRunning(FRRDir(l.StateDir, thing)))
	}
	for _, rt := range l.Routers {
		if rt.Name == thing && rt.Reflector != nil {
			return rt.Engine == EngineFRR
		}
	}
	return false
}
