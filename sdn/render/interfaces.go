package render

import (
	"strconv"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/plan"
)

// Interfaces renders /etc/network/interfaces.d/sdn for a node: the
// "#version:N" line, then each stanza as "auto NAME", "iface NAME[ FAMILY
// METHOD]" and its option lines, tab-indented, each stanza preceded by an
// empty line. Order and spelling come from the plan (see plan.Iface.Lines).
func Interfaces(plan *plan.NodePlan) string {
	var b strings.Builder
	version := plan.Version
	if version <= 0 {
		version = 1
	}
	b.WriteString("#version:" + strconv.Itoa(version) + "\n")
	for _, i := range plan.Ifaces {
		b.WriteString("\n")
		if !i.NoAuto {
			b.WriteString("auto " + i.Name + "\n")
		}
		b.WriteString("iface " + i.Name)
		if i.Family != "" {
			b.WriteString(" " + i.Family)
			if i.Method != "" {
				b.WriteString(" " + i.Method)
			}
		}
		b.WriteString("\n")
		for _, l := range i.Lines {
			b.WriteString("\t" + l.String() + "\n")
		}
	}
	return b.String()
}
