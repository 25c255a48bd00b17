// Package examples embeds the example labs shipped with sdnlab, so that
// `sdnlab demo` runs from the binary alone.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FS holds the example lab directories (lab.yaml, *.cfg, interfaces.*).
//
//go:embed demo evpn evpn-ipv6 evpn-rr evpn-racks evpn-wireguard vxlan vlan qinq dhcp
var FS embed.FS

// WriteDir copies the example lab called name (a directory of FS) into dir,
// which is created.
func WriteDir(name, dir string) error {
	sub, err := fs.Sub(FS, name)
	if err != nil {
		return fmt.Errorf("example %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
