package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderExamples(t *testing.T) {
	for _, tc := range []struct {
		example, node, ifaces string
		wantFRR               bool
		want                  []string
	}{
		{"simple", "node1", "interfaces", false, []string{"auto vnet1", "-o vmbr0 -j SNAT --to-source 192.168.0.1"}},
		{"vxlan", "node2", "interfaces.node2", false, []string{"vxlan_remoteip 192.168.0.1", "vxlan_remoteip 192.168.0.3"}},
		{"evpn", "node1", "interfaces.node1", true, []string{"vxlan-local-tunnelip 192.168.0.1", "post-up ip route del vrf vrf_myevpn"}},
		{"evpn", "node3", "interfaces.node3", true, []string{"vxlan-local-tunnelip 192.168.0.3", "post-up ip route add vrf vrf_myevpn"}},
	} {
		t.Run(tc.example+"/"+tc.node, func(t *testing.T) {
			ex := filepath.Join("..", "..", "examples", tc.example)
			out := t.TempDir()
			err := runRender(context.Background(), []string{
				"--config", ex, "--node", tc.node,
				"--host-interfaces", filepath.Join(ex, tc.ifaces), "--out", out,
			}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(out, "sdn"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("sdn lacks %q:\n%s", w, b)
				}
			}
			_, err = os.Stat(filepath.Join(out, "frr.conf"))
			if gotFRR := err == nil; gotFRR != tc.wantFRR {
				t.Errorf("frr.conf written = %v, want %v", gotFRR, tc.wantFRR)
			}
		})
	}
}

func TestRenderBadInput(t *testing.T) {
	good := filepath.Join("..", "..", "examples", "simple")
	ifaces := filepath.Join(good, "interfaces")
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "zones.cfg"), []byte("simple: z1\n\tmtu lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyIfaces := filepath.Join(t.TempDir(), "interfaces")
	if err := os.WriteFile(emptyIfaces, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	evpn := filepath.Join("..", "..", "examples", "evpn")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		// The controller needs a local address towards its peers: the
		// interfaces file is to blame, not controllers.cfg.
		{"interfaces without the peers' network", []string{"--config", evpn, "--node", "node1", "--host-interfaces", emptyIfaces, "--out", t.TempDir()},
			emptyIfaces + ": --host-interfaces: no address towards the controller's peers"},
		{"interfaces is a device", []string{"--config", good, "--node", "n1", "--host-interfaces", "/dev/zero", "--out", t.TempDir()}, "/dev/zero: cannot read: not a regular file"},
		{"frr.conf.local is a device", []string{"--config", good, "--node", "n1", "--host-interfaces", ifaces, "--frr-local", "/dev/zero", "--out", t.TempDir()}, "/dev/zero: --frr-local: not a regular file"},
		{"bad config", []string{"--config", bad, "--node", "n1", "--host-interfaces", ifaces, "--out", t.TempDir()}, "zones.cfg:2: mtu"},
		{"bad node", []string{"--config", good, "--node", "no_de", "--host-interfaces", ifaces, "--out", t.TempDir()}, "--node"},
		{"missing interfaces", []string{"--config", good, "--node", "n1", "--host-interfaces", "/nonexistent/interfaces", "--out", t.TempDir()}, "/nonexistent/interfaces"},
		{"missing frr.conf.local", []string{"--config", good, "--node", "n1", "--host-interfaces", ifaces, "--frr-local", "/nonexistent/frr", "--out", t.TempDir()}, "--frr-local"},
		{"missing --out", []string{"--config", good, "--node", "n1", "--host-interfaces", ifaces}, "--out"},
		{"bad --frr-version", []string{"--config", good, "--node", "n1", "--host-interfaces", ifaces, "--frr-version", "ten", "--out", t.TempDir()}, "--frr-version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runRender(context.Background(), tc.args, io.Discard)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if code := exitCode(renderCommand(), err); code != exitBadInput {
				t.Errorf("exit code %d, want %d", code, exitBadInput)
			}
		})
	}
}

// TestRenderFRRVersion: frr.conf's first line is the current Proxmox
// release by default and the --frr-version value when given.
func TestRenderFRRVersion(t *testing.T) {
	ex := filepath.Join("..", "..", "examples", "evpn")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "frr version 10.4.1\n"},
		{[]string{"--frr-version", "8.4.4"}, "frr version 8.4.4\n"},
	} {
		out := t.TempDir()
		args := append([]string{"--config", ex, "--node", "node1",
			"--host-interfaces", filepath.Join(ex, "interfaces.node1"), "--out", out}, tc.args...)
		if err := runRender(context.Background(), args, io.Discard); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "frr.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), tc.want) {
			t.Errorf("%v: frr.conf starts %q, want %q", tc.args, strings.SplitN(string(b), "\n", 2)[0], tc.want)
		}
	}
}

// TestProxmox9Configs: validate accepts each Proxmox 9 golden
// configuration (bgp fabrics, prefix lists, route maps, Proxmox's own
// syntax) and render writes its frr.conf.
func TestProxmox9Configs(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "..", "sdn", "render", "testdata", "pve9-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no pve9 golden cases: %v", err)
	}
	for _, d := range dirs {
		t.Run(filepath.Base(d), func(t *testing.T) {
			var out strings.Builder
			if err := runValidate(context.Background(), []string{"--config", filepath.Join(d, "cfg")}, &out); err != nil {
				t.Fatalf("validate: %v", err)
			}
			o := t.TempDir()
			node := "node1"
			if b, err := os.ReadFile(filepath.Join(d, "node")); err == nil {
				node = strings.TrimSpace(string(b))
			}
			if err := runRender(context.Background(), []string{"--config", filepath.Join(d, "cfg"), "--node", node,
				"--host-interfaces", filepath.Join(d, "interfaces"), "--out", o}, io.Discard); err != nil {
				t.Fatalf("render: %v", err)
			}
			wantFiles, _ := filepath.Glob(filepath.Join(d, "expected", "wireguard", "*.conf"))
			if f := filepath.Join(d, "expected", "frr.conf"); fileExists(f) {
				wantFiles = append(wantFiles, f)
			}
			if len(wantFiles) == 0 {
				t.Fatal("golden case has neither frr.conf nor wireguard configs")
			}
			for _, w := range wantFiles {
				rel, _ := filepath.Rel(filepath.Join(d, "expected"), w)
				want, err := os.ReadFile(w)
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(o, rel))
				if err != nil || string(got) != string(want) {
					t.Errorf("render's %s differs from the golden one (%v)", rel, err)
				}
			}
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
