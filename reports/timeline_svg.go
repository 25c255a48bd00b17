package reports

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Timeline drawing: one lane per probe stream (a bar per reply, its height
// the round trip; a red band over each run of lost probes with its count and
// gap), the events as dashed lines with labels packed into rows above the
// lanes, and a time axis. When the losses and events fill only a small part
// of the span, a second panel zooms in on them: a migration's 100 ms
// outage is invisible in a 5 s run otherwise.

const (
	tlWidth   = 1000.0
	tlLeft    = 170.0 // lane names
	tlRight   = 20.0
	tlLaneMax = 54.0 // lane height with few streams
	tlLaneMin = 40.0 // with many (a failover has one per flow)
	tlLaneGap = 8.0
	tlRowH    = 15.0
	tlAxisH   = 30.0
)

// eventColors gives each kind of event its colour; unknown kinds are grey.
var eventColors = map[string]string{
	"pause":    "#8250df",
	"carrier":  "#57606a",
	"announce": "#0969da",
	"bgp":      "#9a6700",
	"fdb":      "#00838f",
	"bfd":      "#cf222e",
	"route":    "#bc4c00",
	"recovery": "#1a7f37",
	"impair":   "#6639ba",
	"fault":    "#cf222e",
}

func eventColor(kind string) string {
	if c, ok := eventColors[kind]; ok {
		return c
	}
	return "#6e7781"
}

// lossRun is a run of consecutive lost probes of one series: from the
// first lost probe's send time to the next answered probe's send time.
type lossRun struct {
	from, to time.Duration
	n        int
}

func lossRuns(s Series) []lossRun {
	probes := slices.Clone(s.Probes)
	slices.SortFunc(probes, func(a, b Probe) int { return int(a.SentAt - b.SentAt) })
	step := medianStep(probes)
	var out []lossRun
	for i := 0; i < len(probes); i++ {
		if !probes[i].Lost {
			continue
		}
		j := i
		for j < len(probes) && probes[j].Lost {
			j++
		}
		run := lossRun{from: probes[i].SentAt, n: j - i}
		if j < len(probes) {
			run.to = probes[j].SentAt
		} else {
			run.to = probes[j-1].SentAt + step
		}
		out = append(out, run)
		i = j - 1
	}
	return out
}

func medianStep(p []Probe) time.Duration {
	if len(p) < 2 {
		return 10 * time.Millisecond
	}
	var d []time.Duration
	for i := 1; i < len(p); i++ {
		d = append(d, p[i].SentAt-p[i-1].SentAt)
	}
	slices.Sort(d)
	return max(d[len(d)/2], time.Millisecond)
}

// span is the drawn interval of a timeline.
func (t *Timeline) span() time.Duration {
	end := t.End
	if end > 0 {
		return end
	}
	for _, s := range t.Series {
		for _, p := range s.Probes {
			end = max(end, p.SentAt, p.RecvAt)
		}
	}
	for _, e := range t.Events {
		end = max(end, e.At)
	}
	if end <= 0 {
		end = time.Second
	}
	return end
}

// focus is the interval around the outage: the longest run of lost
// probes of each stream, and
// the events close to them (those further away are seen in the whole
// run). Without losses it is the events. ok is false when that already
// fills most of the span.
func (t *Timeline) focus(span time.Duration) (from, to time.Duration, ok bool) {
	from, to = span, 0
	// Each stream's longest run of losses is the outage; scattered single
	// losses (an impaired link) are not.
	for _, s := range t.Series {
		var longest lossRun
		for _, r := range lossRuns(s) {
			if r.to-r.from > longest.to-longest.from {
				longest = r
			}
		}
		if longest.n > 0 {
			from, to = min(from, longest.from), max(to, longest.to)
		}
	}
	if to >= from {
		// Events near the outage belong to it (the pause before, the
		// routes and FDB entries that end it).
		near := max((to-from)/2, 50*time.Millisecond)
		f0, t0 := from, to
		for _, e := range t.Events {
			if e.At >= f0-near && e.At <= t0+near {
				from, to = min(from, e.At), max(to, e.At)
			}
		}
	} else {
		for _, e := range t.Events {
			from, to = min(from, e.At), max(to, e.At)
		}
	}
	if to < from {
		return 0, 0, false
	}
	width := max(to-from, 20*time.Millisecond)
	pad := max(width/4, 5*time.Millisecond)
	from, to = max(from-pad, 0), min(to+pad, span)
	if float64(to-from) > 0.4*float64(span) {
		return 0, 0, false
	}
	return from, to, true
}

// laneHeight shrinks lanes when there are many streams.
func laneHeight(n int) float64 {
	return max(tlLaneMin, tlLaneMax-2*float64(max(n-4, 0)))
}

// TimelineSVG draws a timeline as a self-contained SVG element.
func TimelineSVG(t *Timeline) string {
	laneH := laneHeight(len(t.Series))
	span := t.span()
	var s svg
	panels := [][2]time.Duration{{0, span}}
	if f0, f1, ok := t.focus(span); ok {
		panels = append(panels, [2]time.Duration{f0, f1})
	}
	heights := make([]float64, len(panels))
	rows := make([][]int, len(panels))
	total := 8.0
	for i, p := range panels {
		rows[i] = eventRows(t.Events, p[0], p[1])
		nrows := 0
		for _, r := range rows[i] {
			nrows = max(nrows, r+1)
		}
		heights[i] = 22 + float64(nrows)*tlRowH + float64(len(t.Series))*(laneH+tlLaneGap) + tlAxisH
		total += heights[i] + 10
	}
	if len(t.Series) == 0 {
		total += 20
	}
	var kinds []string
	for _, e := range t.Events {
		if !slices.Contains(kinds, e.Kind) {
			kinds = append(kinds, e.Kind)
		}
	}
	if len(kinds) > 0 {
		total += 18
	}
	s.open(tlWidth, total, "timeline", t.Title)
	s.rect(0, 0, tlWidth, total, `fill="#ffffff"`)
	y := 8.0
	for i, p := range panels {
		title := "whole run"
		if i > 0 {
			title = fmt.Sprintf("detail %s to %s", fmtOffset(p[0]), fmtOffset(p[1]))
		}
		drawPanel(&s, t, p[0], p[1], y, rows[i], title)
		y += heights[i] + 10
	}
	if len(t.Series) == 0 {
		s.text(tlLeft, y, `fill="#57606a"`, "no probe streams recorded")
		y += 20
	}
	// A key to the event colours, in order of first appearance.
	x := tlLeft
	for _, k := range kinds {
		s.line(x, y-2, x+14, y-2, fmt.Sprintf(`stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"`, eventColor(k)))
		s.text(x+18, y+2, `font-size="10" fill="#57606a"`, k)
		x += 30 + textWidth(k, 10)
	}
	s.close()
	return s.String()
}

// eventRows assigns each event inside [from, to] a label row so that
// labels do not overlap; events outside get -1.
func eventRows(events []Event, from, to time.Duration) []int {
	rows := make([]int, len(events))
	var ends []float64 // right edge of the last label per row
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(events[a].At - events[b].At) })
	for _, i := range order {
		e := events[i]
		if e.At < from || e.At > to {
			rows[i] = -1
			continue
		}
		x := xOf(e.At, from, to)
		w := textWidth(e.Label, 11) + 12
		left := x
		if x+w > tlWidth-tlRight {
			left = x - w // label to the left of its line at the right edge
		}
		placed := false
		for r := range ends {
			if left > ends[r]+4 {
				rows[i], ends[r], placed = r, left+w, true
				break
			}
		}
		if !placed {
			rows[i] = len(ends)
			ends = append(ends, left+w)
		}
	}
	return rows
}

