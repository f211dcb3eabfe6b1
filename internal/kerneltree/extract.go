package kerneltree

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// UseXZBinary selects how the inner .tar.xz is decompressed. The xz
// binary (xz-utils, always present with dpkg) decompresses Debian's
// multi-block tarballs on all cores: 10 s for linux-source-6.12 on this
// 2-core machine against 23 s for the pure-Go github.com/ulikunitz/xz,
// which is the fallback when no xz is on PATH. Tests flip it to cover both.
var UseXZBinary = true

// extractResult describes an extracted tree.
type extractResult struct {
	Files         int   // regular files, symlinks and hard links: what git tracks
	Dirs          int   // directories
	Bytes         int64 // bytes of regular files written
	MakefileMtime int64 // the top-level Makefile's mtime in the tarball (Unix seconds)
	Tarball       string
}

var innerTarRE = regexp.MustCompile(`^usr/src/linux-source-[^/]+\.tar\.xz$`)

// DamagedDebError is a .deb that dpkg-deb could not read (a truncated or
// corrupt download): Get removes a downloaded one so that the next run
// fetches it again.
type DamagedDebError struct {
	Deb    string
	Detail string // dpkg-deb's first line of complaint
}

func (e *DamagedDebError) Error() string {
	return fmt.Sprintf("dpkg-deb --fsys-tarfile %s failed: %s", e.Deb, e.Detail)
}

