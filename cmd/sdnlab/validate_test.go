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
