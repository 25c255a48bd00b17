// Package frrnode runs Debian's FRR as the SDN engine of a lab node: the
// daemons (watchfrr, zebra, bgpd, bfdd, staticd, and fabricd/ospfd/isisd
// when the plan needs them) inside the node's network namespace, loaded
// with exactly the frr.conf `sdnlab render` writes for the node, the way a
// Proxmox node loads it (frrinit.sh start, `vtysh -b`; frr-reload.py for a
// changed configuration).
//
// Every file of an instance lives in the lab's state directory. The daemons
// run in a private mount namespace (unshare --mount --uts) in which
//
//	DIR/etc          is /etc/frr       (daemons, frr.conf, vtysh.conf)
//	DIR/run          is /var/run/frr   (pid files, vty sockets, logs)
//	DIR/netns/<vrf>  is /run/netns/<vrf>, on a private tmpfs: the node's
//	                 VRF namespaces under their FRR names, and nothing
//	                 else, for `zebra -n` (namespaces as VRFs)
//
// and the host's syslog sockets are covered, so nothing reaches the host's
// /etc/frr, /var/run/frr, /run/netns or journal. FRR is never started in
// the host's network namespace: Start refuses a namespace that is not a
// lab namespace.
package frrnode

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/internal/proc"
)

// Bin is where Debian installs the FRR daemons and scripts.
const Bin = "/usr/lib/frr"

// Instance is one node's FRR.
type Instance struct {
	// Node is the Proxmox node name (the hostname FRR sees).
	Node string
	// NS is the node's network namespace (sdnlab-<lab>-<node>).
	NS string
	// Dir is the instance's directory in the lab's state directory.
	Dir string
	// Conf is the frr.conf to load (render's text, frr.conf.local merged).
	Conf string
	// VRFs maps each VRF name of frr.conf to the namespace that serves as
	// that VRF (zebra -n).
	VRFs map[string]string
	// Leaked are the prefixes of routes that `import vrf` leaks from a VRF
	// into the default instance (the zone subnets, host routes within
	// them, and default routes). With VRF devices the kernel forwards
	// such a route into the VRF; with namespaces as VRFs it cannot (a
	// route does not cross namespaces; zebra would install it with a
	// device index of the VRF namespace), and the lab's xvrf veth carries
	// that traffic instead. So zebra is told not to install them in the
	// node namespace (KeepLeaksOut); BGP still has and announces them.
	Leaked []netip.Prefix
	// Root, when set, is a private Debian root holding another FRR release
	// (frr: 10 runs Debian 13's FRR 10 from one): the daemons run chrooted
	// there, with the same mounts inside it. "" runs the host's FRR.
	Root string
	// Daemons are the routing daemons to run besides zebra and staticd
	// (which always run): bgpd, bfdd, and fabricd/ospfd/isisd when the
	// configuration has those sections.
	Daemons []string
	// Role is what the instance is to its node: RoleNode (the node's FRR,
	// the default) or RoleFabricOnly. Start records it in DIR/role.
	Role string
	// Additions are configuration lines the lab applies after frr.conf
	// (vtysh, after each start and reload), never written into frr.conf:
	// lab-file tuning such as a fabric's LSP generation interval.
	Additions []string
}

// Roles of an instance.
const (
	// RoleNode: the node's routing engine, the whole frr.conf.
	RoleNode = "node"
	// RoleFabricOnly: the fabrics of an agent node, beside the agent.
	RoleFabricOnly = "fabric-only"
)

