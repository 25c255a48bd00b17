package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/internal/nsutil"
	"github.com/sdnlab/sdnlab/topology"
)

// Commands on a lab that is not up: exec and status are bad input (exit
// code 2) with a message; down has nothing to do and succeeds (exit 0), so
// cleanup scripts can always call it.
func TestLabNotUp(t *testing.T) {
	name := fmt.Sprintf("nx%d", os.Getpid())
	state := t.TempDir()
	t.Setenv("SDNLAB_STATE", state)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"exec", name, "node1", "--", "true"}, exitBadInput},
		{[]string{"status", name, "--state", state}, exitBadInput},
		{[]string{"down", name, "--state", state}, exitOK},
		{[]string{"exec", name}, exitBadInput},
	} {
		if got := run(c.args); got != c.want {
			t.Errorf("sdnlab %v: exit %d, want %d", c.args, got, c.want)
		}
	}
}

// fakeState writes lab.json of a lab that looks up (its state directory
// exists) under state, without namespaces: enough for the checks that
// run before anything is created, and no root needed.
func fakeState(t *testing.T, state string, lab *topology.Lab) {
	t.Helper()
	dir := filepath.Join(state, lab.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(lab)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lab.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantBadInput checks that err is bad input (exit code 2) whose message
// contains each of want.
func wantBadInput(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("%s: got %v (%T), want bad input", what, err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q does not say %q", what, err, w)
		}
	}
}

// A second up with the same name from another lab file would take the
// running lab over: bad input, naming the running lab's file.
func TestUpRefusesOtherLabFile(t *testing.T) {
	name := fmt.Sprintf("t%dx", os.Getpid()%100000)
	state := t.TempDir()
	other := filepath.Join(t.TempDir(), "lab.yaml")
	fakeState(t, state, &topology.Lab{Name: name, File: other})
	// Should up ever take the lab over again, remove what it built.
	t.Cleanup(func() { _ = topology.Down(context.Background(), name, topology.Options{StateDir: state}) })
	args := []string{"../../examples/vxlan/lab.yaml", "--name", name, "--state", state, "-q", "--agents=no"}
	err := runUp(context.Background(), args, io.Discard)
	wantBadInput(t, "up over another file's lab", err,
		"lab "+name+" is already up from "+other, "sdnlab down "+name, "choose another --name")
	if got := run(append([]string{"up"}, args...)); got != exitBadInput {
		t.Errorf("exit %d, want %d", got, exitBadInput)
	}
	// The running lab's state is untouched.
	l, err := topology.ReadState(state, name)
	if err != nil || l.File != other {
		t.Errorf("state after refused up: %v, %v", l, err)
	}
}

// A bad --name is reported as the flag's error, not the lab file's.
func TestUpBadNameFlag(t *testing.T) {
	err := runUp(context.Background(), []string{"../../examples/vxlan/lab.yaml", "--name", "Bad-Name", "--state", t.TempDir()}, io.Discard)
	wantBadInput(t, "--name Bad-Name", err, "--name", `"Bad-Name"`)
	if strings.Contains(err.Error(), "lab.yaml") {
		t.Errorf("--name error blames the lab file: %v", err)
	}
}

// --state naming a file (or something under one) is the flag's error.
func TestStateFlagNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{f, filepath.Join(f, "sub", "dir")} {
		err := runUp(context.Background(), []string{"../../examples/vxlan/lab.yaml", "--state", st, "-q"}, io.Discard)
		wantBadInput(t, "up --state "+st, err, "--state "+st, "not a directory")
		err = runDown(context.Background(), []string{"somelab", "--state", st}, io.Discard)
		wantBadInput(t, "down --state "+st, err, "--state")
	}
	// A state directory that does not exist yet is fine (up creates it).
	if err := checkStateFlag(filepath.Join(t.TempDir(), "new", "state")); err != nil {
		t.Errorf("new state dir: %v", err)
	}
}