func xOf(at, from, to time.Duration) float64 {
	plot := tlWidth - tlLeft - tlRight
	if to <= from {
		return tlLeft
	}
	return tlLeft + plot*float64(at-from)/float64(to-from)
}

func drawPanel(s *svg, t *Timeline, from, to time.Duration, y0 float64, rows []int, title string) {
	nrows := 0
	for _, r := range rows {
		nrows = max(nrows, r+1)
	}
	s.text(8, y0+12, `font-weight="bold" fill="#24292f"`, title)
	labelsTop := y0 + 22
	lanesTop := labelsTop + float64(nrows)*tlRowH
	laneH := laneHeight(len(t.Series))
	lanesBottom := lanesTop + float64(len(t.Series))*(laneH+tlLaneGap)
	plotL, plotR := tlLeft, tlWidth-tlRight
	s.raw(`<g class="lanes">` + "\n")
	for i, ser := range t.Series {
		top := lanesTop + float64(i)*(laneH+tlLaneGap)
		drawLane(s, ser, from, to, top, laneH)
	}
	s.raw("</g>\n")
	// Events above the lanes: a dashed line through every lane and a label
	// in its row.
	s.raw(`<g class="events">` + "\n")
	for i, e := range t.Events {
		if rows[i] < 0 {
			continue
		}
		x := xOf(e.At, from, to)
		c := eventColor(e.Kind)
		ly := labelsTop + float64(rows[i])*tlRowH + 11
		s.group(fmt.Sprintf("%s at %s (%s)", e.Label, fmtOffset(e.At), e.Kind))
		s.line(x, ly-8, x, lanesBottom, fmt.Sprintf(`stroke="%s" stroke-width="1.2" stroke-dasharray="4 3"`, c))
		w := textWidth(e.Label, 11)
		if x+w+12 > plotR {
			s.text(x-4, ly, fmt.Sprintf(`font-size="11" text-anchor="end" fill="%s"`, c), e.Label)
		} else {
			s.text(x+4, ly, fmt.Sprintf(`font-size="11" fill="%s"`, c), e.Label)
		}
		s.circle(x, ly-4, 2.5, fmt.Sprintf(`fill="%s"`, c))
		s.endGroup()
	}
	s.raw("</g>\n")
	// The time axis.
	s.line(plotL, lanesBottom, plotR, lanesBottom, `stroke="#57606a"`)
	step := tickStep(to - from)
	for tk := (from + step - 1) / step * step; tk <= to; tk += step {
		x := xOf(tk, from, to)
		s.line(x, lanesBottom, x, lanesBottom+5, `stroke="#57606a"`)
		s.line(x, lanesTop, x, lanesBottom, `stroke="#d0d7de" stroke-width="0.5"`)
		s.text(x, lanesBottom+17, `font-size="11" text-anchor="middle" fill="#57606a"`, fmtOffset(tk))
	}
}