// RoleOf is the role of the instance last started in dir ("" none).
func RoleOf(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "role"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Installed reports whether Debian's FRR is there, with the reason when not.
func Installed() error { return InstalledIn("") }

// InstalledIn is Installed for the FRR of a private root ("" the host).
func InstalledIn(root string) error {
	for _, f := range []string{"frrinit.sh", "zebra", "bgpd", "watchfrr"} {
		if _, err := os.Stat(filepath.Join(root, Bin, f)); err != nil {
			if root != "" {
				return fmt.Errorf("the private FRR root %s is missing or incomplete (%s): build it with `sudo make frr10` (debootstrap of Debian 13 with frr, about 4 minutes and 430 MB, once)", root, filepath.Join(Bin, f))
			}
			return fmt.Errorf("FRR is not installed (%s missing): apt-get install frr frr-pythontools", filepath.Join(Bin, f))
		}
	}
	return nil
}

// DaemonsFor lists the daemons a configuration needs, read from its
// section lines as watchfrr's daemons file would enable them on Proxmox.
func DaemonsFor(conf string) []string {
	ds := []string{"bgpd", "bfdd"}
	for _, l := range strings.Split(conf, "\n") {
		switch {
		case strings.HasPrefix(l, "router openfabric "):
			ds = appendNew(ds, "fabricd")
		case strings.HasPrefix(l, "router ospf"):
			ds = appendNew(ds, "ospfd")
		case strings.HasPrefix(l, "router isis "):
			ds = appendNew(ds, "isisd")
		}
	}
	return ds
}

func appendNew(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// daemonsFile is /etc/frr/daemons: Debian's defaults, the datacenter
// profile (frrinit passes -F: with the integrated config the `frr defaults`
// line alone is not applied), logs to files in the run directory, and
// namespaces as VRFs for zebra when the configuration has VRFs.
func (in *Instance) daemonsFile() string {
	var b strings.Builder
	for _, d := range in.Daemons {
		fmt.Fprintf(&b, "%s=yes\n", d)
	}
	b.WriteString("vtysh_enable=yes\nfrr_profile=\"datacenter\"\n")
	zebra := "-A 127.0.0.1 -s 90000000"
	if len(in.VRFs) > 0 {
		zebra += " -n"
	}
	fmt.Fprintf(&b, "zebra_options=\"%s --log file:/var/run/frr/zebra.log\"\n", zebra)
	// mgmtd: FRR 10's management daemon (always started there).
	for _, d := range append([]string{"staticd", "mgmtd"}, in.Daemons...) {
		fmt.Fprintf(&b, "%s_options=\"-A 127.0.0.1 --log file:/var/run/frr/%s.log\"\n", d, d)
	}
	return b.String()
}

func (in *Instance) etc() string { return filepath.Join(in.Dir, "etc") }
func (in *Instance) run() string { return filepath.Join(in.Dir, "run") }

// ConfPath is the loaded frr.conf.
func (in *Instance) ConfPath() string { return filepath.Join(in.etc(), "frr.conf") }

// Start writes the instance's files and starts its daemons in the node
// namespace; it returns once frrinit.sh has started them and `vtysh -b`
// has loaded frr.conf.
func (in *Instance) Start(ctx context.Context) error {
	if !strings.HasPrefix(in.NS, "sdnlab-") || !nsutil.Exists(in.NS) {
		return fmt.Errorf("frr on %s: %q is not a lab namespace: FRR runs only inside lab namespaces", in.Node, in.NS)
	}
	if err := InstalledIn(in.Root); err != nil {
		return err
	}
	for _, d := range []string{in.etc(), in.run(), filepath.Join(in.Dir, "netns")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("frr on %s: %w", in.Node, err)
		}
	}
	files := map[string]string{
		"daemons":    in.daemonsFile(),
		"frr.conf":   in.Conf,
		"vtysh.conf": "service integrated-vtysh-config\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(in.etc(), n), []byte(c), 0o640); err != nil {
			return fmt.Errorf("frr on %s: %w", in.Node, err)
		}
	}
	role := in.Role
	if role == "" {
		role = RoleNode
	}
	if err := os.WriteFile(filepath.Join(in.Dir, "role"), []byte(role+"\n"), 0o644); err != nil {
		return fmt.Errorf("frr on %s: %w", in.Node, err)
	}
	// The daemons drop to the frr user: it must own its files (the root's
	// own frr user when chrooted, see below).
	if in.Root == "" {
		if out, err := exec.Command("chown", "-R", "frr:frr", in.etc(), in.run()).CombinedOutput(); err != nil {
			return fmt.Errorf("frr on %s: chown: %v: %s", in.Node, err, out)
		}
	}
	// The mount points: Debian's frr package creates both; a machine where
	// /var/run/frr is gone since boot gets it back (empty), as frr's own
	// tmpfiles rule would.
	r := in.Root // "" or the private root: every path below is inside it
	for _, d := range []string{r + "/etc/frr", r + "/run/frr", r + "/run/netns"} {
		if _, err := os.Stat(d); err != nil {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("frr on %s: %w", in.Node, err)
			}
		}
	}
	var b strings.Builder
	b.WriteString("set -e\n")
	fmt.Fprintf(&b, "hostname %s\n", shq(in.Node))
	fmt.Fprintf(&b, "mount --bind %s %s/etc/frr\n", shq(in.etc()), r)
	fmt.Fprintf(&b, "mount --bind %s %s/run/frr\n", shq(in.run()), r)
	if r != "" {
		fmt.Fprintf(&b, "mount --rbind /dev %[1]s/dev; mount -t proc proc %[1]s/proc; mount --rbind /sys %[1]s/sys\n", r)
	}
	fmt.Fprintf(&b, "for s in %[1]s/dev/log %[1]s/run/systemd/journal/dev-log %[1]s/run/systemd/journal/socket; do if [ -S $s ]; then mount --bind /dev/null $s; fi; done\n", r)
	names := sortedKeys(in.VRFs)
	for _, name := range names {
		hold := filepath.Join(in.Dir, "netns", name)
		fmt.Fprintf(&b, "touch %[1]s; mount --bind %[2]s %[1]s\n", shq(hold), shq(nsutil.Path(in.VRFs[name])))
	}
	fmt.Fprintf(&b, "mkdir -p %[1]s/run/netns; mount -t tmpfs sdnlab-frr %[1]s/run/netns\n", r)
	for _, name := range names {
		hold := filepath.Join(in.Dir, "netns", name)
		fmt.Fprintf(&b, "touch %[3]s/run/netns/%[2]s; mount --bind %[1]s %[3]s/run/netns/%[2]s\n", shq(hold), shq(name), r)
	}
	// frrinit.sh's output goes to start.log, not to a pipe: a daemon
	// that keeps the descriptors it inherited would hold the pipe open.
	logf := shq(filepath.Join(in.Dir, "start.log"))
	if r != "" {
		fmt.Fprintf(&b, "chroot %s chown -R frr:frr /etc/frr /run/frr\n", r)
		fmt.Fprintf(&b, "exec chroot %s %s/frrinit.sh start </dev/null >%s 2>&1\n", r, Bin, logf)
	} else {
		fmt.Fprintf(&b, "exec %s/frrinit.sh start </dev/null >%s 2>&1\n", Bin, logf)
	}
	script := b.String()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := nsutil.Output(sctx, in.NS, "unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", script)
	if log, rerr := os.ReadFile(filepath.Join(in.Dir, "start.log")); rerr == nil {
		out = append(out, log...)
	}
	if err != nil {
		return fmt.Errorf("frr on %s: start: %v: %s", in.Node, err, tail(string(out), 800))
	}
	if PID(in.Dir, in.NS) == 0 {
		return fmt.Errorf("frr on %s: started but zebra is not running: %s", in.Node, tail(string(out), 800))
	}
	return in.keepLeaksOut(ctx)
}

