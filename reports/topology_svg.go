package reports

import (
	"fmt"
	"slices"
	"strings"
)

// Topology layout: segments are drawn as horizontal buses, ordered by
// their distance from the internet (the external segment at the top, then
// the segment of the upstream router, then the segments behind each
// router). Routers sit between the bus above and the buses below them;
// nodes hang below their bus with their guests inside, grouped by VNet and
// coloured by zone; external hosts stand on top of the external bus.

const (
	tpMargin   = 16.0
	tpGap      = 24.0 // between columns
	tpNodeMinW = 200.0
	tpHostW    = 150.0
	tpHostH    = 44.0
	tpRouterW  = 150.0
	tpRouterH  = 44.0
	tpBusLabel = 18.0
	tpDrop     = 26.0 // bus to node box
)

// zonePalette colours zones in the order they are listed.
var zonePalette = []struct{ fill, stroke string }{
	{"#ddf4ff", "#0969da"},
	{"#fbefff", "#8250df"},
	{"#dafbe1", "#1a7f37"},
	{"#fff8c5", "#9a6700"},
	{"#ffebe9", "#cf222e"},
	{"#fff1e5", "#bc4c00"},
}

type tpLayout struct {
	t        *Topology
	depth    map[string]int
	children map[string][]string // segment -> routers below it
	below    map[string][]string // router -> segments below it
	nodesOn  map[string][]int    // segment -> node indexes (first link)
	hostsOn  map[string][]int
	width    map[string]float64
	nodeW    []float64
	nodeH    []float64
	zoneIdx  map[string]int
	x        map[string][2]float64 // segment bus extent
	busY     map[string]float64
	routerXY map[string][2]float64
	nodeXY   [][2]float64
	hostXY   [][2]float64
	bandH    map[int]float64
	busTop   float64
	totalW   float64
}

// TopologySVG draws the lab as a self-contained SVG element.
func TopologySVG(t *Topology) string {
	l := &tpLayout{t: t, depth: map[string]int{}, children: map[string][]string{}, below: map[string][]string{},
		nodesOn: map[string][]int{}, hostsOn: map[string][]int{}, width: map[string]float64{}, zoneIdx: map[string]int{},
		x: map[string][2]float64{}, busY: map[string]float64{}, routerXY: map[string][2]float64{}, bandH: map[int]float64{}}
	for i, z := range t.Zones {
		l.zoneIdx[z.Name] = i
	}
	roots := l.tree()
	l.sizes()
	// Hosts stand above the top buses.
	l.busTop = tpMargin + 26
	if len(t.Hosts) > 0 {
		l.busTop += tpHostH + 30
	}
	x := tpMargin
	for _, r := range roots {
		l.place(r, x)
		x += l.width[r] + tpGap*2
	}
	totalW := max(x-tpGap*2+tpMargin, 420)
	l.totalW = totalW
	bottom := l.busTop
	for _, seg := range t.Segments {
		d := l.depth[seg.Name]
		bottom = max(bottom, l.busY[seg.Name]+l.bandH[d])
	}
	var s svg
	legendH := 40.0 + 16*float64(len(t.Notes))
	s.open(totalW, bottom+legendH, "topology", "topology of lab "+t.Lab)
	s.rect(0, 0, totalW, bottom+legendH, `fill="#ffffff"`)
	s.text(tpMargin, tpMargin+8, `font-weight="bold" font-size="14" fill="#24292f"`, "lab "+t.Lab)
	l.draw(&s)
	l.legend(&s, bottom+8)
	s.close()
	return s.String()
}

// tree orders segments by distance from the internet and returns the roots.
func (l *tpLayout) tree() []string {
	t := l.t
	var queue []string
	for _, s := range t.Segments {
		if s.External {
			l.depth[s.Name] = 0
			queue = append(queue, s.Name)
		}
	}
	if len(queue) == 0 {
		for _, r := range t.Routers {
			if r.Upstream && len(r.Links) > 0 {
				l.depth[r.Links[0].Segment] = 0
				queue = append(queue, r.Links[0].Segment)
			}
		}
	}
	var roots []string
	placedRouter := map[string]bool{}
	for {
		roots = append(roots, queue...)
		for len(queue) > 0 {
			seg := queue[0]
			queue = queue[1:]
			for _, r := range t.Routers {
				if placedRouter[r.Name] || !routerOn(r, seg) {
					continue
				}
				placedRouter[r.Name] = true
				l.children[seg] = append(l.children[seg], r.Name)
				for _, ln := range r.Links {
					if _, seen := l.depth[ln.Segment]; seen {
						continue
					}
					l.depth[ln.Segment] = l.depth[seg] + 1
					l.below[r.Name] = append(l.below[r.Name], ln.Segment)
					queue = append(queue, ln.Segment)
				}
			}
		}
		// A segment no router reaches is a root of its own.
		next := ""
		for _, s := range t.Segments {
			if _, ok := l.depth[s.Name]; !ok {
				next = s.Name
				break
			}
		}
		if next == "" {
			break
		}
		l.depth[next] = 0
		queue = []string{next}
	}
	for i, n := range t.Nodes {
		if len(n.Links) > 0 {
			l.nodesOn[n.Links[0].Segment] = append(l.nodesOn[n.Links[0].Segment], i)
		}
	}
	for i, h := range t.Hosts {
		l.hostsOn[h.Link.Segment] = append(l.hostsOn[h.Link.Segment], i)
	}
	return roots
}

