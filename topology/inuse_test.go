package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// CheckTakeover: nothing running and the same lab file (also through a
// symlink) are fine; another file's lab of that name is an *InUseError
// naming that file; a state directory left empty by an up that died
// before writing lab.json (and no namespaces) is fine.
func TestCheckTakeover(t *testing.T) {
	name := fmt.Sprintf("t%dc", os.Getpid()%100000)
	files := t.TempDir()
	mine := filepath.Join(files, "lab.yaml")
	if err := os.WriteFile(mine, []byte("sdn: .\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(files, "link.yaml")
	if err := os.Symlink(mine, link); err != nil {
		t.Fatal(err)
	}
	opts := Options{StateDir: t.TempDir()}
	lab := &Lab{Name: name, File: mine}
	if err := CheckTakeover(lab, opts); err != nil {
		t.Errorf("nothing running: %v", err)
	}
	if err := os.MkdirAll(opts.LabDir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckTakeover(lab, opts); err != nil {
		t.Errorf("empty state dir, no namespaces: %v", err)
	}
	if err := writeJSON(filepath.Join(opts.LabDir(name), "lab.json"), &Lab{Name: name, File: mine}); err != nil {
		t.Fatal(err)
	}
	if err := CheckTakeover(lab, opts); err != nil {
		t.Errorf("same file: %v", err)
	}
	if err := CheckTakeover(&Lab{Name: name, File: link}, opts); err != nil {
		t.Errorf("same file through a symlink: %v", err)
	}
	other := filepath.Join(files, "other.yaml")
	err := CheckTakeover(&Lab{Name: name, File: other}, opts)
	var iu *InUseError
	if !errors.As(err, &iu) || iu.File != mine || iu.Lab != name || !iu.BadInput() {
		t.Fatalf("other file: got %v, want an InUseError naming %s", err, mine)
	}
	// Up refuses before writing any state: lab.json still names mine.
	if _, err := Up(t.Context(), &Lab{Name: name, File: other}, opts); !errors.As(err, &iu) {
		t.Errorf("Up over another file's lab: %v", err)
	}
	if l, err := ReadState(opts.StateDir, name); err != nil || l.File != mine {
		t.Errorf("state after refused Up: %v, %v", l, err)
	}
}

func TestCheckLabName(t *testing.T) {
	for name, ok := range map[string]bool{"demo": true, "t123x": true, "Bad-Name": false, "": false, "abcdefghijklm": false} {
		if err := CheckLabName(name); (err == nil) != ok {
			t.Errorf("CheckLabName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
