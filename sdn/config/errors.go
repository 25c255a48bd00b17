package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// String renders the position as "file:line" (or just the file when the
// line is unknown).
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is one problem in an input file.
type Error struct {
	Pos   Pos
	Field string // the offending key; "" for section-level problems
	Msg   string
}

// Error prints "file:line: field: what is wrong".
func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	field := e.Field
	if !cleanText(field) { // a key read from a binary file: never echo it raw
		field = strconv.Quote(field)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, field, e.Msg)
}

// BadInput marks the error as bad input (CLI exit code 2).
func (e *Error) BadInput() bool { return true }

// ErrorList collects every problem found, so all are reported at once.
type ErrorList []*Error

// Error prints one problem per line, sorted by file then line.
func (l ErrorList) Error() string {
	s := append(ErrorList(nil), l...)
	s.Sort()
	var b strings.Builder
	for i, e := range s {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// BadInput marks the list as bad input (CLI exit code 2).
func (l ErrorList) BadInput() bool { return true }

// Sort orders the list by file, line, field, message (stable output).
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Msg < b.Msg
	})
}

// Err returns nil for an empty list, else the sorted list itself.
// Returning a typed nil in an error interface would be non-nil, hence this.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

func (l *ErrorList) add(pos Pos, field, format string, a ...any) {
	*l = append(*l, &Error{Pos: pos, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// addErrs appends the problems held by err (an ErrorList or *Error);
// any other error is attached to pos.
func (l *ErrorList) addErr(pos Pos, err error) {
	switch e := err.(type) {
	case nil:
	case ErrorList:
		*l = append(*l, e...)
	case *Error:
		*l = append(*l, e)
	default:
		l.add(pos, "", "%v", err)
	}
}
