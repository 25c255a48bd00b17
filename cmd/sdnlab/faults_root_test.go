package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/capture"
	"github.com/sdnlab/sdnlab/internal/ping"
	"github.com/sdnlab/sdnlab/topology"
)

// cliEnv makes this test binary act as sdnlab itself when a command it
// runs starts a daemon (agent, impaird) with os.Executable().
const cliEnv = "SDNLAB_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) != "" && len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-test.") {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// faultLab brings examples/demo up with agents under a unique name; the
// cleanup removes it.
func faultLab(t *testing.T) *topology.Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	name := fmt.Sprintf("t%df", os.Getpid()%100000)
	state := t.TempDir()
	t.Setenv("SDNLAB_STATE", state)
	t.Setenv(cliEnv, "1")
	t.Cleanup(func() {
		if err := topology.Down(context.Background(), name, topology.Options{StateDir: state}); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	if err := runUp(context.Background(), []string{"../../examples/demo/lab.yaml", "--name", name, "--state", state, "-q", "--agents=yes"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	lab, err := topology.ReadState(state, name)
	if err != nil {
		t.Fatal(err)
	}
	// The overlay carries traffic once the EVPN sessions are up.
	eventually(t, lab, "vm11", "10.0.1.12", true)
	eventually(t, lab, "vm22", "10.0.2.21", true)
	return lab
}

// replies pings dst from a guest: how many of count echoes came back.
func replies(t *testing.T, lab *topology.Lab, from, dst string, count int) ping.Result {
	t.Helper()
	r, err := lab.Ping(context.Background(), from, netip.MustParseAddr(dst), ping.Opts{Count: count, Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("ping %s -> %s: %v", from, dst, err)
	}
	return r
}

// eventually waits (generously) until a ping from a guest is answered, or
// until none of a burst is.
func eventually(t *testing.T, lab *topology.Lab, from, dst string, answered bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := replies(t, lab, from, dst, 3)
		if answered && r.Received > 0 || !answered && r.Received == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s -> %s: %d of %d answered, want answered=%v", from, dst, r.Received, r.Transmitted, answered)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rtts reads the round trips iputils ping printed ("time=0.123 ms").
func rtts(out string) []time.Duration {
	var d []time.Duration
	for _, m := range regexp.MustCompile(`time=([0-9.]+) ms`).FindAllStringSubmatch(out, -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			d = append(d, time.Duration(v*float64(time.Millisecond)))
		}
	}
	return d
}

func cli(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	var err error
	switch args[0] {
	case "impair":
		err = runImpair(context.Background(), args[1:], &out)
	case "link":
		err = runLink(context.Background(), args[1:], &out)
	case "kill", "restart":
		err = runControlPlane(context.Background(), args[1:], &out, args[0])
	case "graph":
		err = runGraph(args[1:], &out)
	default:
		t.Fatalf("no such command %s", args[0])
	}
	if err != nil {
		t.Fatalf("sdnlab %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

// TestLabFaults: impairments, failed links and a crashed control plane
// each change what the lab does, and undoing them restores it; graph and
// status show them while they last.
func TestLabFaults(t *testing.T) {
	lab := faultLab(t)
	L := lab.Name

	// Loss: all of a guest's packets vanish (and the sender is not told).
	cli(t, "impair", L, "vm11", "--loss", "100%")
	if r := replies(t, lab, "vm11", "10.0.1.12", 5); r.Received != 0 {
		t.Errorf("100%% loss on vm11: %d of %d answered", r.Received, r.Transmitted)
	}
	var st bytes.Buffer
	if err := runStatus(context.Background(), []string{L}, &st); err != nil || !strings.Contains(st.String(), "impair vm11:eth0 loss 100%") {
		t.Errorf("status does not list the impairment (%v):\n%s", err, st.String())
	}
	// Delay: no reply can come back sooner than the delay (a lower bound,
	// not a timing measurement).
	cli(t, "impair", L, "vm11", "--delay", "30ms")
	r := replies(t, lab, "vm11", "10.0.1.12", 5)
	if r.Received == 0 {
		t.Fatal("30ms delay: nothing answered")
	}
	if len(rtts(r.Output)) == 0 {
		t.Fatalf("30ms delay: no round trip in ping's output:\n%s", r.Output)
	}
	for _, rtt := range rtts(r.Output) {
		if rtt < 29*time.Millisecond {
			t.Errorf("30ms delay on vm11: a reply after %v", rtt)
		}
	}
	// A segment: every port of its switch.
	out := cli(t, "impair", L, "lan", "--delay", "10ms")
	if strings.Count(out, "impaired sw-lan:") != 4 {
		t.Errorf("segment lan (3 nodes, upstream): %s", out)
	}
	if svg := cli(t, "graph", L); !strings.Contains(svg, "delay 10ms") || !strings.Contains(svg, "delay 30ms") {
		t.Error("graph does not show the impairments")
	}
	cli(t, "impair", L, "--clear")
	r = replies(t, lab, "vm11", "10.0.1.12", 5)
	if r.Received == 0 {
		t.Fatal("after --clear: nothing answered")
	}
	for _, rtt := range rtts(r.Output) {
		if rtt >= 20*time.Millisecond {
			t.Errorf("after --clear a reply still took %v", rtt)
		}
	}
	if imps, _ := topology.ReadImpairments(os.Getenv("SDNLAB_STATE"), L); len(imps) != 0 {
		t.Errorf("impairments left after --clear: %v", imps)
	}

	// Node to node: only that path breaks.
	cli(t, "link", L, "node1", "node3", "down")
	st.Reset()
	if err := runStatus(context.Background(), []string{L}, &st); err != nil || !strings.Contains(st.String(), "link   node1 node3 down") {
		t.Errorf("status does not list the failed link (%v):\n%s", err, st.String())
	}
	eventually(t, lab, "vm22", "10.0.2.21", false) // node1 -> node3
	// node1 <-> node2 still works (eventually: BFD may have flapped)
	// while node1 <-> node3 stays cut.
	eventually(t, lab, "vm11", "10.0.1.12", true)
	if r := replies(t, lab, "vm22", "10.0.2.21", 3); r.Received != 0 {
		t.Error("node1 <-> node3 came back by itself")
	}
	cli(t, "link", L, "node1", "node3", "up")
	eventually(t, lab, "vm22", "10.0.2.21", true)

	// A node's link to its segment: node2 loses carrier, vm12 on it is cut off.
	cli(t, "link", L, "node2", "lan", "down")
	eventually(t, lab, "vm11", "10.0.1.12", false)
	if svg := cli(t, "graph", L); !strings.Contains(svg, ">down<") {
		t.Error("graph does not show the failed link")
	}
	cli(t, "link", L, "lan", "node2", "up")
	eventually(t, lab, "vm11", "10.0.1.12", true)

	// The control plane crashes and comes back.
	dir := filepath.Join(os.Getenv("SDNLAB_STATE"), L)
	cli(t, "kill", L, "node3")
	if pid := topology.AgentPID(lab, dir, "node3"); pid != 0 {
		t.Errorf("agent of node3 still runs (pid %d)", pid)
	}
	if svg := cli(t, "graph", L); !strings.Contains(svg, "control plane down") {
		t.Error("graph does not show node3's crashed control plane")
	}
	if err := runControlPlane(context.Background(), []string{L, "node3"}, io.Discard, "kill"); err == nil {
		t.Error("killing a dead agent succeeded")
	}
	cli(t, "restart", L, "node3")
	if pid := topology.AgentPID(lab, dir, "node3"); pid == 0 {
		t.Error("node3's agent did not restart")
	}
	eventually(t, lab, "vm22", "10.0.2.21", true)
}

// TestCaptureLive: a live capture on a node keeps exactly the frames of
// the VNI asked for, in a pcapng file the capture package reads back; a
// VNI nobody uses keeps nothing.
func TestCaptureLive(t *testing.T) {
	lab := faultLab(t)
	dir := t.TempDir()
	grab := func(vni string) *capture.Result {
		file := filepath.Join(dir, "vni"+vni+".pcapng")
		done := make(chan error, 1)
		started := newStartSignal()
		go func() {
			done <- runCapture(context.Background(), []string{lab.Name, "node1", "vm12", "-w", file, "-q", "--vni", vni, "--duration", "4s"}, io.Discard, started)
		}()
		started.wait(t, done)
		replies(t, lab, "vm11", "10.0.1.12", 5)
		if err := <-done; err != nil {
			t.Fatalf("capture: %v", err)
		}
		res, err := capture.ReadFile(file, capture.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := grab("11000")
	echo := 0
	for _, p := range res.Packets {
		if p.VXLAN == nil || p.VXLAN.VNI != 11000 {
			t.Fatalf("a frame outside VNI 11000 was kept: %s", p.Summary())
		}
		if in := p.VXLAN.Inner; in != nil && in.ICMP != nil {
			echo++
		}
	}
	if echo < 5 {
		t.Errorf("VNI 11000 on node1: %d ICMP frames in VXLAN, want the 5 echoes and replies", echo)
	}
	if res := grab("4242"); len(res.Packets) != 0 {
		t.Errorf("VNI 4242 (unused): %d frames kept", len(res.Packets))
	}
	// Ctrl-C (the context ends) stops a capture without --duration, and
	// what it wrote is a complete file.
	file := filepath.Join(dir, "ctrl-c.pcapng")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := newStartSignal()
	go func() { done <- runCapture(ctx, []string{lab.Name, "vm11", "-w", file, "-q"}, io.Discard, started) }()
	started.wait(t, done)
	replies(t, lab, "vm11", "10.0.1.12", 3)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("capture after Ctrl-C: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("capture did not stop when its context ended")
	}
	res, err := capture.ReadFile(file, capture.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	icmp := 0
	for _, p := range res.Packets {
		if p.ICMP != nil {
			icmp++
		}
	}
	if icmp < 6 {
		t.Errorf("vm11's eth0 until Ctrl-C: %d ICMP frames, want the 3 echoes and replies", icmp)
	}
}

// Bad input to the new lab commands is exit code 2, before anything
// changes (no root needed: a fake lab state).
func TestFaultCommandsBadInput(t *testing.T) {
	name := fmt.Sprintf("t%db", os.Getpid()%100000)
	state := t.TempDir()
	t.Setenv("SDNLAB_STATE", state)
	fakeState(t, state, &topology.Lab{Name: name,
		Nodes:    []*topology.Node{{Name: "node1", NS: "sdnlab-" + name + "-node1", Link: topology.Link{Segment: "lan", Ifname: "eth0", Port: "node1"}}},
		Segments: []*topology.Segment{{Name: "lan", NS: "sdnlab-" + name + "-sw-lan"}}})
	ctx := context.Background()
	wantBadInput(t, "impair nothing", runImpair(ctx, []string{name, "node1"}, io.Discard), "nothing to do")
	wantBadInput(t, "impair loss 150", runImpair(ctx, []string{name, "node1", "--loss", "150%"}, io.Discard), "loss")
	wantBadInput(t, "impair jitter > delay", runImpair(ctx, []string{name, "node1", "--delay", "1ms", "--jitter", "5ms"}, io.Discard), "jitter")
	wantBadInput(t, "impair unknown", runImpair(ctx, []string{name, "nosuch", "--loss", "1%"}, io.Discard), `"nosuch"`)
	wantBadInput(t, "impair clear with loss", runImpair(ctx, []string{name, "--clear", "--loss", "1%"}, io.Discard), "--clear")
	wantBadInput(t, "link state", runLink(ctx, []string{name, "node1", "lan", "sideways"}, io.Discard), "down or up")
	wantBadInput(t, "link unknown", runLink(ctx, []string{name, "node1", "nosuch", "down"}, io.Discard), `"nosuch"`)
	wantBadInput(t, "kill unknown", runControlPlane(ctx, []string{name, "node9"}, io.Discard, "kill"), `"node9"`)
	wantBadInput(t, "capture vni", runCapture(ctx, []string{name, "node1", "--vni", "x"}, io.Discard, io.Discard), "--vni")
	wantBadInput(t, "capture unknown", runCapture(ctx, []string{name, "nosuch"}, io.Discard, io.Discard), `"nosuch"`)
	wantBadInput(t, "graph format", runGraph([]string{name, "--format", "png"}, io.Discard), "--format")
	wantBadInput(t, "not up", runLink(ctx, []string{"nolab", "a", "b", "down"}, io.Discard), "not up")
}

// startSignal is a capture's stderr: it closes ready at the line saying
// the capture runs, so a test sends its probes only after that (a fixed
// sleep loses them on a loaded machine).
type startSignal struct {
	once  sync.Once
	ready chan struct{}
}

func newStartSignal() *startSignal { return &startSignal{ready: make(chan struct{})} }

func (s *startSignal) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("capturing on")) {
		s.once.Do(func() { close(s.ready) })
	}
	return len(p), nil
}

// wait returns once the capture runs; it fails the test if the capture
// ended first or did not start within a generous timeout.
func (s *startSignal) wait(t *testing.T, done chan error) {
	t.Helper()
	select {
	case <-s.ready:
	case err := <-done:
		t.Fatalf("capture ended before it started: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("capture did not start within a minute")
	}
}
