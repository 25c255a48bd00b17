package sdn

import (
	"fmt"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/controllers"
	"github.com/sdnlab/sdnlab/sdn/fabrics"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/policy"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// compileFRR fills p.FRR the way Proxmox builds frr.conf: the
// controllers (their own part, then per zone, then per VNet), then the
// merge of frr.conf.local (which also numbers the generated route-maps),
// then the cluster's prefix lists and route maps (with their own sequence
// numbers), then the fabrics. Proxmox writes frr.conf whenever the
// configuration has a controller, a fabric, a prefix list or a route map,
// or the node has an frr.conf.local; otherwise p.FRR stays nil.
func compileFRR(cfg *config.Config, facts plan.NodeFacts, p *plan.NodePlan) error {
	if len(cfg.Controllers) == 0 && len(cfg.Fabrics) == 0 && len(cfg.PrefixLists) == 0 && len(cfg.RouteMaps) == 0 && facts.FRRLocal == "" {
		return nil
	}
	out, notes, err := controllers.NewRegistry(registry.Controllers()...).Generate(cfg, controllers.Input{
		Node:        facts.Node,
		Host:        facts,
		UnderlayMAC: facts.UnderlayMAC,
	})
	p.Notes = append(p.Notes, notes...)
	if err != nil {
		return fmt.Errorf("frr: %w", err)
	}
	for _, d := range out.MergeLocal(facts.FRRLocal) {
		// Proxmox drops these silently; the lab says so.
		p.Notes = append(p.Notes, "frr.conf.local "+d+": outside any block, dropped (as Proxmox does)")
	}
	policy.Build(cfg, out)
	if err := fabrics.Default().Build(cfg, facts.Node, out); err != nil {
		return fmt.Errorf("frr: %w", err)
	}
	p.FRR = out
	return nil
}
