package reports

import (
	"fmt"
	"math"
	"strings"
)

// svg is a small writer of SVG elements. Every text and attribute value
// goes through esc, so lab names, labels and event texts may contain
// anything. The pictures use only system fonts and no scripts.
type svg struct{ b strings.Builder }

func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		default:
			// Control characters are not allowed in XML 1.0.
			if r < 0x20 && r != '\t' && r != '\n' {
				b.WriteRune('\uFFFD')
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// num prints a coordinate with at most one decimal.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	v = math.Round(v*10) / 10
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

func (s *svg) open(w, h float64, class, label string) {
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" class="%s" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s" font-family="system-ui,-apple-system,'Segoe UI',sans-serif" font-size="12">`,
		esc(class), num(w), num(h), num(w), num(h), esc(label))
	s.b.WriteString("\n")
}

func (s *svg) close() { s.b.WriteString("</svg>\n") }

func (s *svg) raw(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svg) rect(x, y, w, h float64, attrs string) {
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" %s/>`+"\n", num(x), num(y), num(max(w, 0)), num(max(h, 0)), attrs)
}

func (s *svg) line(x1, y1, x2, y2 float64, attrs string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" %s/>`+"\n", num(x1), num(y1), num(x2), num(y2), attrs)
}

func (s *svg) circle(x, y, r float64, attrs string) {
	fmt.Fprintf(&s.b, `<circle cx="%s" cy="%s" r="%s" %s/>`+"\n", num(x), num(y), num(r), attrs)
}

// text writes escaped text; attrs are written as given (constants only).
func (s *svg) text(x, y float64, attrs, text string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" %s>%s</text>`+"\n", num(x), num(y), attrs, esc(text))
}

// title attaches a tooltip to the element opened before it (as a group).
func (s *svg) group(title string) {
	fmt.Fprintf(&s.b, "<g><title>%s</title>\n", esc(title))
}

func (s *svg) endGroup() { s.b.WriteString("</g>\n") }

func (s *svg) String() string { return s.b.String() }

// textWidth estimates the drawn width of text at the given font size: the
// pictures use system fonts, so this is generous rather than exact.
func textWidth(text string, size float64) float64 {
	return float64(len([]rune(text))) * size * 0.6
}
