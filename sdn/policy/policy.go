// Package policy adds the cluster's routing policy objects, the prefix
// lists of prefix-lists.cfg and the route maps of route-maps.cfg, to a
// node's FRR configuration, as proxmox-ve-config does: every node gets all
// of them (they are cluster-wide), each with the sequence numbers written
// in the file, so controllers and fabrics can reference them by name.
package policy

import (
	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/frr"
)

// Build adds cfg's prefix lists and route maps to out. A name already in
// out is replaced, as Proxmox's insert does (the reserved names keep the
// generated lists and maps out of reach).
func Build(cfg *config.Config, out *frr.Config) {
	for name, pl := range cfg.PrefixLists {
		rules := make([]frr.PrefixListRule, 0, len(pl.Entries))
		for _, e := range pl.Entries {
			rules = append(rules, frr.PrefixListRule{Seq: e.Seq, Action: e.Action, Network: e.Prefix, LE: e.LE, GE: e.GE})
		}
		if out.PrefixLists == nil {
			out.PrefixLists = map[string][]frr.PrefixListRule{}
		}
		out.PrefixLists[name] = rules
	}
	for name, entries := range cfg.RouteMaps {
		rm := make([]frr.RouteMapEntry, 0, len(entries))
		for _, e := range entries {
			fe := frr.RouteMapEntry{Seq: e.Order, Action: e.Action, Call: e.Call, ExitAction: e.ExitAction}
			for _, m := range e.Match {
				fe.Matches = append(fe.Matches, frr.KV{Key: m.Key, Value: m.Value})
			}
			for _, s := range e.Set {
				fe.Sets = append(fe.Sets, frr.KV{Key: s.Key, Value: s.Value})
			}
			rm = append(rm, fe)
		}
		if out.RouteMaps == nil {
			out.RouteMaps = map[string][]frr.RouteMapEntry{}
		}
		out.RouteMaps[name] = rm
	}
}
