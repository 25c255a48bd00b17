package topology

// WireGuard fabrics in the lab. This kernel has no wireguard module, so a
// node's WireGuard interface is wireguard-go's (userspace WireGuard on a
// TUN device of the same name), configured through its UAPI socket as
// Proxmox's `post-up wg syncconf` configures the kernel's; the realizer
// then gives it the stanza's addresses and the routes to the peers'
// allowed IPs, as on a Proxmox node.
//
// wireguard-go puts its socket in /run/wireguard/<name>.sock, where every
// node's wg0 would meet. Each runs in a mount namespace of its own with
// the node's state directory bound there, so the sockets are
// DIR/nodes/<node>/wireguard/<name>.sock, reachable from the host.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/internal/wguapi"
	"github.com/sdnlab/sdnlab/sdn/plan"
)

// wireGuardGo is Debian's userspace WireGuard (package wireguard-go).
const wireGuardGo = "wireguard-go"

// WireGuardMissing says why WireGuard cannot run in the lab ("" it can).
func WireGuardMissing() string {
	for _, bin := range []string{wireGuardGo, "unshare", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("%s is not installed (apt-get install wireguard-go): this kernel has no wireguard module, and the lab runs WireGuard in userspace", bin)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return "no /dev/net/tun: userspace WireGuard needs TUN devices"
	}
	return ""
}

// WireGuardDir holds a node's WireGuard sockets, logs and pid files.
func WireGuardDir(dir, node string) string { return filepath.Join(dir, "nodes", node, "wireguard") }

// WireGuardSocket is the UAPI socket of a node's WireGuard interface.
func WireGuardSocket(dir, node, ifname string) string {
	return filepath.Join(WireGuardDir(dir, node), ifname+".sock")
}

// wireGuardProc is how a node's WireGuard interface runs.
func wireGuardProc(dir string, n *Node, ifname, bin string) proc.Spec {
	wd := WireGuardDir(dir, n.Name)
	return proc.Spec{
		Name: "node " + n.Name + ": wireguard-go " + ifname,
		NS:   n.NS,
		// unshare and sh exec: the PID is wireguard-go's.
		Argv: []string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount --bind "$0" /run/wireguard && exec "$1" -f "$2"`, wd, bin, ifname},
		// wireguard-go refuses to run on Linux without it.
		Env:     append(os.Environ(), "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "LOG_LEVEL=verbose"),
		LogFile: filepath.Join(wd, ifname+".log"),
		PIDFile: filepath.Join(wd, ifname+".pid"),
	}
}

// wireGuards brings up the WireGuard interfaces of a lab's nodes.
//
// Every node's interfaces come up at once, and a peer with a persistent
// keepalive initiates a handshake the moment it is configured: two peers
// configured in the same millisecond initiate to each other at once, and
// wireguard-go 0.0.20220316 then sometimes keeps a pair of sessions that
// carries nothing (3 of 20 runs: "Received invalid response message", both
// ends reporting a handshake, every data message dropped until a rekey).
// Proxmox nodes apply their configuration seconds apart. So the lab
// configures the devices without keepalives first and then gives them
// their keepalives node by node (startKeepalives): the first node's
// initiations find configured, passive peers.
type wireGuards struct {
	dir string
	mu  sync.Mutex
	// configured are the configurations handed to each node's devices.
	configured map[string][]plan.WireGuardConfig
}

// keepaliveStagger separates two nodes' keepalive starts: far more than a
// handshake takes between lab namespaces (under a millisecond).
const keepaliveStagger = 50 * time.Millisecond

// up returns the realizer's WireGuard hook for node n: start the
// interface's wireguard-go unless it runs, wait for its socket (made after
// the device), and hand it the configuration without keepalives.
func (w *wireGuards) up(n *Node, pr *progress) func(context.Context, plan.WireGuardConfig) ([]string, error) {
	dir := w.dir
	return func(ctx context.Context, c plan.WireGuardConfig) ([]string, error) {
		bin, err := exec.LookPath(wireGuardGo)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", c.Name, WireGuardMissing())
		}
		// The mount point of every node's socket directory (empty on the
		// host; wg(8) would make it too).
		for _, d := range []string{"/run/wireguard", WireGuardDir(dir, n.Name)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		spec := wireGuardProc(dir, n, c.Name, bin)
		sock := WireGuardSocket(dir, n.Name, c.Name)
		started := proc.Alive(spec) == 0
		if started {
			_ = os.Remove(sock)
			if _, err := proc.Start(spec); err != nil {
				return nil, err
			}
		}
		// Ready is connectable, not merely present: wireguard-go binds
		// (which makes the file) before it listens, and a connect in
		// between is refused (seen once in the suite's wgmesh lab).
		deadline := time.Now().Add(10 * time.Second)
		for {
			if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, fmt.Errorf("%s: wireguard-go made no socket within 10s (see %s)", c.Name, spec.LogFile)
			}
			time.Sleep(20 * time.Millisecond)
		}
		passive := c
		passive.Peers = slices.Clone(c.Peers)
		for i := range passive.Peers {
			passive.Peers[i].PersistentKeepalive = 0
		}
		unresolved, err := wguapi.Set(sock, passive)
		if err != nil {
			return nil, err
		}
		w.mu.Lock()
		if w.configured == nil {
			w.configured = map[string][]plan.WireGuardConfig{}
		}
		w.configured[n.Name] = append(w.configured[n.Name], c)
		w.mu.Unlock()
		var notes []string
		for _, e := range unresolved {
			notes = append(notes, fmt.Sprintf("%s: peer endpoint %s is not an address: left without one (wg(8) would resolve it)", c.Name, e))
		}
		if started {
			pr.printf("node %s: %s: WireGuard in userspace (wireguard-go), %d peers", n.Name, c.Name, len(c.Peers))
		}
		return notes, nil
	}
}

// startKeepalives gives the configured devices their peers' keepalives,
// one node after the other in lab order.
func (w *wireGuards) startKeepalives(ctx context.Context, lab *Lab) error {
	first := true
	for _, n := range lab.Nodes {
		cs := w.configured[n.Name]
		if len(cs) == 0 {
			continue
		}
		if !first {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(keepaliveStagger):
			}
		}
		first = false
		for _, c := range cs {
			if err := wguapi.SetKeepalives(WireGuardSocket(w.dir, n.Name, c.Name), c); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
	}
	return nil
}
