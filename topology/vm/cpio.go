package vm

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sort"
)

// initramfs is an in-memory file tree written as a gzip'd cpio "newc"
// archive, the format the kernel unpacks into its rootfs. Writing it here
// keeps the image build free of cpio and gzip binaries.
type initramfs struct {
	files map[string]cpioFile
}

type cpioFile struct {
	mode uint32 // type and permission bits
	data []byte // content, or the target of a symlink
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
)

func newInitramfs() *initramfs { return &initramfs{files: map[string]cpioFile{}} }

func (f *initramfs) dir(name string) { f.files[name] = cpioFile{mode: modeDir | 0o755} }

func (f *initramfs) file(name string, perm uint32, data []byte) {
	f.files[name] = cpioFile{mode: modeFile | perm, data: data}
}

func (f *initramfs) symlink(name, target string) {
	f.files[name] = cpioFile{mode: modeLink | 0o777, data: []byte(target)}
}

// writeTo writes the archive, directories before their contents (sorted
// names give that), ending with the TRAILER!!! entry.
func (f *initramfs) writeTo(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(f.files))
	for n := range f.files {
		names = append(names, n)
	}
	sort.Strings(names)
	ino := 1
	for _, n := range names {
		if err := writeEntry(zw, ino, n, f.files[n]); err != nil {
			return err
		}
		ino++
	}
	if err := writeEntry(zw, 0, "TRAILER!!!", cpioFile{}); err != nil {
		return err
	}
	return zw.Close()
}

func writeEntry(w io.Writer, ino int, name string, f cpioFile) error {
	nlink := 1
	if f.mode&modeDir == modeDir && f.mode&modeFile != modeFile {
		nlink = 2
	}
	var hdr bytes.Buffer
	// newc: magic, then 13 fields of 8 hex digits.
	fmt.Fprintf(&hdr, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, f.mode, 0, 0, nlink, 0, len(f.data), 0, 0, 0, 0, len(name)+1, 0)
	hdr.WriteString(name)
	hdr.WriteByte(0)
	pad(&hdr, hdr.Len())
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	if _, err := w.Write(f.data); err != nil {
		return err
	}
	var p bytes.Buffer
	pad(&p, len(f.data))
	_, err := w.Write(p.Bytes())
	return err
}

// pad aligns to 4 bytes, as newc requires after headers and file data.
func pad(b *bytes.Buffer, n int) {
	for ; n%4 != 0; n++ {
		b.WriteByte(0)
	}
}
