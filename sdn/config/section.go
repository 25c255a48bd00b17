package config

import (
	"fmt"
	"io"
	"strings"
)

// ParseSectionConfig reads a Proxmox section-config file: a "type: id"
// header line, then indented "key value" lines; a blank line ends a section
// and lines starting with '#' are comments. A repeated key is kept once per
// line, in file order. file only names the input in error positions.
//
// Every syntax problem is reported (as an ErrorList) together with the
// sections that could be read.
func ParseSectionConfig(file string, r io.Reader) ([]Section, error) {
	data, err := readCapped(r)
	if err != nil {
		return nil, ErrorList{{Pos: Pos{File: file}, Msg: "cannot read: " + errText(err)}}
	}
	var (
		secs  []Section
		errs  ErrorList
		cur   = -1    // index in secs of the open section; -1 none
		skip  = false // inside a section whose header was bad
		seen  = map[string]int{}
		lines = strings.Split(string(data), "\n")
	)
	for i, line := range lines {
		pos := Pos{File: file, Line: i + 1}
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			cur, skip = -1, false
			continue
		case strings.HasPrefix(trimmed, "#"):
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if skip {
				continue
			}
			if cur < 0 {
				errs.add(pos, "", "property line %q outside a section (a blank line ended the section, or no \"type: id\" header)", trimmed)
				skip = true
				continue
			}
			key, value := splitKeyValue(trimmed)
			secs[cur].Props = append(secs[cur].Props, Prop{Key: key, Value: value, Pos: pos})
			continue
		}
		typ, id, msg := parseHeader(trimmed)
		if msg != "" {
			errs.add(pos, "", "%s", msg)
			cur, skip = -1, true
			continue
		}
		if cur >= 0 {
			// Proxmox would read this line as a bad option of the open
			// section and drop it (and the section it starts).
			errs.add(pos, "", "section header %q needs a blank line before it", trimmed)
		}
		if first, dup := seen[id]; dup {
			errs.add(pos, "", "duplicate section id %q (first defined at line %d)", id, first)
		} else {
			seen[id] = pos.Line
		}
		secs = append(secs, Section{Type: typ, ID: id, Pos: pos})
		cur, skip = len(secs)-1, false
	}
	return secs, errs.Err()
}

// parseHeader splits "type: id"; msg is non-empty when the line is not a
// valid header.
func parseHeader(line string) (typ, id, msg string) {
	colon := strings.IndexByte(line, ':')
	if colon < 0 {
		return "", "", fmt.Sprintf("expected a section header \"type: id\", got %q (property lines must be indented)", line)
	}
	typ = line[:colon]
	rest := strings.TrimSpace(line[colon+1:])
	switch {
	case typ == "" || strings.ContainsAny(typ, " \t"):
		return "", "", fmt.Sprintf("bad section header %q: the type must be one word before ':'", line)
	case rest == "":
		return "", "", fmt.Sprintf("section header %q has no id", line)
	case strings.ContainsAny(rest, " \t"):
		return "", "", fmt.Sprintf("bad section header %q: the id must be one word", line)
	}
	return strings.ToLower(typ), rest, ""
}

// splitKeyValue splits an option line into its key and the rest (trimmed).
func splitKeyValue(s string) (key, value string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}
