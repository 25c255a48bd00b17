package topology

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn/render"
)

// DHCP in a lab. Proxmox runs one dnsmasq per zone with "dhcp dnsmasq" on
// every node (systemd's dnsmasq@<zone>, configured from
// /etc/dnsmasq.d/<zone>/). A lab runs the same dnsmasq inside each node's
// namespace, never in the host's, from a directory in the lab's state
// directory, DIR/nodes/NODE/dnsmasq/<zone>/, holding the files `render`
// writes (10-<vnet>.conf identical; 00-default.conf identical but for the
// lease and hosts file paths, which point into the state directory) and the
// ethers file the pve IPAM keeps (the MAC of each `ip: dhcp` guest of the
// zone and its address). Leases are in DIR/nodes/NODE/dnsmasq/. Proxmox's
// own files are written unchanged to DIR/nodes/NODE/etc/ for comparison.
//
// A guest with `ip: dhcp` runs busybox's udhcpc once when it is built
// (Proxmox's leases are infinite: no renewal needed) and again on a restart.

// dnsmasqDir is where a zone's dnsmasq of a node keeps its configuration.
func dnsmasqDir(stateDir, node, zone string) string {
	return filepath.Join(stateDir, "nodes", node, "dnsmasq", zone)
}

// DnsmasqLeaseFile is the lease file of a zone's dnsmasq on a node.
func DnsmasqLeaseFile(stateDir, node, zone string) string {
	return filepath.Join(stateDir, "nodes", node, "dnsmasq", "dnsmasq."+zone+".leases")
}

func dnsmasqPIDFile(stateDir, node, zone string) string {
	return filepath.Join(stateDir, "nodes", node, "dnsmasq", "dnsmasq."+zone+".pid")
}

// startDHCP writes each node's DHCP files and (re)starts its dnsmasq per
// zone, as applying the SDN configuration restarts dnsmasq@<zone>.
func startDHCP(lab *Lab, dir string, pr *progress) error {
	for _, n := range lab.Nodes {
		p := lab.Plans[n.Name]
		if p == nil || len(p.DHCP) == 0 {
			continue
		}
		bin, err := exec.LookPath("dnsmasq")
		if err != nil {
			return fmt.Errorf("node %s: zone %s has dhcp: dnsmasq is not installed (apt-get install dnsmasq-base)", n.Name, p.DHCP[0].Zone)
		}
		// Proxmox's files as it writes them.
		files := render.DnsmasqFiles(p)
		for _, path := range render.DnsmasqPaths(files) {
			if err := writeFile(filepath.Join(dir, "nodes", n.Name, path), files[path]); err != nil {
				return err
			}
		}
		for _, srv := range p.DHCP {
			if srv.Type != "dnsmasq" {
				continue
			}
			zdir := dnsmasqDir(dir, n.Name, srv.Zone)
			if err := os.RemoveAll(zdir); err != nil {
				return err
			}
			ethers := filepath.Join(zdir, "ethers")
			if err := writeFile(filepath.Join(zdir, "00-default.conf"),
				render.DnsmasqDefault(srv.Zone, srv.MTU, DnsmasqLeaseFile(dir, n.Name, srv.Zone), ethers)); err != nil {
				return err
			}
			prefix := render.DnsmasqConfigRoot + "/" + srv.Zone + "/10-"
			for path, content := range files {
				if strings.HasPrefix(path, prefix) {
					if err := writeFile(filepath.Join(zdir, filepath.Base(path)), content); err != nil {
						return err
					}
				}
			}
			var entries []render.EthersEntry
			for _, g := range lab.Guests {
				if g.DHCP && g.Zone == srv.Zone && g.DHCPAddr.IsValid() {
					entries = append(entries, render.EthersEntry{MAC: g.MAC, IP4: g.DHCPAddr.Addr().String()})
				}
			}
			if err := writeFile(ethers, render.DnsmasqEthers(entries)); err != nil {
				return err
			}
			// dnsmasq@<zone> is restarted when the configuration is applied.
			spec := dnsmasqProc(dir, n, srv.Zone, bin)
			if err := proc.Stop(context.Background(), spec, time.Second); err != nil {
				return err
			}
			pid, err := proc.Start(spec)
			if err != nil {
				return err
			}
			if len(lab.Nodes) <= 10 {
				pr.printf("node %s: dnsmasq for zone %s (pid %d)", n.Name, srv.Zone, pid)
			}
		}
	}
	return nil
}

