// Package initramfs writes initramfs images: newc ("070701") cpio
// archives, uncompressed, which every kernel with BLK_DEV_INITRD can
// unpack. Archives are deterministic: entries are sorted, owned by
// root, dated 1970-01-01 and numbered in order, so the same files give
// the same bytes (and the kernel build cache stays valid).
//
//	a := initramfs.New()
//	a.AddFile("init", 0o755, initBinary)
//	a.AddFile("lib/modules/test.ko", 0o644, ko)
//	err := a.WriteFile("/tmp/initrd.cpio")
//
// Parent directories are created implicitly (mode 0755); /dev and a
// /dev/console character device (5:1) are always present, so the
// kernel can open the console for /init before devtmpfs is mounted.
package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// Entry is one file system object in the archive.
type Entry struct {
	Name         string // path without a leading slash
	Mode         os.FileMode
	Data         []byte // regular files
	Target       string // symlinks
	Major, Minor uint32 // device nodes
}

// Archive collects entries; the zero value is not ready, use New.
type Archive struct {
	entries map[string]*Entry
}

// New returns an archive holding /dev and /dev/console.
func New() *Archive {
	a := &Archive{entries: map[string]*Entry{}}
	a.AddDir("dev", 0o755)
	a.AddDevice("dev/console", os.ModeCharDevice|0o600, 5, 1)
	return a
}

func clean(name string) (string, error) {
	n := path.Clean("/" + name)
	if n == "/" {
		return "", fmt.Errorf("initramfs: empty entry name %q", name)
	}
	return strings.TrimPrefix(n, "/"), nil
}

func (a *Archive) add(e *Entry) error {
	n, err := clean(e.Name)
	if err != nil {
		return err
	}
	e.Name = n
	if dir := path.Dir(n); dir != "." {
		if p, ok := a.entries[dir]; ok && !p.Mode.IsDir() {
			return fmt.Errorf("initramfs: %s: parent %s is not a directory", n, dir)
		}
		if _, ok := a.entries[dir]; !ok {
			if err := a.add(&Entry{Name: dir, Mode: os.ModeDir | 0o755}); err != nil {
				return err
			}
		}
	}
	if old, ok := a.entries[n]; ok && old.Mode.IsDir() && e.Mode.IsDir() {
		old.Mode = e.Mode
		return nil
	}
	a.entries[n] = e
	return nil
}

// AddDir adds a directory (and its parents).
func (a *Archive) AddDir(name string, perm os.FileMode) error {
	return a.add(&Entry{Name: name, Mode: os.ModeDir | perm.Perm()})
}

// AddFile adds a regular file; mode keeps its permission bits.
func (a *Archive) AddFile(name string, mode os.FileMode, data []byte) error {
	return a.add(&Entry{Name: name, Mode: mode & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky), Data: data})
}

// AddSymlink adds a symbolic link.
func (a *Archive) AddSymlink(name, target string) error {
	return a.add(&Entry{Name: name, Mode: os.ModeSymlink | 0o777, Target: target})
}

// AddDevice adds a device node; mode must include os.ModeDevice and
// os.ModeCharDevice for a character device.
func (a *Archive) AddDevice(name string, mode os.FileMode, major, minor uint32) error {
	return a.add(&Entry{Name: name, Mode: mode | os.ModeDevice, Major: major, Minor: minor})
}

// Write writes the archive to w with u-root's newc writer, which
// writes every kind of entry, device nodes included (rdevmajor and
// rdevminor), with reproducible metadata.
func (a *Archive) Write(w io.Writer) error {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names) // parents sort before their children
	rw := cpio.Newc.Writer(w)
	for i, n := range names {
		e := a.entries[n]
		info := cpio.Info{Name: n, Ino: uint64(i + 1), Mode: linuxMode(e.Mode), NLink: 1}
		var rec cpio.Record
		switch {
		case e.Mode.IsDir():
			info.NLink = 2
			rec = cpio.Record{Info: info}
		case e.Mode&os.ModeSymlink != 0:
			rec = cpio.StaticRecord([]byte(e.Target), info)
		case e.Mode&os.ModeDevice != 0:
			info.Rmajor, info.Rminor = uint64(e.Major), uint64(e.Minor)
			rec = cpio.Record{Info: info}
		default:
			rec = cpio.StaticRecord(e.Data, info)
		}
		if err := rw.WriteRecord(cpio.MakeReproducible(rec)); err != nil {
			return fmt.Errorf("initramfs: %s: %w", n, err)
		}
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return fmt.Errorf("initramfs: trailer: %w", err)
	}
	return nil
}

// Bytes returns the archive as a byte slice.
func (a *Archive) Bytes() ([]byte, error) {
	var b bytes.Buffer
	err := a.Write(&b)
	return b.Bytes(), err
}

// WriteFile writes the archive to a file atomically (temp file + rename).
func (a *Archive) WriteFile(name string) error {
	b, err := a.Bytes()
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return os.Rename(tmp, name)
}

// linuxMode is m as st_mode bits (type and permissions).
func linuxMode(m os.FileMode) uint64 {
	c := uint64(m.Perm())
	if m&os.ModeSetuid != 0 {
		c |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		c |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		c |= 0o1000
	}
	switch {
	case m.IsDir():
		c |= cpio.S_IFDIR
	case m&os.ModeSymlink != 0:
		c |= cpio.S_IFLNK
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice != 0:
		c |= cpio.S_IFCHR
	case m&os.ModeDevice != 0:
		c |= cpio.S_IFBLK
	case m&os.ModeNamedPipe != 0:
		c |= cpio.S_IFIFO
	default:
		c |= cpio.S_IFREG
	}
	return c
}
