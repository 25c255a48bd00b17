package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Image is what a VM guest boots: a Debian kernel and an initramfs this
// package builds from Debian packages (the kernel's own modules and
// busybox-static), nothing downloaded from elsewhere.
type Image struct {
	Kernel  string // bzImage
	Initrd  string // gzip'd cpio
	Version string // kernel release, e.g. 6.1.0-57-cloud-amd64
}

// The modules the guest needs: the virtio transports (mmio for QEMU's
// microvm machine, pci for q35), the NIC and the serial port the exec agent
// talks over. Their dependencies are read from each module's .modinfo and
// loaded first.
var guestModules = []string{"virtio_mmio", "virtio_pci", "virtio_net", "virtio_console"}

// KernelPackage is the Debian package whose kernel guests boot: the cloud
// flavour is small and has every virtio driver as a module.
const KernelPackage = "linux-image-cloud-amd64"

// DefaultCacheDir holds extracted kernels and built initramfs images; they
// are shared by every lab on the machine and rebuilt only when missing.
func DefaultCacheDir() string {
	if d := os.Getenv("SDNLAB_VM_CACHE"); d != "" {
		return d
	}
	return "/var/cache/sdnlab/vm"
}

// Busybox is the static busybox the initramfs runs (Debian busybox-static).
var Busybox = "/bin/busybox"

// EnsureImage returns the image in cacheDir, extracting the kernel package
// (fetched with `apt-get download` when no .deb is cached) and building the
// initramfs when they are missing.
func EnsureImage(ctx context.Context, cacheDir string) (*Image, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("vm image: %w", err)
	}
	root, version, err := ensureKernel(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	img := &Image{Kernel: filepath.Join(root, "boot", "vmlinuz-"+version), Version: version}
	bb, err := staticBusybox()
	if err != nil {
		return nil, err
	}
	fs := newInitramfs()
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "run", "etc", "lib", "lib/modules", "sbin", "usr", "usr/bin", "usr/sbin"} {
		fs.dir(d)
	}
	fs.file("bin/busybox", 0o755, bb)
	fs.file("init", 0o755, []byte(initScript))
	fs.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/:/bin/sh\n"))
	mods, err := moduleOrder(filepath.Join(root, "lib", "modules", version, "kernel"), guestModules)
	if err != nil {
		return nil, fmt.Errorf("vm image: kernel %s: %w", version, err)
	}
	var names []string
	for _, m := range mods {
		b, err := os.ReadFile(m.path)
		if err != nil {
			return nil, fmt.Errorf("vm image: %w", err)
		}
		fs.file("lib/modules/"+m.name+".ko", 0o644, b)
		names = append(names, m.name)
	}
	fs.file("etc/modules", 0o644, []byte(strings.Join(names, "\n")+"\n"))
	var buf bytes.Buffer
	if err := fs.writeTo(&buf); err != nil {
		return nil, fmt.Errorf("vm image: initramfs: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	img.Initrd = filepath.Join(cacheDir, "initrd-"+version+"-"+hex.EncodeToString(sum[:6])+".gz")
	if _, err := os.Stat(img.Initrd); err != nil {
		tmp := img.Initrd + ".tmp"
		if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("vm image: %w", err)
		}
		if err := os.Rename(tmp, img.Initrd); err != nil {
			return nil, fmt.Errorf("vm image: %w", err)
		}
	}
	return img, nil
}

// staticBusybox reads busybox and checks it needs no dynamic loader: the
// initramfs has no libc.
func staticBusybox() ([]byte, error) {
	f, err := elf.Open(Busybox)
	if err != nil {
		return nil, fmt.Errorf("vm image: %s: %w (install busybox-static)", Busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("vm image: %s is dynamically linked: install busybox-static", Busybox)
		}
	}
	return os.ReadFile(Busybox)
}

var debName = regexp.MustCompile(`^linux-image-([0-9][^_]*-cloud-amd64)_[^_]+_amd64\.deb$`)

// ensureKernel returns the directory the kernel package is extracted to and
// the kernel release. The newest cached .deb wins; without one the package
// the meta package KernelPackage points at is downloaded.
func ensureKernel(ctx context.Context, cacheDir string) (string, string, error) {
	deb, version := cachedDeb(cacheDir)
	if deb == "" {
		if err := downloadKernel(ctx, cacheDir); err != nil {
			return "", "", err
		}
		if deb, version = cachedDeb(cacheDir); deb == "" {
			return "", "", fmt.Errorf("vm image: apt-get download left no %s package in %s", KernelPackage, cacheDir)
		}
	}
	root := filepath.Join(cacheDir, "kernel-"+version)
	if _, err := os.Stat(filepath.Join(root, "boot", "vmlinuz-"+version)); err == nil {
		return root, version, nil
	}
	tmp := root + ".tmp"
	os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, tmp).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("vm image: dpkg-deb -x %s: %v: %s", deb, err, out)
	}
	if err := os.Rename(tmp, root); err != nil {
		return "", "", fmt.Errorf("vm image: %w", err)
	}
	return root, version, nil
}

func cachedDeb(dir string) (string, string) {
	ents, _ := os.ReadDir(dir)
	var found []string
	for _, e := range ents {
		if debName.MatchString(e.Name()) {
			found = append(found, e.Name())
		}
	}
	if len(found) == 0 {
		return "", ""
	}
	sort.Strings(found)
	last := found[len(found)-1]
	return filepath.Join(dir, last), debName.FindStringSubmatch(last)[1]
}

// downloadKernel fetches the kernel package through apt (Debian's own
// mirrors, as configured on the machine) into dir.
func downloadKernel(ctx context.Context, dir string) error {
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", KernelPackage).Output()
	if err != nil {
		return fmt.Errorf("vm image: apt-cache depends %s: %w (is apt available and `apt-get update` done?)", KernelPackage, err)
	}
	var pkg string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if p, ok := strings.CutPrefix(l, "Depends: "); ok && strings.HasPrefix(p, "linux-image-") {
			pkg = p
			break
		}
	}
	if pkg == "" {
		return fmt.Errorf("vm image: %s depends on no linux-image package (apt-cache depends said %q)", KernelPackage, strings.TrimSpace(string(out)))
	}
	cmd := exec.CommandContext(ctx, "apt-get", "download", "-q", pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vm image: apt-get download %s: %v: %s", pkg, err, b)
	}
	return nil
}

// ErrNoVM says why this machine cannot run VM guests.
var ErrNoVM = errors.New("VM guests need qemu-system-x86_64")
