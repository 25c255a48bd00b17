package fabrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
)

// A WireGuard interface without its private key is an error naming the
// interface, as in Proxmox ("could not find private key").
func TestWireGuardMissingKey(t *testing.T) {
	dir := t.TempDir()
	fab := "wireguard_fabric: wg\n\nwireguard_node: wg_pve1\n\trole internal\n\tinterfaces name=wg0,listen_port=1,public_key=8eGVML3r4VizV/p91qjo9vlUYXr6wuzm/wt80726rtQ=\n"
	if err := os.WriteFile(filepath.Join(dir, "fabrics.cfg"), []byte(fab), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir, config.Types{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = WireGuardConfigs(cfg, "pve1")
	if err == nil || !strings.Contains(err.Error(), "no private key for interface wg0 of node pve1") {
		t.Errorf("got %v", err)
	}
	if got, err := WireGuardConfigs(cfg, "other"); err != nil || len(got) != 0 {
		t.Errorf("a node outside the fabric: %v %v", got, err)
	}
}