func routerOn(r TopoRouter, seg string) bool {
	for _, ln := range r.Links {
		if ln.Segment == seg {
			return true
		}
	}
	return false
}

// vnetGroup is the guests of one VNet on one node.
type vnetGroup struct {
	vnet, zone string
	tag        int
	guests     []TopoGuest
}

func (l *tpLayout) groups(node string) []vnetGroup {
	var out []vnetGroup
	for _, g := range l.t.Guests {
		if g.Node != node {
			continue
		}
		i := slices.IndexFunc(out, func(v vnetGroup) bool { return v.vnet == g.VNet })
		if i < 0 {
			out = append(out, vnetGroup{vnet: g.VNet, zone: g.Zone, tag: g.Tag})
			i = len(out) - 1
		}
		out[i].guests = append(out[i].guests, g)
	}
	slices.SortStableFunc(out, func(a, b vnetGroup) int { return strings.Compare(a.zone+"/"+a.vnet, b.zone+"/"+b.vnet) })
	return out
}

func guestLine(g TopoGuest) string {
	addrs := g.Addrs
	if len(addrs) > 2 {
		addrs = addrs[:2]
	}
	return strings.TrimSpace(g.Name + "  " + strings.Join(addrs, " "))
}

func vnetTitle(v vnetGroup) string {
	t := v.vnet + " · " + v.zone
	if v.tag > 0 {
		t += fmt.Sprintf(" · %d", v.tag)
	}
	return t
}

// nodeHead is the height of a node box's header lines.
func (l *tpLayout) nodeHead(n TopoNode) float64 {
	h := 40.0
	if len(n.Exit) > 0 {
		h += 15
	}
	return h
}

func (l *tpLayout) sizes() {
	t := l.t
	for _, n := range t.Nodes {
		w, h := tpNodeMinW, l.nodeHead(n)
		w = max(w, textWidth(n.Name+"  "+n.Engine, 13)+30, textWidth(exitText(n), 11)+20, textWidth(nodeSub(n), 11)+20)
		for _, g := range l.groups(n.Name) {
			w = max(w, textWidth(vnetTitle(g), 11)+30)
			for _, gu := range g.guests {
				w = max(w, textWidth(guestLine(gu), 11)+34)
			}
			h += 20 + 15*float64(len(g.guests)) + 6
		}
		l.nodeW = append(l.nodeW, w)
		l.nodeH = append(l.nodeH, h+6)
	}
	// Band heights per depth: the tallest node hanging there, or room for
	// a router row when something lies below.
	for _, s := range t.Segments {
		d := l.depth[s.Name]
		band := 50.0
		for _, i := range l.nodesOn[s.Name] {
			band = max(band, tpDrop+l.nodeH[i]+30)
		}
		if len(l.children[s.Name]) > 0 {
			band = max(band, tpRouterH+90)
		}
		l.bandH[d] = max(l.bandH[d], band)
	}
	var width func(seg string) float64
	width = func(seg string) float64 {
		w := 0.0
		for _, i := range l.nodesOn[seg] {
			w += l.nodeW[i] + tpGap
		}
		for _, r := range l.children[seg] {
			w += l.routerWidth(r, width) + tpGap
		}
		w = max(w-tpGap, 0)
		hw := float64(len(l.hostsOn[seg]))*(tpHostW+tpGap) - tpGap
		w = max(w, hw, busLabelWidth(l.seg(seg))+70, 180)
		l.width[seg] = w
		return w
	}
	for _, s := range t.Segments {
		if _, ok := l.width[s.Name]; !ok && l.depth[s.Name] == 0 {
			width(s.Name)
		}
	}
}

