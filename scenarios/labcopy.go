package scenarios

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/sdnlab/sdnlab/sdn/config"
)

// CopyLabFile writes a copy of the lab file src to dst with the lab name
// set to name and the relative paths it holds (sdn:, a node's interfaces:)
// made absolute, so the copy works from anywhere under a name that cannot
// collide with the user's labs.
func CopyLabFile(src, dst, name string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	data, err := config.ReadInput(abs)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a lab file (a mapping)", src)
	}
	root := doc.Content[0]
	base := filepath.Dir(abs)
	var fix func(n *yaml.Node)
	fix = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if (k.Value == "sdn" || k.Value == "interfaces") && v.Kind == yaml.ScalarNode && !filepath.IsAbs(v.Value) {
					v.Value = filepath.Join(base, v.Value)
				}
				fix(v)
			}
			return
		}
		for _, c := range n.Content {
			fix(c)
		}
	}
	fix(root)
	set := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "name" {
			root.Content[i+1].Value = name
			set = true
		}
	}
	if !set {
		root.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "name"}, {Kind: yaml.ScalarNode, Value: name},
		}, root.Content...)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}
