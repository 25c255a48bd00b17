package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCfg(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidateOK(t *testing.T) {
	dir := writeCfg(t, map[string]string{
		"zones.cfg":   "vlan: office\n\tbridge vmbr0\n\tipam pve\n",
		"vnets.cfg":   "vnet: desk\n\tzone office\n\ttag 12\n",
		"subnets.cfg": "subnet: office-10.7.0.0-24\n\tvnet desk\n\tgateway 10.7.0.1\n",
		"ipams.cfg":   "netbox: nb\n\turl https://nb.example\n\ttoken TOPSECRET\n",
		"interfaces":  "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eth0\n",
	})
	var out strings.Builder
	err := runValidate(context.Background(), []string{"--config", dir, "--host-interfaces", filepath.Join(dir, "interfaces"), "--nodes", "n1,n2"}, &out)
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	s := out.String()
	for _, want := range []string{"ok: 1 zone, 1 vnet, 1 subnet, 0 controllers, 0 fabrics\n", "zones.cfg:3: ipam: IPAM is not simulated", "ipams.cfg:1: netbox nb:"} {
		if !strings.Contains(s, want) {
			t.Errorf("want %q in output:\n%s", want, s)
		}
	}
	if strings.Contains(s, "TOPSECRET") {
		t.Errorf("output leaks a secret:\n%s", s)
	}
}

func TestValidateBad(t *testing.T) {
	dir := writeCfg(t, map[string]string{
		"zones.cfg":   "vlan: office\n\tbridge vmbr5\n\tnodes n1,n9\n",
		"vnets.cfg":   "vnet: desk\n\tzone office\n\ttag 5000\n",
		"subnets.cfg": "subnet: office-10.7.0.0-24\n\tvnet desk\n\tgateway 10.8.0.1\n",
		"interfaces":  "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eth0\n",
	})
	var out strings.Builder
	err := runValidate(context.Background(), []string{"--config", dir, "--host-interfaces", filepath.Join(dir, "interfaces"), "--nodes", "n1,n2"}, &out)
	if err == nil {
		t.Fatalf("bad config accepted:\n%s", out.String())
	}
	want := []string{
		filepath.Join(dir, "subnets.cfg") + ":3: gateway: 10.8.0.1 is not in subnet 10.7.0.0/24",
		filepath.Join(dir, "vnets.cfg") + ":3: tag: VLAN tag 5000 is out of range 1-4094 (zone office is vlan)",
		filepath.Join(dir, "zones.cfg") + ":2: bridge: bridge vmbr5 of vlan zone office is not defined in " + filepath.Join(dir, "interfaces"),
		filepath.Join(dir, "zones.cfg") + ":3: nodes: node \"n9\" is not a cluster node (nodes: n1,n2)",
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if code := exitCode(validateCommand(), err); code != exitBadInput {
		t.Errorf("exit code %d, want %d", code, exitBadInput)
	}
	if out.Len() != 0 {
		t.Errorf("nothing on stdout for a bad config, got %q", out.String())
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--config"},
		{"--config", filepath.Join(t.TempDir(), "missing")},
		{"--config", t.TempDir(), "extra"},
		{"--config", t.TempDir(), "--nodes", "a,,b"},
		{"--config", t.TempDir(), "--host-interfaces", filepath.Join(t.TempDir(), "nope")},
	} {
		err := runValidate(context.Background(), args, &strings.Builder{})
		if code := exitCode(validateCommand(), err); code != exitBadInput {
			t.Errorf("%q: exit code %d (%v), want %d", args, code, err, exitBadInput)
		}
	}
}

// A directory without any .cfg file is a wrong path, not an empty cluster.
func TestValidateNoConfigFiles(t *testing.T) {
	dir := writeCfg(t, map[string]string{"README": "not a config\n"})
	var out strings.Builder
	err := runValidate(context.Background(), []string{"--config", dir}, &out)
	if err == nil || !strings.HasPrefix(err.Error(), dir+": no SDN configuration files (zones.cfg, vnets.cfg,") {
		t.Fatalf("got %v (stdout %q), want a no-configuration-files error naming %s", err, out.String(), dir)
	}
	if code := exitCode(validateCommand(), err); code != exitBadInput {
		t.Errorf("exit code %d, want %d", code, exitBadInput)
	}
	// One file is enough (an empty zones.cfg is a valid, empty cluster).
	dir = writeCfg(t, map[string]string{"zones.cfg": ""})
	if err := runValidate(context.Background(), []string{"--config", dir}, &out); err != nil {
		t.Errorf("empty zones.cfg: %v", err)
	}
}

func TestValidateDuplicateNode(t *testing.T) {
	dir := writeCfg(t, map[string]string{"zones.cfg": ""})
	err := runValidate(context.Background(), []string{"--config", dir, "--nodes", "node1,node2,node1"}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), `names node "node1" twice`) {
		t.Fatalf("got %v, want the duplicate node named", err)
	}
	if code := exitCode(validateCommand(), err); code != exitBadInput {
		t.Errorf("exit code %d, want %d", code, exitBadInput)
	}
}

// Binary garbage in a host interfaces file is quoted, never echoed raw,
// and a symlink to /dev/zero is refused instead of read forever.
func TestValidateHostileFiles(t *testing.T) {
	dir := writeCfg(t, map[string]string{
		"zones.cfg":  "",
		"interfaces": "auto lo\niface lo inet loopback\n\x1b[31m\xff\xfe\n",
	})
	err := runValidate(context.Background(), []string{"--config", dir, "--host-interfaces", filepath.Join(dir, "interfaces")}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), `interfaces:3: binary or control characters in line: "\x1b[31m\xff\xfe"`) {
		t.Fatalf("got %v", err)
	}
	if s := err.Error(); strings.IndexByte(s, 0x1b) >= 0 || strings.IndexByte(s, 0xff) >= 0 {
		t.Errorf("raw bytes echoed: %q", err)
	}
	zdir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(zdir, "zones.cfg")); err != nil {
		t.Fatal(err)
	}
	err = runValidate(context.Background(), []string{"--config", zdir}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(zdir, "zones.cfg")+": cannot read: not a regular file") {
		t.Fatalf("got %v", err)
	}
	if code := exitCode(validateCommand(), err); code != exitBadInput {
		t.Errorf("exit code %d, want %d", code, exitBadInput)
	}
}