func (l *tpLayout) routerWidth(r string, width func(string) float64) float64 {
	w := 0.0
	for _, c := range l.below[r] {
		w += width(c) + tpGap
	}
	return max(w-tpGap, tpRouterW)
}

func (l *tpLayout) seg(name string) TopoSegment {
	for _, s := range l.t.Segments {
		if s.Name == name {
			return s
		}
	}
	return TopoSegment{Name: name}
}

// busLabelWidth is the width of what is written above a bus.
func busLabelWidth(s TopoSegment) float64 {
	w := textWidth(segLabel(s), 11)
	if s.Impaired != "" {
		w += 10 + textWidth("⚡ "+s.Impaired, 10)
	}
	return w
}

func segLabel(s TopoSegment) string {
	parts := []string{s.Name}
	parts = append(parts, s.Subnets...)
	if s.MTU > 0 {
		parts = append(parts, fmt.Sprintf("MTU %d", s.MTU))
	}
	return strings.Join(parts, "  ")
}

func (l *tpLayout) yOf(depth int) float64 {
	y := l.busTop
	for d := 0; d < depth; d++ {
		y += l.bandH[d]
	}
	return y
}

// place lays out a segment's subtree from x.
func (l *tpLayout) place(seg string, x float64) {
	w := l.width[seg]
	l.x[seg] = [2]float64{x, x + w}
	y := l.yOf(l.depth[seg])
	l.busY[seg] = y
	// Content narrower than the bus is centred under it.
	content := 0.0
	for _, i := range l.nodesOn[seg] {
		content += l.nodeW[i] + tpGap
	}
	for _, r := range l.children[seg] {
		content += l.routerWidth(r, func(s string) float64 { return l.width[s] }) + tpGap
	}
	cx := x + max(0, (w-max(content-tpGap, 0))/2)
	if l.nodeXY == nil {
		l.nodeXY = make([][2]float64, len(l.t.Nodes))
		l.hostXY = make([][2]float64, len(l.t.Hosts))
	}
	for _, i := range l.nodesOn[seg] {
		l.nodeXY[i] = [2]float64{cx, y + tpDrop}
		cx += l.nodeW[i] + tpGap
	}
	for _, r := range l.children[seg] {
		rw := l.routerWidth(r, func(s string) float64 { return l.width[s] })
		ry := y + 30 // high in the band: room below for the links down
		l.routerXY[r] = [2]float64{cx + rw/2 - tpRouterW/2, ry}
		cc := cx
		for _, c := range l.below[r] {
			l.place(c, cc)
			cc += l.width[c] + tpGap
		}
		cx += rw + tpGap
	}
	hw := float64(len(l.hostsOn[seg]))*(tpHostW+tpGap) - tpGap
	hx := x + (w-hw)/2
	for _, i := range l.hostsOn[seg] {
		l.hostXY[i] = [2]float64{hx, y - 30 - tpHostH}
		hx += tpHostW + tpGap
	}
}

func (l *tpLayout) linkTo(s *svg, x, fromY, toY float64, ln TopoLink) {
	l.linkLabelAt(s, x, fromY, toY, (fromY+toY)/2+4, ln)
}

// linkLabelAt draws a link's line with its label at height labelY.
func (l *tpLayout) linkLabelAt(s *svg, x, fromY, toY, labelY float64, ln TopoLink) {
	attrs := `stroke="#57606a" stroke-width="2"`
	if ln.Note == "down" {
		attrs = `stroke="#cf222e" stroke-width="2" stroke-dasharray="5 4"`
	}
	s.line(x, fromY, x, toY, attrs)
	label := strings.Join(ln.Addrs, " ")
	if ln.Note != "" {
		label = strings.TrimSpace(label + " " + ln.Note)
	}
	if label != "" {
		color := "#57606a"
		if ln.Note == "down" {
			color = "#cf222e"
		}
		if x+5+textWidth(label, 10) > l.totalW-4 {
			s.text(x-5, labelY, fmt.Sprintf(`font-size="10" text-anchor="end" fill="%s"`, color), label)
		} else {
			s.text(x+5, labelY, fmt.Sprintf(`font-size="10" fill="%s"`, color), label)
		}
	}
}

func (l *tpLayout) impairText(thing, ifname string) string {
	var parts []string
	for _, im := range l.t.Impaired {
		if im.Thing == thing && (ifname == "" || im.Ifname == ifname) {
			parts = append(parts, im.Text)
		}
	}
	return strings.Join(parts, "; ")
}

