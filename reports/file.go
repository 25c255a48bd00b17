package reports

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Format names an output format.
type Format string

// Formats.
const (
	JUnit    Format = "junit"
	JSON     Format = "json"
	Markdown Format = "markdown"
	HTML     Format = "html"
	Text     Format = "text"
)

// FormatFor picks the format from a file name: .xml is JUnit, .json,
// .md/.markdown, .html/.htm, .txt is the terminal table.
func FormatFor(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xml":
		return JUnit, nil
	case ".json":
		return JSON, nil
	case ".md", ".markdown":
		return Markdown, nil
	case ".html", ".htm":
		return HTML, nil
	case ".txt":
		return Text, nil
	}
	return "", fmt.Errorf("report %s: unknown extension (want .xml, .json, .md, .html or .txt)", path)
}

// Write writes r to w in format f.
func Write(w io.Writer, f Format, r *Run) error {
	switch f {
	case JUnit:
		return WriteJUnit(w, r)
	case JSON:
		return WriteJSON(w, r)
	case Markdown:
		return WriteMarkdown(w, r)
	case HTML:
		return WriteHTML(w, r)
	case Text:
		return WriteTerminal(w, r, TerminalOptions{})
	}
	return fmt.Errorf("unknown report format %q", f)
}

// WriteFile writes r to path in format f (empty: chosen by FormatFor),
// creating parent directories.
func WriteFile(path string, f Format, r *Run) error {
	if f == "" {
		var err error
		if f, err = FormatFor(path); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	bw := bufio.NewWriter(out)
	if f == HTML {
		// Evidence is linked relative to the page's own directory.
		err = WriteHTMLOpts(bw, r, HTMLOptions{Dir: filepath.Dir(path)})
	} else {
		err = Write(bw, f, r)
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}