func drawLane(s *svg, ser Series, from, to time.Duration, top, laneH float64) {
	plotL, plotR := tlLeft, tlWidth-tlRight
	base := top + laneH
	sent, lost := len(ser.Probes), 0
	var maxRTT time.Duration
	for _, p := range ser.Probes {
		if p.Lost {
			lost++
		} else {
			maxRTT = max(maxRTT, p.RecvAt-p.SentAt)
		}
	}
	runs := lossRuns(ser)
	var gap time.Duration
	for _, r := range runs {
		gap = max(gap, r.to-r.from)
	}
	s.rect(plotL, top, plotR-plotL, laneH, `fill="#f6f8fa" stroke="#d0d7de" stroke-width="0.5"`)
	s.text(8, top+16, `font-weight="bold" fill="#24292f"`, ser.Name)
	lossText := fmt.Sprintf("%d sent, %d lost", sent, lost)
	lossColor := "#1a7f37"
	if lost > 0 {
		lossColor = "#cf222e"
	}
	s.text(8, top+31, fmt.Sprintf(`font-size="11" fill="%s"`, lossColor), lossText)
	if gap > 0 {
		s.text(8, top+45, `font-size="11" fill="#57606a"`, "longest gap "+fmtOffset(gap))
	}
	scale := maxRTT
	if scale <= 0 {
		scale = time.Millisecond
	}
	s.text(plotR-2, top+11, `font-size="10" text-anchor="end" fill="#57606a"`, "round trip, max "+fmtOffset(maxRTT))
	labelEnd := math.Inf(-1) // right edge of the last loss label: labels never overlap
	for _, r := range runs {
		if r.to < from || r.from > to {
			continue
		}
		x0, x1 := xOf(max(r.from, from), from, to), xOf(min(r.to, to), from, to)
		s.group(fmt.Sprintf("%d lost from %s, gap %s", r.n, fmtOffset(r.from), fmtOffset(r.to-r.from)))
		s.rect(x0, top, max(x1-x0, 2), laneH, `class="loss" fill="#cf222e" fill-opacity="0.22"`)
		s.endGroup()
		if r.n < 2 && len(runs) > 3 {
			continue // scattered single losses (an impaired link): their ticks say it
		}
		label := fmt.Sprintf("%d lost · %s", r.n, fmtOffset(r.to-r.from))
		lx, anchor := (x0+x1)/2, "middle"
		switch {
		case lx+textWidth(label, 10)/2 > plotR:
			lx, anchor = x1, "end"
		case lx-textWidth(label, 10)/2 < plotL:
			lx, anchor = x0, "start"
		}
		lw := textWidth(label, 10)
		bx := lx - lw/2
		switch anchor {
		case "end":
			bx = lx - lw
		case "start":
			bx = lx
		}
		if bx-3 < labelEnd+4 {
			continue // the band's tooltip and the detail panel still tell
		}
		labelEnd = bx + lw + 3
		s.rect(bx-3, top+14, lw+6, 14, `rx="3" fill="#ffffff" fill-opacity="0.85"`)
		s.text(lx, top+24, fmt.Sprintf(`font-size="10" text-anchor="%s" fill="#a40e26" font-weight="bold"`, anchor), label)
	}
	// A bar per probe: answered ones rise with their round trip, lost ones
	// hang below the baseline in red.
	var ok, bad []string
	for _, p := range ser.Probes {
		if p.SentAt < from || p.SentAt > to {
			continue
		}
		x := xOf(p.SentAt, from, to)
		if p.Lost {
			bad = append(bad, fmt.Sprintf("M%s %sv-10", num(x), num(base)))
			continue
		}
		h := 4 + (laneH-18)*math.Min(1, float64(p.RecvAt-p.SentAt)/float64(scale))
		ok = append(ok, fmt.Sprintf("M%s %sv-%s", num(x), num(base), num(h)))
	}
	if len(ok) > 0 {
		s.raw(`<path class="probes-ok" d="%s" stroke="#2da44e" stroke-width="1.2" fill="none"/>`+"\n", joinPath(ok))
	}
	if len(bad) > 0 {
		s.raw(`<path class="probes-lost" d="%s" stroke="#cf222e" stroke-width="1.5" fill="none"/>`+"\n", joinPath(bad))
	}
}

func joinPath(parts []string) string {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return string(b)
}

// tickStep picks 1, 2 or 5 times a power of ten so that a span gets
// between about 5 and 12 ticks.
func tickStep(span time.Duration) time.Duration {
	if span <= 0 {
		return time.Millisecond
	}
	step := time.Duration(1)
	for {
		for _, m := range []time.Duration{1, 2, 5} {
			if span/(step*m) <= 10 {
				return step * m
			}
		}
		step *= 10
	}
}

// fmtOffset prints an offset for an axis or label: 0, 850µs, 12ms, 1.25s.
func fmtOffset(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return trimZeros(fmt.Sprintf("%.2f", float64(d)/1e6)) + "ms"
	case d < time.Second:
		return trimZeros(fmt.Sprintf("%.1f", float64(d)/1e6)) + "ms"
	}
	return trimZeros(fmt.Sprintf("%.3f", d.Seconds())) + "s"
}

func trimZeros(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}
