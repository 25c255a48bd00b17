package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// TopologyDot writes the topology as a Graphviz graph: segments are
// ellipses, routers and nodes boxes, guests grouped in a cluster per node.
func TopologyDot(w io.Writer, t *Topology) error {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "graph %s {\n  rankdir=TB;\n  node [fontname=\"sans-serif\", fontsize=10];\n", q("lab "+t.Lab))
	for _, s := range t.Segments {
		fmt.Fprintf(&b, "  %s [shape=ellipse, label=%s];\n", q("seg:"+s.Name), q(segLabel(s)))
	}
	for _, r := range t.Routers {
		fmt.Fprintf(&b, "  %s [shape=box, style=rounded, label=%s];\n", q("router:"+r.Name), q(r.Name+"\\n"+r.kind()+" "+r.Routing))
		for _, ln := range r.Links {
			fmt.Fprintf(&b, "  %s -- %s [label=%s%s];\n", q("router:"+r.Name), q("seg:"+ln.Segment), q(strings.Join(ln.Addrs, " ")), linkStyle(ln))
		}
	}
	for _, h := range t.Hosts {
		fmt.Fprintf(&b, "  %s [shape=box, label=%s];\n", q("host:"+h.Name), q(h.Name+"\\nexternal"))
		fmt.Fprintf(&b, "  %s -- %s [label=%s];\n", q("host:"+h.Name), q("seg:"+h.Link.Segment), q(strings.Join(h.Link.Addrs, " ")))
	}
	for _, n := range t.Nodes {
		label := nodeLabel(n, "\\n")
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n    %s [shape=box, penwidth=2, label=%s];\n", q("cluster_"+n.Name), q(n.Name), q("node:"+n.Name), q(label))
		for _, g := range t.Guests {
			if g.Node == n.Name {
				fmt.Fprintf(&b, "    %s [shape=component, label=%s];\n    %s -- %s [label=%s];\n", q("guest:"+g.Name),
					q(g.Name+"\\n"+strings.Join(g.Addrs, " ")), q("node:"+n.Name), q("guest:"+g.Name), q(g.VNet+" ("+g.Zone+")"))
			}
		}
		b.WriteString("  }\n")
		for _, ln := range n.Links {
			fmt.Fprintf(&b, "  %s -- %s [label=%s%s];\n", q("node:"+n.Name), q("seg:"+ln.Segment), q(strings.Join(ln.Addrs, " ")), linkStyle(ln))
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// nodeLabel is a node's name and engine, VTEP and exit role, the lines
// joined by sep (Graphviz takes \n, Mermaid one line).
func nodeLabel(n TopoNode, sep string) string {
	label := n.Name
	if n.Engine != "" {
		label += " (" + n.Engine + ")"
	}
	if n.VTEP != "" {
		label += sep + "VTEP " + n.VTEP
	}
	if len(n.Exit) > 0 {
		label += sep + exitText(n)
	}
	return label
}

// kind is what a router is to the lab: the nodes' upstream or a router.
func (r TopoRouter) kind() string {
	if r.Upstream {
		return "upstream"
	}
	return "router"
}

func linkStyle(ln TopoLink) string {
	if ln.Note == "down" {
		return ", style=dashed, color=red"
	}
	return ""
}

// mermaidID makes a name safe as a Mermaid node id.
func mermaidID(prefix, name string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "_%x", r)
		}
	}
	return b.String()
}

// mermaidText quotes a label: Mermaid takes "..." with #quot; for quotes.
func mermaidText(s string) string {
	return `"` + strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ").Replace(s) + `"`
}

// TopologyMermaid writes the topology as a Mermaid flowchart (GitHub and
// GitLab render it inside Markdown).
func TopologyMermaid(w io.Writer, t *Topology) error {
	var b strings.Builder
	b.WriteString("flowchart TB\n")
	for _, s := range t.Segments {
		fmt.Fprintf(&b, "  %s([%s])\n", mermaidID("seg_", s.Name), mermaidText(segLabel(s)))
	}
	for _, r := range t.Routers {
		fmt.Fprintf(&b, "  %s{{%s}}\n", mermaidID("rt_", r.Name), mermaidText(r.Name+" "+r.kind()+" "+r.Routing))
		for _, ln := range r.Links {
			fmt.Fprintf(&b, "  %s %s %s\n", mermaidID("rt_", r.Name), mermaidEdge(ln), mermaidID("seg_", ln.Segment))
		}
	}
	for _, h := range t.Hosts {
		fmt.Fprintf(&b, "  %s[%s]\n  %s %s %s\n", mermaidID("host_", h.Name), mermaidText(h.Name+" external "+strings.Join(h.Link.Addrs, " ")),
			mermaidID("seg_", h.Link.Segment), mermaidEdge(h.Link), mermaidID("host_", h.Name))
	}
	for _, n := range t.Nodes {
		label := nodeLabel(n, " ")
		fmt.Fprintf(&b, "  subgraph %s[%s]\n    %s[%s]\n", mermaidID("sg_", n.Name), mermaidText(n.Name), mermaidID("node_", n.Name), mermaidText(label))
		for _, g := range t.Guests {
			if g.Node == n.Name {
				fmt.Fprintf(&b, "    %s[%s]\n", mermaidID("vm_", g.Name), mermaidText(g.Name+" "+g.VNet+"/"+g.Zone+" "+strings.Join(g.Addrs, " ")))
			}
		}
		b.WriteString("  end\n")
		for _, ln := range n.Links {
			fmt.Fprintf(&b, "  %s %s %s\n", mermaidID("seg_", ln.Segment), mermaidEdge(ln), mermaidID("node_", n.Name))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mermaidEdge(ln TopoLink) string {
	label := strings.Join(ln.Addrs, " ")
	if ln.Note != "" {
		label = strings.TrimSpace(label + " " + ln.Note)
	}
	arrow := "---"
	if ln.Note == "down" {
		arrow = "-.-"
	}
	if label == "" {
		return arrow
	}
	return arrow + "|" + mermaidText(label) + "|"
}