// Ensure brings the instance up: a running one is reloaded (changed says
// whether its frr.conf differed), any other started clean, after killing
// what a crashed one left (reloaded false).
func (in *Instance) Ensure(ctx context.Context) (reloaded, changed bool, err error) {
	if PID(in.Dir, in.NS) != 0 {
		changed, err := in.Reload(ctx)
		return true, changed, err
	}
	_ = Kill(in.Dir, in.NS)
	return false, false, in.Start(ctx)
}

// leakMap names the lab's zebra route-map (see Leaked).
const leakMap = "SDNLAB_NETNS_VRF_LEAK"

// LeakFilter is the configuration KeepLeaksOut applies: a zebra route-map
// on the default VRF's BGP routes denying the leaked prefixes. It is not
// part of frr.conf (that stays exactly what render writes); "" when there
// is nothing to filter.
func (in *Instance) LeakFilter() []string {
	if len(in.Leaked) == 0 || len(in.VRFs) == 0 {
		return nil
	}
	// Per family: its prefix-list, how many prefixes it has, and the
	// zebra route-map frr.conf already has on BGP routes ("" none).
	fams := []struct {
		family, list string
		n            int
		conf         string
	}{{family: "ip", list: leakMap}, {family: "ipv6", list: leakMap + "_V6"}}
	var out []string
	seen := map[netip.Prefix]bool{}
	for _, p := range in.Leaked {
		p = p.Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		// A subnet with every host route in it; a default route alone
		// (0.0.0.0/0 le 32 would be every route).
		le := ""
		if p.Bits() > 0 {
			le = fmt.Sprintf(" le %d", p.Addr().BitLen())
		}
		f := &fams[0]
		if !p.Addr().Is4() {
			f = &fams[1]
		}
		f.n++
		out = append(out, fmt.Sprintf("%s prefix-list %s seq %d permit %s%s", f.family, f.list, f.n, p, le))
	}
	// frr.conf may have its own zebra route-map on BGP routes (a BGP
	// fabric's pve_bgp): zebra takes one per family, so the deny entries
	// go in front of it (sequences 1 and 2, before Proxmox's 100).
	seq, permit := 1, false
	for i := range fams {
		f := &fams[i]
		f.conf = in.confProtocolMap(f.family)
		permit = permit || f.conf == ""
		if f.n > 0 {
			out = append(out, fmt.Sprintf("route-map %s deny %d", cmp.Or(f.conf, leakMap), seq),
				fmt.Sprintf(" match %s address prefix-list %s", f.family, f.list), "exit")
			seq++
		}
	}
	if permit {
		out = append(out, fmt.Sprintf("route-map %s permit %d", leakMap, seq), "exit")
	}
	for _, f := range fams {
		if f.conf == "" {
			out = append(out, f.family+" protocol bgp route-map "+leakMap)
		}
	}
	return out
}

