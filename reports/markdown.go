package reports

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes a summary table (scenario, verdict, figures, time)
// and, for each failed or errored scenario, its expected/observed/cause and
// evidence. Suitable for a CI job summary ($GITHUB_STEP_SUMMARY) or a merge
// request comment.
func WriteMarkdown(w io.Writer, r *Run) error {
	var b strings.Builder
	c := r.Counts()
	fmt.Fprintf(&b, "## sdnlab %s: %s\n\n", mdCell(r.Lab), r.Status())
	fmt.Fprintf(&b, "%s in %s", c, humanDuration(r.Duration))
	if !r.Started.IsZero() {
		fmt.Fprintf(&b, ", started %s", r.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	b.WriteString("\n\n| Scenario | Verdict | Figures | Time |\n|---|---|---|---:|\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(s.Name), verdictMark(s.Verdict), mdCell(figuresText(s.Figures, 0)), humanDuration(s.Duration))
	}
	for _, s := range r.Scenarios {
		if s.Verdict == Skip {
			fmt.Fprintf(&b, "\n### %s: %s\n\n- **Why:** %s\n", mdCell(s.Name), verdictMark(s.Verdict), mdInline(firstNonEmpty(s.Cause, "no reason given")))
			continue
		}
		if s.Verdict == Pass {
			continue
		}
		fmt.Fprintf(&b, "\n### %s: %s\n\n", mdCell(s.Name), verdictMark(s.Verdict))
		for _, kv := range [][2]string{{"Expected", s.Expected}, {"Observed", s.Observed}, {"Likely cause", s.Cause}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "- **%s:** %s\n", kv[0], mdInline(kv[1]))
			}
		}
		if len(s.Evidence) > 0 {
			lines := make([]string, len(s.Evidence))
			for i, e := range s.Evidence {
				lines[i] = termSafe(e) // one line each, no control characters
			}
			fence := codeFence(lines)
			fmt.Fprintf(&b, "\nEvidence:\n\n%s\n%s\n%s\n", fence, strings.Join(lines, "\n"), fence)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("markdown report: %w", err)
	}
	return nil
}

func verdictMark(v Verdict) string {
	switch v {
	case Pass:
		return "✅ pass"
	case Fail:
		return "❌ fail"
	case Warn:
		return "⚠️ warn"
	case Skip:
		return "⏭️ skip"
	case Error:
		return "💥 error"
	}
	return "❓ " + mdCell(string(v))
}

// mdCell makes text safe inside a table cell: one line, no pipes, no HTML.
func mdCell(s string) string {
	return strings.ReplaceAll(mdInline(s), "|", "\\|")
}

// mdInline escapes text for inline Markdown: newlines become spaces, and
// characters that start markup or HTML are backslash-escaped.
func mdInline(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			// control characters are dropped
		case strings.ContainsRune("\\`*_[]<>#!&", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// codeFence returns a backtick fence longer than any backtick run in lines.
func codeFence(lines []string) string {
	longest := 0
	for _, l := range lines {
		run := 0
		for _, r := range l {
			if r == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}
