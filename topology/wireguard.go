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
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
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
		Env:     append(os.Environ(), "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1"),
		LogFile: filepath.Join(wd, ifname+".log"),
		PIDFile: filepath.Join(wd, ifname+".pid"),
	}
}

// wireGuardUp returns the realizer's WireGuard hook for node n: start the
// interface's wireguard-go unless it runs, wait for its device and socket,
// and hand it the configuration. note receives what the lab did not do.
func wireGuardUp(dir string, n *Node, pr *progress, note func(string)) func(context.Context, plan.WireGuardConfig) error {
	return func(ctx context.Context, c plan.WireGuardConfig) error {
		bin, err := exec.LookPath(wireGuardGo)
		if err != nil {
			return fmt.Errorf("%s: %s", c.Name, WireGuardMissing())
		}
		// The mount point of every node's socket directory (empty on the
		// host; wg(8) would make it too).
		for _, d := range []string{"/run/wireguard", WireGuardDir(dir, n.Name)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		spec := wireGuardProc(dir, n, c.Name, bin)
		started := proc.Alive(spec) == 0
		if started {
			_ = os.Remove(WireGuardSocket(dir, n.Name, c.Name))
			if _, err := proc.Start(spec); err != nil {
				return err
			}
		}
		sock := WireGuardSocket(dir, n.Name, c.Name)
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, serr := os.Stat(sock)
			up := false
			if serr == nil {
				h, err := nsutil.Handle(n.NS)
				if err == nil {
					_, lerr := h.LinkByName(c.Name)
					up = lerr == nil
					h.Close()
				}
			}
			if up {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s: wireguard-go made no device and socket within 10s (see %s)", c.Name, spec.LogFile)
			}
			time.Sleep(20 * time.Millisecond)
		}
		unresolved, err := wguapi.Set(sock, c)
		if err != nil {
			return err
		}
		for _, e := range unresolved {
			note(fmt.Sprintf("%s: peer endpoint %s is not an address: left without one (wg(8) would resolve it)", c.Name, e))
		}
		if started {
			pr.printf("node %s: %s: WireGuard in userspace (wireguard-go), %d peers", n.Name, c.Name, len(c.Peers))
		}
		return nil
	}
}
