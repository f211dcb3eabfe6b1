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

	"github.com/cavaliergopher/cpio"
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

// Write writes the archive to w.
func (a *Archive) Write(w io.Writer) error {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names) // parents sort before their children
	cw := cpio.NewWriter(w)
	ino := int64(0)
	for _, n := range names {
		e := a.entries[n]
		ino++
		if e.Mode&os.ModeDevice != 0 {
			// cavaliergopher/cpio does not write rdevmajor/rdevminor,
			// so device nodes get a header written here, between the
			// library's entries (it is 4-byte aligned after Flush).
			if err := cw.Flush(); err != nil {
				return err
			}
			if err := writeDevice(w, ino, e); err != nil {
				return err
			}
			continue
		}
		hdr := &cpio.Header{Name: n, Inode: ino, Mode: cpioMode(e.Mode)}
		switch {
		case e.Mode.IsDir():
			hdr.Links = 2
		case e.Mode&os.ModeSymlink != 0:
			hdr.Links, hdr.Linkname, hdr.Size = 1, e.Target, int64(len(e.Target))
		default:
			hdr.Links, hdr.Size = 1, int64(len(e.Data))
		}
		if err := cw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("initramfs: %s: %w", n, err)
		}
		var body []byte
		if e.Mode&os.ModeSymlink != 0 {
			body = []byte(e.Target)
		} else if e.Mode.IsRegular() {
			body = e.Data
		}
		if len(body) > 0 {
			if _, err := cw.Write(body); err != nil {
				return fmt.Errorf("initramfs: %s: %w", n, err)
			}
		}
	}
	return cw.Close()
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

func cpioMode(m os.FileMode) cpio.FileMode {
	c := cpio.FileMode(m.Perm())
	if m&os.ModeSetuid != 0 {
		c |= cpio.ModeSetuid
	}
	if m&os.ModeSetgid != 0 {
		c |= cpio.ModeSetgid
	}
	if m&os.ModeSticky != 0 {
		c |= cpio.ModeSticky
	}
	switch {
	case m.IsDir():
		c |= cpio.TypeDir
	case m&os.ModeSymlink != 0:
		c |= cpio.TypeSymlink
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice != 0:
		c |= cpio.TypeChar
	case m&os.ModeDevice != 0:
		c |= cpio.TypeBlock
	case m&os.ModeNamedPipe != 0:
		c |= cpio.TypeFifo
	default:
		c |= cpio.TypeReg
	}
	return c
}

// writeDevice writes a complete newc header for a device node (size 0,
// so no data follows) padded to 4 bytes.
func writeDevice(w io.Writer, ino int64, e *Entry) error {
	f := []int64{ino, int64(cpioMode(e.Mode)), 0, 0, 1, 0, 0, 0, 0, int64(e.Major), int64(e.Minor), int64(len(e.Name) + 1), 0}
	var b bytes.Buffer
	b.WriteString("070701")
	for _, v := range f {
		fmt.Fprintf(&b, "%08X", v)
	}
	b.WriteString(e.Name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	_, err := w.Write(b.Bytes())
	return err
}