// extractDeb streams the data of a linux-source .deb through
// dpkg-deb --fsys-tarfile, finds usr/src/linux-source-*.tar.xz and unpacks
// it into dst (created, must not exist), stripping the tarball's top-level
// directory. On error dst may hold a partial tree: the caller removes it.
func extractDeb(ctx context.Context, deb, dst string, progress func(string, ...any)) (extractResult, error) {
	var res extractResult
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := proc.Command(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := c.Start(); err != nil {
		return res, fmt.Errorf("running dpkg-deb: %w (is dpkg installed? see kcheck doctor)", err)
	}
	waitDeb := func() error {
		if err := c.Wait(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &DamagedDebError{Deb: deb, Detail: firstLine(stderr.String(), err)}
		}
		return nil
	}
	outer := tar.NewReader(bufio.NewReaderSize(out, 1<<20))
	found := false
	for {
		h, err := outer.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cancel()
			werr := waitDeb()
			if werr != nil && !errors.Is(werr, context.Canceled) {
				return res, werr
			}
			return res, fmt.Errorf("reading the data of %s: %w", deb, err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if !innerTarRE.MatchString(name) {
			continue
		}
		found = true
		res.Tarball = name
		if err := os.Mkdir(dst, 0o755); err != nil {
			cancel()
			waitDeb()
			return res, fmt.Errorf("creating %s: %w", dst, err)
		}
		pr := &countReader{r: outer}
		rep := newReporter(progress, path.Base(name), h.Size, pr, &res)
		err = extractXZTar(ctx, pr, dst, &res, rep.tick)
		if err != nil {
			cancel()
			waitDeb()
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				return res, err
			}
			return res, err
		}
		rep.done()
	}
	io.Copy(io.Discard, out)
	if err := waitDeb(); err != nil {
		return res, err
	}
	if !found {
		return res, fmt.Errorf("%s holds no usr/src/linux-source-*.tar.xz: not a Debian linux-source package", deb)
	}
	return res, nil
}

func firstLine(s string, err error) string {
	if l := lines.First(s); l != "" {
		return l
	}
	return err.Error()
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type reporter struct {
	progress func(string, ...any)
	name     string
	total    int64
	cr       *countReader
	res      *extractResult
	last     time.Time
	lastPct  int64
	start    time.Time
}

func newReporter(p func(string, ...any), name string, total int64, cr *countReader, res *extractResult) *reporter {
	return &reporter{progress: p, name: name, total: total, cr: cr, res: res, start: time.Now(), last: time.Now()}
}

func (r *reporter) line() {
	pct := int64(100)
	if r.total > 0 {
		pct = r.cr.n * 100 / r.total
	}
	r.progress("extracting %s: %3d%% (%s of %s compressed read, %d files, %s written)",
		r.name, pct, mb(r.cr.n), mb(r.total), r.res.Files, mb(r.res.Bytes))
	r.lastPct = pct
	r.last = time.Now()
}

func (r *reporter) tick() {
	if r.res.Files%256 != 0 {
		return
	}
	pct := int64(0)
	if r.total > 0 {
		pct = r.cr.n * 100 / r.total
	}
	if pct-r.lastPct >= 10 || time.Since(r.last) > 3*time.Second {
		r.line()
	}
}

func (r *reporter) done() {
	r.line()
	r.progress("extracted %d files (%s) in %.1f s", r.res.Files, mb(r.res.Bytes), time.Since(r.start).Seconds())
}

// xzReader decompresses r, with the xz binary or in Go (see UseXZBinary).
func xzReader(ctx context.Context, r io.Reader) (io.Reader, func() error, error) {
	if UseXZBinary {
		if bin, err := exec.LookPath("xz"); err == nil {
			c := proc.Command(ctx, bin, "-dc", "-T0")
			c.Stdin = r
			var stderr bytes.Buffer
			c.Stderr = &stderr
			out, err := c.StdoutPipe()
			if err != nil {
				return nil, nil, err
			}
			if err := c.Start(); err != nil {
				return nil, nil, fmt.Errorf("running xz: %w", err)
			}
			wait := func() error {
				io.Copy(io.Discard, out)
				if err := c.Wait(); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return fmt.Errorf("xz -d failed: %s", firstLine(stderr.String(), err))
				}
				return nil
			}
			return bufio.NewReaderSize(out, 1<<20), wait, nil
		}
	}
	xr, err := xz.NewReader(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the xz stream: %w", err)
	}
	return xr, func() error { return nil }, nil
}

type dirMeta struct {
	path  string
	mode  os.FileMode
	mtime time.Time
}

// extractXZTar unpacks the xz-compressed tar r into dst, stripping the
// first path component of every entry.
func extractXZTar(ctx context.Context, r io.Reader, dst string, res *extractResult, tick func()) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	xr, wait, err := xzReader(ctx, r)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cancel()
			wait()
			return
		}
		err = wait()
	}()
	tr := tar.NewReader(xr)
	buf := make([]byte, 256<<10)
	symlinks := map[string]bool{}
	var dirs []dirMeta
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the kernel tarball: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		_, rel, ok := strings.Cut(name, "/")
		if !ok || rel == "" {
			continue // the top-level directory itself
		}
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("unsafe path %q in the kernel tarball", h.Name)
		}
		for p := path.Dir(rel); p != "."; p = path.Dir(p) {
			if symlinks[p] {
				return fmt.Errorf("tarball entry %q goes through the symlink %q", h.Name, p)
			}
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		perm := os.FileMode(h.Mode) & os.ModePerm
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return diskErr(dst, err)
			}
			dirs = append(dirs, dirMeta{target, perm, h.ModTime})
			res.Dirs++
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
			if os.IsNotExist(err) {
				if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
					f, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
				}
			}
			if err != nil {
				return diskErr(dst, err)
			}
			n, err := io.CopyBuffer(f, tr, buf)
			if err == nil {
				err = f.Chmod(perm) // the umask must not change the tarball's modes
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return diskErr(dst, err)
			}
			if err := os.Chtimes(target, h.ModTime, h.ModTime); err != nil {
				return diskErr(dst, err)
			}
			res.Bytes += n
			res.Files++
			if rel == "Makefile" {
				res.MakefileMtime = h.ModTime.Unix()
			}
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(target), 0o755)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return diskErr(dst, err)
			}
			symlinks[rel] = true
			res.Files++
		case tar.TypeLink:
			_, lrel, _ := strings.Cut(path.Clean(strings.TrimPrefix(h.Linkname, "./")), "/")
			if !filepath.IsLocal(lrel) {
				return fmt.Errorf("unsafe hard link %q -> %q in the kernel tarball", h.Name, h.Linkname)
			}
			os.MkdirAll(filepath.Dir(target), 0o755)
			if err := os.Link(filepath.Join(dst, filepath.FromSlash(lrel)), target); err != nil {
				return diskErr(dst, err)
			}
			res.Files++
		default:
			// Device nodes, fifos: a kernel tarball has none; skip.
		}
		tick()
	}
	// Directory modes and times last, deepest first, so that writing the
	// files did not disturb them.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i].path) > len(dirs[j].path) })
	for _, d := range dirs {
		if err := os.Chmod(d.path, d.mode|0o700); err != nil {
			return diskErr(dst, err)
		}
		os.Chtimes(d.path, d.mtime, d.mtime)
	}
	return nil
}

// diskErr makes "no space left on device" say where and what to do.
func diskErr(dst string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("disk full while extracting into %s: %w (free some space or set XDG_CACHE_HOME to a larger disk)", filepath.Dir(dst), err)
	}
	return err
}
