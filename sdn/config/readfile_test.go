package config_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("zone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := config.ReadInput(small); err != nil || string(b) != "zone\n" {
		t.Fatalf("small file: %q, %v", b, err)
	}
	// A sparse file just over the cap: refused without reading it all.
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(config.MaxInputSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := config.ReadInput(big); !errors.Is(err, config.ErrTooLarge) {
		t.Errorf("oversized file: %v, want config.ErrTooLarge", err)
	}
	link := filepath.Join(dir, "zones.cfg")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero": "not a regular file (a device)",
		link:        "not a regular file (a device)",
		dir:         "is a directory, not a regular file",
	} {
		if _, err := config.ReadInput(path); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}

// An endless reader (what /dev/zero would be) stops at the cap.
func TestParseSectionConfigCapped(t *testing.T) {
	_, err := config.ParseSectionConfig("zones.cfg", zeroReader{})
	if err == nil || !strings.Contains(err.Error(), "zones.cfg: cannot read: larger than 16 MiB") {
		t.Fatalf("got %v", err)
	}
	_, err = config.ParseInterfacesReader("interfaces", io.LimitReader(zeroReader{}, config.MaxInputSize+10))
	if err == nil || !strings.Contains(err.Error(), "interfaces: cannot read: larger than 16 MiB") {
		t.Fatalf("got %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestLoadRefusesDevice(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zones.cfg")); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(dir, registry.Config())
	want := filepath.Join(dir, "zones.cfg") + ": cannot read: not a regular file (a device)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// Garbage in an interfaces file is reported quoted; a raw key in an
// error's field is quoted too.
func TestInterfacesBinaryQuoted(t *testing.T) {
	_, err := config.ParseInterfacesReader("ifs", strings.NewReader("auto lo\niface lo inet loopback\n\tmtu\x00 9000\n"))
	want := `ifs:3: binary or control characters in line: "mtu\x00 9000"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	e := &config.Error{Pos: config.Pos{File: "f", Line: 1}, Field: "\x1b[31m", Msg: "bad"}
	if got := e.Error(); got != `f:1: "\x1b[31m": bad` {
		t.Errorf("got %q", got)
	}
}
