package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

func TestCheckNodes(t *testing.T) {
	dir := writeDir(t, validFiles())
	c, err := config.Load(dir, registry.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckNodes([]string{"alpha", "beta", "gamma"}); err != nil {
		t.Errorf("all nodes known: %v", err)
	}
	err = c.CheckNodes([]string{"alpha", "gamma"})
	if err == nil {
		t.Fatal("beta unknown: accepted")
	}
	z := filepath.Join(dir, "zones.cfg")
	for _, want := range []string{
		z + `:23: exitnodes: node "beta" is not a cluster node`,
		z + `:24: exitnodes-primary: node "beta"`,
		z + `:28: nodes: node "beta"`,
		filepath.Join(dir, "fabrics.cfg") + `:14: id: node "beta" of fabric area0`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in\n%v", want, err)
		}
	}
	err = c.CheckNodes([]string{"beta", "gamma"})
	ctl := filepath.Join(dir, "controllers.cfg")
	for _, want := range []string{ctl + `:6: node: node "alpha"`, ctl + `:13: node: node "alpha"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in\n%v", want, err)
		}
	}
}

func TestCheckHost(t *testing.T) {
	dir := writeDir(t, validFiles())
	c, err := config.Load(dir, registry.Config())
	if err != nil {
		t.Fatal(err)
	}
	good, err := config.ParseInterfacesReader("hosti", strings.NewReader(lines(
		"auto vmbr0", "iface vmbr0 inet manual", "\tovs_type OVSBridge", "\tovs_ports eth0")))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckHost(good); err != nil {
		t.Errorf("OVS bridge vmbr0 present: %v", err)
	}
	noBridge, _ := config.ParseInterfacesReader("hosti", strings.NewReader(lines("auto vmbr1", "iface vmbr1 inet manual", "\tbridge-ports eth0")))
	err = c.CheckHost(noBridge)
	z := filepath.Join(dir, "zones.cfg")
	for _, want := range []string{z + ":8: bridge: bridge vmbr0 of vlan zone office is not defined in hosti", z + ":12: bridge: bridge vmbr0 of qinq zone carrier"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in\n%v", want, err)
		}
	}
	notBridge, _ := config.ParseInterfacesReader("hosti", strings.NewReader(lines("iface vmbr0 inet manual", "", "iface blue inet manual")))
	err = c.CheckHost(notBridge)
	for _, want := range []string{z + ":8: bridge: vmbr0 in hosti is not a bridge", filepath.Join(dir, "vnets.cfg") + ":24: vnet: vnet blue has the name of host interface blue (hosti:3)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in\n%v", want, err)
		}
	}
}
