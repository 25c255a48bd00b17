package topology

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/proc"
	"github.com/sdnlab/sdnlab/sdn/evpn"
	"github.com/sdnlab/sdnlab/topology/frrnode"
)

// TestFRRNodeLifecycle: a mixed lab (node1 on FRR, node2 and node3 on the
// agent, 4-byte ASN). FRR runs in node1's namespace with its files in the
// state directory only; show answers in the agent's schema; `exec vtysh`
// reaches node1's own FRR; a changed frr.conf is reloaded; a killed FRR
// is restarted by up; an engine changed in the lab file takes over at the
// next up; down leaves no FRR process and nothing in the host's
// /etc/frr and /var/run/frr.
func TestFRRNodeLifecycle(t *testing.T) {
	needRoot(t)
	if err := frrnode.Installed(); err != nil {
		t.Skip(err.Error())
	}
	opts := Options{StateDir: t.TempDir(), StartAgents: true, AgentPath: sdnlabBinary(t)}
	lab := upLab(t, "../scenarios/testdata/labs/mix4/lab.yaml", "fn", opts)
	ctx := context.Background()
	dir := opts.LabDir(lab.Name)
	if ok, what := EngineRunning(lab, dir, "node1"); !ok || !strings.HasPrefix(what, "frr") {
		t.Fatalf("node1: %v %s, want FRR running", ok, what)
	}
	if ok, what := EngineRunning(lab, dir, "node2"); !ok || !strings.HasPrefix(what, "agent") {
		t.Fatalf("node2: %v %s, want the agent", ok, what)
	}
	pids := EnginePIDs(lab, dir, "node1")
	if len(pids) < 4 { // watchfrr, zebra, staticd, bgpd, bfdd
		t.Fatalf("node1's FRR daemons: %v", pids)
	}
	for _, pid := range pids {
		if !proc.InNS(pid, lab.Node("node1").NS) {
			t.Errorf("FRR daemon %d is not in node1's namespace", pid)
		}
	}
	hostFRRClean(t, lab.Name)

	// show: the agent's schema, sessions with both agents.
	var s *evpn.Snapshot
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		s, err = Show(ctx, lab, dir, "node1", evpn.Request{Show: evpn.ShowAll})
		if err == nil && len(s.Peers) == 2 && s.Peers[0].State == "Established" && s.Peers[1].State == "Established" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node1's sessions: %+v (%v)", s, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s.ASN != 4200001000 || s.Node != "node1" {
		t.Errorf("show: node %s ASN %d", s.Node, s.ASN)
	}
	out, err := lab.Output(ctx, "node1", "vtysh", "-c", "show version")
	if err != nil || !strings.Contains(string(out), "FRRouting") || !strings.Contains(string(out), "node1") {
		t.Errorf("exec vtysh on node1: %v\n%s", err, out)
	}

	// A changed frr.conf is reloaded (frr-reload.py: only the difference).
	in := frrInstance(lab, lab.Node("node1"), dir)
	in.Conf = strings.Replace(in.Conf, "line vty\n", "ip prefix-list SDNLABTEST seq 5 permit 10.9.9.0/24\n!\nline vty\n", 1)
	changed, err := in.Reload(ctx)
	if err != nil || !changed {
		t.Fatalf("reload: changed %v, %v", changed, err)
	}
	out, _ = frrnode.Vtysh(ctx, in.NS, in.Dir, "show running-config")
	if !strings.Contains(string(out), "SDNLABTEST") {
		t.Errorf("the reloaded line is not in the running configuration:\n%s", out)
	}
	if changed, err := in.Reload(ctx); err != nil || changed {
		t.Errorf("reload of the same file: changed %v, %v", changed, err)
	}

	// A node crash, then up again: FRR is back.
	if err := KillEngine(lab, dir, "node1"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pids)
	if _, err := Up(ctx, lab, opts); err != nil {
		t.Fatalf("up again: %v", err)
	}
	again := EnginePIDs(lab, dir, "node1")
	if len(again) < 4 {
		t.Fatalf("up did not restart node1's FRR: %v", again)
	}

	// engine: edited to agent, up again: FRR goes, the agent comes.
	lab.Node("node1").Engine = EngineAgent
	if _, err := Up(ctx, lab, opts); err != nil {
		t.Fatalf("up with node1 on the agent: %v", err)
	}
	waitGone(t, again)
	if ok, what := EngineRunning(lab, dir, "node1"); !ok || !strings.HasPrefix(what, "agent") {
		t.Errorf("node1 after the engine change: %v %s, want the agent", ok, what)
	}
	again = append(again, EnginePIDs(lab, dir, "node1")...)

	if err := Down(ctx, lab.Name, opts); err != nil {
		t.Fatal(err)
	}
	waitGone(t, again)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory left: %v", err)
	}
	// No process of this lab's FRR anywhere (they would hold its mounts).
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "mountinfo"))
		if strings.Contains(string(b), dir+"/") {
			t.Errorf("process %s still mounts the lab's FRR files", e.Name())
		}
	}
	hostFRRClean(t, lab.Name)
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for proc.ProcessAlive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still alive", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// hostFRRClean fails when the host's /etc/frr or /var/run/frr holds
// anything of the lab (other tests may run FRR instances of their own
// there, so only this lab's names count).
func hostFRRClean(t *testing.T, lab string) {
	t.Helper()
	for _, d := range []string{"/etc/frr", "/var/run/frr"} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.Contains(e.Name(), lab) || strings.HasPrefix(e.Name(), "node") {
				t.Errorf("%s/%s: the lab wrote into the host's FRR directories", d, e.Name())
			}
		}
	}
}
