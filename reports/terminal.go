package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TerminalOptions tune WriteTerminal.
type TerminalOptions struct {
	Color      bool // ANSI colours for verdicts
	MaxFigures int  // figures shown per row; 0 means 3
	Width      int  // wrap the figures column to keep lines under this; 0 means 120
}

// WriteTerminal writes an aligned table (scenario, verdict, key figures,
// time), the likely cause under each failed scenario, and a totals line.
// Control characters in names and texts are replaced, so hostile strings
// cannot drive the terminal.
func WriteTerminal(w io.Writer, r *Run, o TerminalOptions) error {
	if o.MaxFigures == 0 {
		o.MaxFigures = 3
	}
	if o.Width == 0 {
		o.Width = 120
	}
	header := []string{"SCENARIO", "VERDICT", "FIGURES", "TIME"}
	rows := [][]string{header}
	for _, s := range r.Scenarios {
		rows = append(rows, []string{termSafe(s.Name), termSafe(strings.ToUpper(string(s.Verdict))),
			termSafe(figuresText(s.Figures, o.MaxFigures)), humanDuration(s.Duration)})
	}
	wd := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			wd[i] = max(wd[i], utf8.RuneCountInString(c))
		}
	}
	// Keep the figures column from pushing lines past the width.
	if fixed := wd[0] + wd[1] + wd[3] + 6; fixed+wd[2] > o.Width && o.Width-fixed > 20 {
		wd[2] = o.Width - fixed
	}
	var b strings.Builder
	for ri, row := range rows {
		fig := truncate(row[2], wd[2])
		b.WriteString(pad(row[0], wd[0]))
		b.WriteString("  ")
		verdict := pad(row[1], wd[1])
		if o.Color && ri > 0 {
			verdict = colour(r.Scenarios[ri-1].Verdict, verdict)
		}
		b.WriteString(verdict)
		b.WriteString("  ")
		b.WriteString(pad(fig, wd[2]))
		b.WriteString("  ")
		b.WriteString(strings.Repeat(" ", wd[3]-utf8.RuneCountInString(row[3])))
		b.WriteString(row[3])
		b.WriteByte('\n')
		if ri > 0 {
			s := r.Scenarios[ri-1]
			switch s.Verdict {
			case Pass:
			case Skip:
				// Say why, so a run that checked nothing is understood.
				fmt.Fprintf(&b, "    skipped: %s\n", termSafe(firstLine(firstNonEmpty(s.Cause, "no reason given"))))
			case Warn:
				if why := firstNonEmpty(s.Cause, s.Observed); why != "" {
					fmt.Fprintf(&b, "    warning: %s\n", termSafe(firstLine(why)))
				}
			default:
				if why := firstNonEmpty(s.Cause, s.Observed); why != "" {
					fmt.Fprintf(&b, "    %s\n", termSafe(firstLine(why)))
				}
			}
		}
	}
	c := r.Counts()
	fmt.Fprintf(&b, "%s: %s in %s\n", r.Status(), c, humanDuration(r.Duration))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("terminal report: %w", err)
	}
	return nil
}

func colour(v Verdict, s string) string {
	code := "33" // yellow: skip, unknown
	switch v {
	case Pass:
		code = "32"
	case Warn:
		code = "1;35" // bold magenta: not the skip's yellow
	case Fail, Error:
		code = "31"
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// termSafe replaces control characters (ESC, CR, newlines...) with spaces
// or U+FFFD so a string prints on one line and cannot inject escapes.
func termSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case unicode.IsControl(r) || r == utf8.RuneError:
			return '\uFFFD'
		}
		return r
	}, s)
}

func pad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

func truncate(s string, n int) string {
	if n < 2 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
