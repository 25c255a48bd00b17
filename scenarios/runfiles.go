package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sdnlab/sdnlab/reports"
	"github.com/sdnlab/sdnlab/sdn/render"
	"github.com/sdnlab/sdnlab/topology"
)

// WriteRunFiles puts the evidence of a run beside its report in dir: the
// lab file and the SDN configuration it used (lab-<name>/), and what each
// node was configured with, as Proxmox would write it
// (lab-<name>/configs/<node>/sdn and frr.conf, and the host interfaces
// file). The returned files are for reports.Run.Files.
func WriteRunFiles(dir string, o *Outcome) ([]reports.File, error) {
	if o == nil || o.Lab == nil {
		return nil, nil
	}
	lab := o.Lab
	base := filepath.Join(dir, "lab-"+lab.Name)
	var files []reports.File
	put := func(name, rel string, data []byte) error {
		path := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("run files: %w", err)
		}
		files = append(files, reports.File{Name: name, Path: path})
		return nil
	}
	if lab.File != "" {
		if b, err := os.ReadFile(lab.File); err == nil {
			if err := put("lab file ("+lab.Name+")", filepath.Base(lab.File), b); err != nil {
				return files, err
			}
		}
	}
	if lab.SDNDir != "" {
		entries, _ := os.ReadDir(lab.SDNDir)
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".cfg") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(lab.SDNDir, e.Name()))
			if err != nil {
				continue
			}
			if err := put("SDN "+e.Name(), filepath.Join("sdn", e.Name()), b); err != nil {
				return files, err
			}
		}
	}
	var nodes []string
	for name := range lab.Plans {
		nodes = append(nodes, name)
	}
	slices.Sort(nodes)
	for _, name := range nodes {
		p := lab.Plans[name]
		if p == nil {
			continue
		}
		if err := put(name+": /etc/network/interfaces.d/sdn", filepath.Join("configs", name, "sdn"), []byte(render.Interfaces(p))); err != nil {
			return files, err
		}
		if p.FRR != nil {
			// The release line: what an FRR node runs, else Proxmox's.
			version := render.DefaultFRRVersion
			if n := lab.Node(name); n != nil && n.EngineOf() == topology.EngineFRR {
				version = topology.HostFRRVersion
				if n.FRRRelease == "10" {
					version = topology.FRR10Version
				}
			}
			if err := put(name+": /etc/frr/frr.conf", filepath.Join("configs", name, "frr.conf"), []byte(render.FRR(p, version))); err != nil {
				return files, err
			}
		}
		if n := lab.Node(name); n != nil {
			text := []byte(n.InterfacesText)
			if len(text) == 0 && n.Interfaces != "" {
				text, _ = os.ReadFile(n.Interfaces)
			}
			if len(text) > 0 {
				if err := put(name+": /etc/network/interfaces", filepath.Join("configs", name, "interfaces"), text); err != nil {
					return files, err
				}
			}
		}
	}
	return files, nil
}
