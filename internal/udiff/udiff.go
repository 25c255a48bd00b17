// Package udiff writes unified diffs (diff -u) of small text files, such
// as the configuration files a Proxmox SDN apply would change.
package udiff

import (
	"fmt"
	"strings"
)

// Context is the number of unchanged lines shown around each change.
const Context = 3

type op struct {
	kind byte // ' ', '-', '+'
	line string
}

// Unified returns the unified diff turning a into b, with "--- oldName" and
// "+++ newName" headers, or "" when they are equal. Lines are compared
// whole; a missing final newline is marked as diff does.
func Unified(oldName, newName, a, b string) string {
	if a == b {
		return ""
	}
	ops := edits(splitLines(a), splitLines(b))
	var w strings.Builder
	fmt.Fprintf(&w, "--- %s\n+++ %s\n", oldName, newName)
	// Walk the script, cutting it into hunks around the changes.
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(0, i-Context)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			// a run of unchanged lines: does another change follow close enough?
			j := end
			for j < len(ops) && ops[j].kind == ' ' {
				j++
			}
			if j == len(ops) || j-end > 2*Context {
				end = min(len(ops), end+Context)
				break
			}
			end = j
		}
		writeHunk(&w, ops, start, end)
		i = end
	}
	return w.String()
}

// writeHunk writes ops[start:end] with its @@ header; line numbers count
// the lines of each side before start.
func writeHunk(w *strings.Builder, ops []op, start, end int) {
	oldLine, newLine := 1, 1
	for _, o := range ops[:start] {
		if o.kind != '+' {
			oldLine++
		}
		if o.kind != '-' {
			newLine++
		}
	}
	var oldN, newN int
	for _, o := range ops[start:end] {
		if o.kind != '+' {
			oldN++
		}
		if o.kind != '-' {
			newN++
		}
	}
	fmt.Fprintf(w, "@@ -%s +%s @@\n", rng(oldLine, oldN), rng(newLine, newN))
	for _, o := range ops[start:end] {
		w.WriteByte(o.kind)
		w.WriteString(o.line)
		w.WriteByte('\n')
	}
}

// rng formats a hunk range as diff -u does: "l" for one line, "l,n"
// otherwise, and for an empty range the line before it.
func rng(l, n int) string {
	switch n {
	case 1:
		return fmt.Sprint(l)
	case 0:
		return fmt.Sprintf("%d,0", l-1)
	}
	return fmt.Sprintf("%d,%d", l, n)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	if ls[len(ls)-1] == "" {
		return ls[:len(ls)-1]
	}
	ls[len(ls)-1] += "\n\\ No newline at end of file"
	return ls
}

// edits is a shortest edit script from a to b by longest common
// subsequence (the files are small: a few hundred lines).
func edits(a, b []string) []op {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, op{' ', a[i]})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, op{'+', b[j]})
			j++
		default:
			out = append(out, op{'-', a[i]})
			i++
		}
	}
	// diff prints a change's deletions before its insertions.
	for k := 0; k < len(out); {
		if out[k].kind == ' ' {
			k++
			continue
		}
		e := k
		for e < len(out) && out[e].kind != ' ' {
			e++
		}
		var del, ins []op
		for _, o := range out[k:e] {
			if o.kind == '-' {
				del = append(del, o)
			} else {
				ins = append(ins, o)
			}
		}
		copy(out[k:], append(del, ins...))
		k = e
	}
	return out
}