// dnsmasqProc is how a zone's dnsmasq runs on a node: as dnsmasq@<zone>
// does (--conf-file=/dev/null and the zone's directory), in the foreground
// (the lab supervises it), as root (its files are in the state directory),
// with its own pid file kept out of /run.
func dnsmasqProc(dir string, n *Node, zone, bin string) proc.Spec {
	pidFile := dnsmasqPIDFile(dir, n.Name, zone)
	return proc.Spec{
		Name: "node " + n.Name + ": dnsmasq for zone " + zone,
		NS:   n.NS,
		Argv: []string{bin, "--keep-in-foreground", "--log-facility=-", "--user=root",
			"--pid-file=" + pidFile + ".dnsmasq", "--conf-file=/dev/null", "--conf-dir=" + dnsmasqDir(dir, n.Name, zone) + ",*.conf"},
		LogFile: filepath.Join(dir, "nodes", n.Name, "dnsmasq", "dnsmasq."+zone+".log"),
		PIDFile: pidFile,
	}
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

// udhcpcScript applies a lease the way a guest's DHCP client does: the
// address with its prefix length, the default route, the MTU (option 26),
// and writes what it got to $SDNLAB_LEASE.
const udhcpcScript = `#!/bin/sh
# sdnlab: udhcpc script of a lab guest (runs inside the guest namespace).
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface"
	[ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
	for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
	printf 'ip=%s\nmask=%s\nrouter=%s\ndns=%s\nmtu=%s\nlease=%s\nserverid=%s\n' "$ip" "$mask" "$router" "$dns" "$mtu" "$lease" "$serverid" > "$SDNLAB_LEASE"
	;;
esac
exit 0
`

// guestDHCP runs the guest's DHCP client once (a few tries) and returns
// an error when no lease came.
func guestDHCP(ctx context.Context, lab *Lab, g *Guest) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("ip: dhcp needs busybox's udhcpc: apt-get install busybox-static")
	}
	gdir := filepath.Join(lab.StateDir, "guests", g.Name)
	script := filepath.Join(gdir, "udhcpc.sh")
	if err := writeFile(script, udhcpcScript); err != nil {
		return err
	}
	if err := os.Chmod(script, 0o755); err != nil {
		return err
	}
	lease := filepath.Join(gdir, "dhcp.lease")
	_ = os.Remove(lease)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bb, "udhcpc", "-i", g.Ifname, "-f", "-q", "-n", "-t", "6", "-T", "1", "-O", "mtu", "-s", script)
	cmd.Env = append(os.Environ(), "SDNLAB_LEASE="+lease)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := nsutil.Start(g.NS, cmd); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("no DHCP lease (udhcpc: %v): %s", err, strings.TrimSpace(out.String()))
	}
	if _, err := os.Stat(lease); err != nil {
		return fmt.Errorf("udhcpc ended without a lease: %s", strings.TrimSpace(out.String()))
	}
	return nil
}

// RestartGuest restarts a guest's network as a reboot does: its NIC goes
// down, loses its addresses and routes, comes up, and is configured again
// (DHCP for `ip: dhcp` guests, else its static addresses and gateways).
func RestartGuest(ctx context.Context, lab *Lab, name string) error {
	g := lab.Guest(name)
	if g == nil {
		return fmt.Errorf("lab %s has no guest %q", lab.Name, name)
	}
	if g.IsVM() {
		return fmt.Errorf("guest %s is a VM (kind: vm): a network restart is for namespace guests", name)
	}
	ns, err := nsutil.OpenNS(g.NS, false)
	if err != nil {
		return err
	}
	defer ns.Close()
	l, err := ns.H.LinkByName(g.Ifname)
	if err != nil {
		return ns.Errf(g.Ifname, err)
	}
	if err := ns.H.LinkSetDown(l); err != nil {
		return ns.Errf(g.Ifname, err)
	}
	if err := ns.SetAddrs(g.Ifname, g.Addrs); err != nil {
		return err
	}
	if err := ns.Up(g.Ifname); err != nil {
		return err
	}
	waitOperUp(ctx, ns, g.Ifname, time.Second)
	if g.DHCP {
		return guestDHCP(ctx, lab, g)
	}
	return defaultRoutes(ns, g.Gateway4, g.Gateway6)
}

// DHCPServer is a zone's dnsmasq on a node, as status reports it.
type DHCPServer struct {
	Node, Zone string
	PID        int // 0: not running
	Leases     string
}

// DHCPServers lists the dnsmasq instances the lab started (running or not).
func DHCPServers(lab *Lab, stateDir string) []DHCPServer {
	var out []DHCPServer
	for _, n := range lab.Nodes {
		files, _ := filepath.Glob(filepath.Join(stateDir, "nodes", n.Name, "dnsmasq", "dnsmasq.*.pid"))
		for _, f := range files {
			zone := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "dnsmasq."), ".pid")
			out = append(out, DHCPServer{Node: n.Name, Zone: zone, PID: proc.LivePID(f, n.NS), Leases: DnsmasqLeaseFile(stateDir, n.Name, zone)})
		}
	}
	return out
}
