package topology

import (
	"gopkg.in/yaml.v3"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/topology/impair"
)

// impairSpec is an `impair:` mapping of the lab file (on a segment, a
// node's link or a router's interface): loss, delay, jitter, rate.
type impairSpec struct {
	Spec impair.Spec
	Pos  config.Pos
	Set  bool
}

func (p *parser) impairment(n *yaml.Node, field string) impairSpec {
	out := impairSpec{Pos: p.pos(n), Set: true}
	p.mapping(n, field, []string{"loss", "delay", "jitter", "rate"}, func(key string, k, v *yaml.Node) {
		f := join(field, key)
		val := p.scalar(v, f)
		if !val.Set {
			return
		}
		if err := out.Spec.Set(key, val.V); err != nil {
			p.errf(v, f, "%v", err)
		}
	})
	if err := out.Spec.Check(); err != nil {
		p.errf(n, field, "%v", err)
	}
	return out
}