// confProtocolMap is the route-map of frr.conf's "<family> protocol bgp
// route-map NAME" line ("" none).
func (in *Instance) confProtocolMap(family string) string {
	for _, l := range strings.Split(in.Conf, "\n") {
		if name, ok := strings.CutPrefix(l, family+" protocol bgp route-map "); ok {
			return strings.TrimSpace(name)
		}
	}
	return ""
}

// keepLeaksOut applies LeakFilter to the running daemons (after a start
// or a reload: frr-reload.py removes what frr.conf does not have).
func (in *Instance) keepLeaksOut(ctx context.Context) error {
	leak := in.LeakFilter()
	lines := append(append([]string(nil), leak...), in.Additions...)
	if len(lines) == 0 {
		return nil
	}
	// The deny entries go in front of frr.conf's own route-maps: their
	// sequences must be free there.
	for _, m := range []string{in.confProtocolMap("ip"), in.confProtocolMap("ipv6")} {
		for _, seq := range []string{" permit 1\n", " deny 1\n", " permit 2\n", " deny 2\n"} {
			if len(leak) > 0 && m != "" && strings.Contains(in.Conf, "\nroute-map "+m+seq) {
				return fmt.Errorf("frr on %s: frr.conf's route-map %s uses sequence 1 or 2: the lab cannot put its entries keeping VRF-leaked routes out of the node namespace (namespaces as VRFs) in front of it", in.Node, m)
			}
		}
	}
	argv := []string{"vtysh", "-c", "configure terminal"}
	for _, l := range lines {
		argv = append(argv, "-c", strings.TrimSpace(l))
	}
	out, err := Exec(ctx, in.NS, in.Dir, argv...)
	if err != nil {
		return fmt.Errorf("frr on %s: lab additions (lab-additions.conf): %w: %s", in.Node, err, tail(string(out), 400))
	}
	return os.WriteFile(filepath.Join(in.Dir, "lab-additions.conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// Reload applies conf to a running instance the way Proxmox applies an SDN
// change: frr-reload.py computes the difference between the running
// configuration and the new file and applies only that. It reports whether
// anything changed.
func (in *Instance) Reload(ctx context.Context) (bool, error) {
	old, err := os.ReadFile(in.ConfPath())
	if err == nil && string(old) == in.Conf {
		return false, nil
	}
	if _, err := os.Stat(filepath.Join(in.Root, Bin, "frr-reload.py")); err != nil {
		return false, fmt.Errorf("frr on %s: the configuration changed but frr-reload.py is missing: apt-get install frr-pythontools", in.Node)
	}
	if err := os.WriteFile(in.ConfPath(), []byte(in.Conf), 0o640); err != nil {
		return false, err
	}
	if in.Root == "" {
		_ = exec.Command("chown", "frr:frr", in.ConfPath()).Run()
	}
	out, err := Exec(ctx, in.NS, in.Dir, filepath.Join(Bin, "frr-reload.py"), "--reload", "/etc/frr/frr.conf")
	_ = os.WriteFile(filepath.Join(in.Dir, "reload.log"), out, 0o644)
	if err != nil {
		return true, fmt.Errorf("frr on %s: frr-reload.py: %v: %s", in.Node, err, tail(string(out), 800))
	}
	return true, in.keepLeaksOut(ctx)
}

// pidFiles are the daemons' pid files, watchfrr first (it restarts the
// others, so it goes first when they are killed).
func pidFiles(dir string) []string {
	ms, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid"))
	sort.Slice(ms, func(i, j int) bool {
		wi, wj := strings.HasSuffix(ms[i], "/watchfrr.pid"), strings.HasSuffix(ms[j], "/watchfrr.pid")
		if wi != wj {
			return wi
		}
		return ms[i] < ms[j]
	})
	return ms
}

// PIDs are the live daemons of the instance in dir (watchfrr first): the
// processes of the pid files that still run in namespace ns (checked by
// internal/proc, as the agents and routers are).
func PIDs(dir, ns string) []int {
	var out []int
	for _, f := range pidFiles(dir) {
		if pid := proc.LivePID(f, ns); pid > 1 {
			out = append(out, pid)
		}
	}
	return out
}

// PID is zebra's PID, 0 when zebra is not running: the instance is up
// while its zebra is.
func PID(dir, ns string) int {
	return proc.LivePID(filepath.Join(dir, "run", "zebra.pid"), ns)
}

// Kill sends SIGKILL to every daemon of the instance (a node crash).
func Kill(dir, ns string) error {
	if err := proc.Kill(PIDs(dir, ns)); err != nil {
		return fmt.Errorf("frr daemons: %w", err)
	}
	return nil
}

// RSS is the sum of the resident memory of the instance's daemons, in bytes.
func RSS(dir, ns string) int64 {
	var sum int64
	for _, pid := range PIDs(dir, ns) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			sum += n * int64(os.Getpagesize())
		}
	}
	return sum
}

// Wrap turns argv into a command that runs in the mount and UTS namespaces
// of the instance's daemons (where /etc/frr and /var/run/frr are its own),
// so that a plain `vtysh` talks to this node's FRR. It returns argv
// unchanged when the instance is not running.
func Wrap(dir, ns string, argv []string) []string {
	pid := PID(dir, ns)
	if pid == 0 {
		return argv
	}
	// -r: the daemons' root too (a private root for frr: 10).
	return append([]string{"nsenter", "-t", strconv.Itoa(pid), "-m", "-u", "-r", "--"}, argv...)
}

// Exec runs argv in the node namespace inside the instance's mount
// namespace (see Wrap).
func Exec(ctx context.Context, ns, dir string, argv ...string) ([]byte, error) {
	if PID(dir, ns) == 0 {
		return nil, fmt.Errorf("FRR is not running in %s", ns)
	}
	return nsutil.Output(ctx, ns, Wrap(dir, ns, argv)...)
}

// Vtysh runs one vtysh command on the instance.
func Vtysh(ctx context.Context, ns, dir, cmd string) ([]byte, error) {
	return Exec(ctx, ns, dir, "vtysh", "-c", cmd)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