// The demo removes a leftover lab of its names only when an earlier demo
// started it (its lab file lies next to the demo marker); a user's lab of
// that name is bad input and left alone.
func TestDemoLeftover(t *testing.T) {
	state := t.TempDir()
	topo := topology.Options{StateDir: state}
	demoDir, userDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(demoDir, demoMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fakeState(t, state, &topology.Lab{Name: demoLab, File: filepath.Join(userDir, "lab.yaml")})
	fakeState(t, state, &topology.Lab{Name: demoRacksLab, File: filepath.Join(demoDir, demoRacksLab+".yaml")})

	_, err := demoLeftover(topo, demoLab)
	wantBadInput(t, "user's lab demo", err, "a lab named demo is up from "+filepath.Join(userDir, "lab.yaml"), "sdnlab down demo")
	if ok, err := demoLeftover(topo, demoRacksLab); err != nil || !ok {
		t.Errorf("earlier demo's lab: %v, %v; want true", ok, err)
	}
	// A name no lab on this machine has: a real demo running beside the
	// tests (labs are machine-wide) must not change the answer.
	if ok, err := demoLeftover(topology.Options{StateDir: t.TempDir()}, fmt.Sprintf("t%dn", os.Getpid()%100000)); err != nil || ok {
		t.Errorf("no lab: %v, %v; want false", ok, err)
	}
}

// migrate rejects a guest's own node and a negative pause (bad input)
// before touching anything.
func TestMigrateBadInput(t *testing.T) {
	name := fmt.Sprintf("t%dm", os.Getpid()%100000)
	state := t.TempDir()
	t.Setenv("SDNLAB_STATE", state)
	fakeState(t, state, &topology.Lab{Name: name,
		Nodes:  []*topology.Node{{Name: "node1"}, {Name: "node2"}},
		Guests: []*topology.Guest{{Name: "vm11", Node: "node1"}}})
	ctx := context.Background()
	wantBadInput(t, "to its own node", runMigrate(ctx, []string{name, "vm11", "node1"}, io.Discard), "guest vm11 is already on node1")
	wantBadInput(t, "negative pause", runMigrate(ctx, []string{name, "vm11", "node2", "--pause", "-5ms"}, io.Discard), "--pause -5ms")
	wantBadInput(t, "unknown node", runMigrate(ctx, []string{name, "vm11", "node9"}, io.Discard), "no node")
}

// After an interrupted up (lab.json written, kernel not yet probed),
// status says so rather than listing every feature as missing.
func TestStatusCapsNotDetected(t *testing.T) {
	name := fmt.Sprintf("t%ds", os.Getpid()%100000)
	state := t.TempDir()
	fakeState(t, state, &topology.Lab{Name: name, File: "/x/lab.yaml"})
	var out bytes.Buffer
	if err := runStatus(context.Background(), []string{name, "--state", state}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "not yet detected") || strings.Contains(out.String(), "missing:") {
		t.Errorf("status of an interrupted up:\n%s", out.String())
	}
	if got := capsLine(nsutil.Caps{Bridge: true, Veth: true}); !strings.HasPrefix(got, "bridge veth; missing:") {
		t.Errorf("detected caps: %q", got)
	}
}

// A guest gateway the kernel would refuse (outside every subnet of its
// VNet) stops up before the first namespace exists: exit 2, file:line:
// field.
func TestUpBadGateway(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"zones.cfg", "vnets.cfg", "subnets.cfg", "controllers.cfg", "interfaces.node1", "interfaces.node2", "interfaces.node3"} {
		b, err := os.ReadFile(filepath.Join("../../examples/evpn", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lab := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(lab, []byte("sdn: .\nnodes:\n  node1: {interfaces: interfaces.node1}\n  node2: {interfaces: interfaces.node2}\n  node3: {interfaces: interfaces.node3}\n"+
		"guests:\n  vm1: {node: node1, vnet: myvnet1, ip: 10.0.1.11/24, gateway: 10.7.7.1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("t%dg", os.Getpid()%100000)
	state := t.TempDir()
	t.Cleanup(func() { _ = topology.Down(context.Background(), name, topology.Options{StateDir: state}) })
	err := runUp(context.Background(), []string{lab, "--name", name, "--state", state, "-q", "--agents=no"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "lab.yaml:7: guests.vm1.gateway: gateway 10.7.7.1 lies outside every subnet of vnet \"myvnet1\"") {
		t.Fatalf("up with a gateway outside the vnet: %v", err)
	}
	if got := run([]string{"up", lab, "--name", name, "--state", state, "-q", "--agents=no"}); got != exitBadInput {
		t.Errorf("exit %d, want %d", got, exitBadInput)
	}
	if left, _ := nsutil.List(topology.NSPrefix(name)); len(left) > 0 {
		t.Errorf("namespaces created before the lab file was refused: %v", left)
	}
}