func (l *tpLayout) draw(s *svg) {
	t := l.t
	// Buses.
	s.raw(`<g class="segments">` + "\n")
	for _, seg := range t.Segments {
		x, y := l.x[seg.Name], l.busY[seg.Name]
		color := "#57606a"
		if seg.External {
			color = "#0969da"
		}
		s.group("segment " + segLabel(seg))
		s.rect(x[0], y-3, x[1]-x[0], 6, fmt.Sprintf(`rx="3" fill="%s"`, color))
		s.text(x[0], y-8, `font-size="11" font-weight="bold" fill="#24292f"`, segLabel(seg))
		s.endGroup()
		if seg.Impaired != "" {
			s.text(x[0]+textWidth(segLabel(seg), 11)+10, y-8, `font-size="10" font-weight="bold" fill="#6639ba"`, "⚡ "+seg.Impaired)
		}
	}
	s.raw("</g>\n")
	// Routers: a line up to the bus above, lines down to the buses below,
	// and to any other segment they join.
	s.raw(`<g class="routers">` + "\n")
	for _, r := range t.Routers {
		xy, ok := l.routerXY[r.Name]
		if !ok {
			continue
		}
		cx := xy[0] + tpRouterW/2
		for _, ln := range r.Links {
			by := l.busY[ln.Segment]
			if by < xy[1] {
				l.linkTo(s, cx, by+3, xy[1], ln)
				continue
			}
			// Below: straight down when the bus lies under the router,
			// else an elbow to the middle of the bus.
			// Lines land right of the bus's label.
			segX := l.x[ln.Segment]
			lo, hi := segX[0]+busLabelWidth(l.seg(ln.Segment))+16, segX[1]-10
			if lo > hi {
				lo = hi
			}
			// Labels sit just below the router, clear of the bus's own.
			if cx >= lo && cx <= hi {
				l.linkLabelAt(s, cx, xy[1]+tpRouterH, by-3, xy[1]+tpRouterH+13, ln)
				continue
			}
			tx := min(max((segX[0]+segX[1])/2, lo), hi)
			mid := xy[1] + tpRouterH + 22
			s.raw(`<path d="M%s %sV%sH%s" stroke="#57606a" stroke-width="2" fill="none"/>`+"\n", num(cx), num(xy[1]+tpRouterH), num(mid), num(tx))
			l.linkLabelAt(s, tx, mid, by-3, mid+13, ln)
		}
		fill, stroke, kind := "#f6f8fa", "#57606a", r.kind()
		if r.Upstream {
			fill, stroke = "#ddf4ff", "#0969da"
		}
		s.group(fmt.Sprintf("%s %s (%s)", kind, r.Name, r.Routing))
		s.rect(xy[0], xy[1], tpRouterW, tpRouterH, fmt.Sprintf(`rx="22" fill="%s" stroke="%s" stroke-width="1.5"`, fill, stroke))
		s.text(cx, xy[1]+18, `text-anchor="middle" font-weight="bold" fill="#24292f"`, r.Name)
		sub := kind
		if r.Routing != "" {
			sub += " · " + r.Routing
		}
		s.text(cx, xy[1]+33, `text-anchor="middle" font-size="10" fill="#57606a"`, sub)
		s.endGroup()
		if im := l.impairText(r.Name, ""); im != "" {
			s.text(xy[0]+tpRouterW+4, xy[1]+12, `font-size="10" fill="#6639ba"`, "⚡ "+im)
		}
	}
	s.raw("</g>\n")
	// External hosts.
	for i, h := range t.Hosts {
		xy := l.hostXY[i]
		cx := xy[0] + tpHostW/2
		l.linkTo(s, cx, xy[1]+tpHostH, l.busY[h.Link.Segment]-3, TopoLink{Note: h.Link.Note})
		s.group("external host " + h.Name)
		s.rect(xy[0], xy[1], tpHostW, tpHostH, `rx="6" fill="#ffffff" stroke="#0969da" stroke-width="1.5"`)
		s.text(cx, xy[1]+18, `text-anchor="middle" font-weight="bold" fill="#24292f"`, h.Name)
		s.text(cx, xy[1]+33, `text-anchor="middle" font-size="10" fill="#57606a"`, "external · "+strings.Join(h.Link.Addrs, " "))
		s.endGroup()
	}
	// Nodes with their guests.
	s.raw(`<g class="nodes">` + "\n")
	for i, n := range t.Nodes {
		if len(n.Links) == 0 {
			continue
		}
		xy := l.nodeXY[i]
		w, h := l.nodeW[i], l.nodeH[i]
		cx := xy[0] + w/2
		ln := n.Links[0]
		l.linkTo(s, cx, l.busY[ln.Segment]+3, xy[1], TopoLink{Ifname: ln.Ifname, Note: ln.Note})
		if im := l.impairText(n.Name, ""); im != "" {
			s.text(cx+5, xy[1]-14, `font-size="10" fill="#6639ba"`, "⚡ "+im)
		}
		l.drawNode(s, n, xy[0], xy[1], w, h)
	}
	s.raw("</g>\n")
}

// nodeSub is the line under a node's name.
func nodeSub(n TopoNode) string {
	sub := "VTEP " + n.VTEP
	if n.VTEP == "" && len(n.Links) > 0 {
		sub = strings.Join(n.Links[0].Addrs, " ")
	}
	if n.Down {
		sub += " · control plane down"
	}
	return sub
}

func exitText(n TopoNode) string {
	if len(n.Exit) == 0 {
		return ""
	}
	return "exit node · " + strings.Join(n.Exit, ", ")
}

func (l *tpLayout) drawNode(s *svg, n TopoNode, x, y, w, h float64) {
	stroke, dash := "#24292f", ""
	if n.Down {
		stroke, dash = "#cf222e", ` stroke-dasharray="6 4"`
	}
	s.group("node " + n.Name)
	s.rect(x, y, w, h, fmt.Sprintf(`rx="8" fill="#ffffff" stroke="%s" stroke-width="1.5"%s`, stroke, dash))
	s.text(x+10, y+18, `font-weight="bold" font-size="13" fill="#24292f"`, n.Name)
	if n.Engine != "" {
		badge := n.Engine
		bw := textWidth(badge, 10) + 10
		fill := "#0969da"
		if n.Engine == "frr" {
			fill = "#bc4c00"
		}
		s.rect(x+w-bw-8, y+6, bw, 16, fmt.Sprintf(`rx="8" fill="%s"`, fill))
		s.text(x+w-bw/2-8, y+18, `font-size="10" text-anchor="middle" fill="#ffffff" font-weight="bold"`, badge)
	}
	sub := nodeSub(n)
	s.text(x+10, y+33, `font-size="11" fill="#57606a"`, sub)
	gy := y + 40
	if len(n.Exit) > 0 {
		s.text(x+10, gy+8, `font-size="11" font-weight="bold" fill="#bc4c00"`, "⇅ "+exitText(n))
		gy += 15
	}
	s.endGroup()
	for _, g := range l.groups(n.Name) {
		c := zonePalette[l.zoneIdx[g.zone]%len(zonePalette)]
		gh := 20 + 15*float64(len(g.guests))
		s.group(fmt.Sprintf("VNet %s in zone %s", g.vnet, g.zone))
		s.rect(x+8, gy, w-16, gh, fmt.Sprintf(`rx="5" fill="%s" stroke="%s"`, c.fill, c.stroke))
		s.text(x+14, gy+14, fmt.Sprintf(`font-size="11" font-weight="bold" fill="%s"`, c.stroke), vnetTitle(g))
		s.endGroup()
		for j, gu := range g.guests {
			gyy := gy + 30 + 15*float64(j)
			s.group("guest " + gu.Name + " " + strings.Join(gu.Addrs, " "))
			s.rect(x+16, gyy-9, 8, 8, fmt.Sprintf(`rx="1.5" fill="%s"`, c.stroke))
			line := guestLine(gu)
			if im := l.impairText(gu.Name, ""); im != "" {
				line += "  ⚡ " + im
			}
			s.text(x+29, gyy-1, `font-size="11" fill="#24292f"`, line)
			s.endGroup()
		}
		gy += gh + 6
	}
}

func (l *tpLayout) legend(s *svg, y float64) {
	x := tpMargin
	for i, z := range l.t.Zones {
		c := zonePalette[i%len(zonePalette)]
		label := "zone " + z.Name + " (" + z.Type
		if z.VNI > 0 {
			label += fmt.Sprintf(", L3VNI %d", z.VNI)
		}
		label += ")"
		s.rect(x, y+4, 12, 12, fmt.Sprintf(`rx="2" fill="%s" stroke="%s"`, c.fill, c.stroke))
		s.text(x+17, y+14, `font-size="11" fill="#24292f"`, label)
		x += textWidth(label, 11) + 34
	}
	for i, n := range l.t.Notes {
		s.text(tpMargin, y+34+16*float64(i), `font-size="11" font-weight="bold" fill="#cf222e"`, "✖ "+n)
	}
}
