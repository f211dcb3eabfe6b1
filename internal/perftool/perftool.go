// Package perftool builds the upstream perf tool statically from a Linux
// 7.x tree's tools/perf, for the perftool suite of kcheck boot (the real
// `perf record --call-graph fp,defer` in the guest).
//
// The build is cached under <kdefer cache>/perf/<version>-<key>/, key =
// hash of the tree's version, the make flags and the compiler, like the
// kernel build: a rerun with the same tree and flags reuses the binary
// without running make. Inside, build/ is perf's O= directory (an
// interrupted build resumes there) and perf is the finished binary,
// written last and only after it was checked to be static, so its
// presence means a complete build. Concurrent runs serialise on a flock
// in the directory.
//
// The tree is only read: perf builds out of tree (O=).
package perftool

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kdefer/kdefer/internal/cachedir"
	"github.com/kdefer/kdefer/internal/flock"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/proc"
)

// MakeFlags build a minimal static perf: libelf (user symbols), zlib and
// zstd (libelf's own dependencies) and nothing else optional. perf
// record --call-graph fp,defer, perf script and perf report -D need no
// more. The dlfilter shared objects cannot be linked with -static, so
// only the perf binary itself is made (Build names the target).
var MakeFlags = []string{
	"LDFLAGS=-static",
	"WERROR=0",
	"NO_LIBPYTHON=1", "NO_LIBPERL=1", "NO_LIBTRACEEVENT=1", "NO_JEVENTS=1",
	"NO_LIBBPF=1", "NO_BPF_SKEL=1", "NO_LIBUNWIND=1", "NO_LIBDW=1",
	"NO_SLANG=1", "NO_GTK2=1", "NO_LIBNUMA=1", "NO_LIBCAP=1",
	"NO_BABELTRACE=1", "NO_LIBCRYPTO=1", "NO_SDT=1", "NO_LIBLLVM=1",
	"NO_DEMANGLE=1", "NO_CAPSTONE=1", "NO_LIBPFM4=1", "NO_AUXTRACE=1",
	"NO_LIBDEBUGINFOD=1", "NO_SHELLCHECK=1", "NO_RUST=1", "NO_JVMTI=1",
}

// Options of a build.
type Options struct {
	Tree     string // kernel source tree whose tools/perf is built (required)
	CacheDir string // kdefer cache; cachedir.Dir() if empty
	Jobs     int    // make -j; 2 if zero
	Progress func(format string, args ...any)
}

// Result is a ready perf binary.
type Result struct {
	Binary   string        // the static perf
	Dir      string        // its cache directory
	Version  string        // the tree's kernel version, e.g. "7.3.4"
	Cached   bool          // true when no make ran
	Duration time.Duration // the make run (0 when cached)
}

// Supports reports whether the perf tool of tree knows deferred
// callchains (`--call-graph fp,defer`, Linux 7.x).
func Supports(tree string) bool {
	data, err := os.ReadFile(filepath.Join(tree, "tools", "perf", "util", "callchain.c"))
	return err == nil && bytes.Contains(data, []byte(`"defer"`))
}

// FindTree picks the tree whose tools/perf is built: the first of prefer
// whose perf supports deferred callchains, else the newest cached Debian
// tree (kgen tree get) that does. KDEFER_PERF_TREE overrides both.
func FindTree(cacheDir string, prefer ...string) (string, error) {
	if t := os.Getenv("KDEFER_PERF_TREE"); t != "" {
		if !Supports(t) {
			return "", fmt.Errorf("KDEFER_PERF_TREE=%s: its tools/perf has no deferred callchains (--call-graph fp,defer needs Linux 7.x)", t)
		}
		return t, nil
	}
	for _, t := range prefer {
		if t != "" && Supports(t) {
			return t, nil
		}
	}
	if t := kerneltree.NewestWhere(cacheDir, func(tr kerneltree.Tree) bool { return Supports(tr.Path) }); t != "" {
		return t, nil
	}
	return "", errors.New("no kernel tree with a perf tool that knows deferred callchains (Linux 7.x) in the cache: run `kgen tree get 7`")
}

// Key is the cache key of a build: the tree version, the flags and the
// compiler.
func Key(version, cc string) string {
	h := sha256.New()
	fmt.Fprintln(h, version, cc, strings.Join(MakeFlags, " "))
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func ccVersion(ctx context.Context) string {
	out, err := proc.Output(proc.Command(ctx, "gcc", "--version"))
	if err != nil {
		return "gcc?"
	}
	s, _, _ := strings.Cut(string(out), "\n")
	return s
}

// Build returns the static perf of o.Tree, building it when the cache has
// none for this tree version, flags and compiler.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Tree == "" {
		return nil, errors.New("perftool: no tree")
	}
	if !Supports(o.Tree) {
		return nil, fmt.Errorf("perftool: %s/tools/perf has no deferred callchains (needs Linux 7.x)", o.Tree)
	}
	if o.CacheDir == "" {
		o.CacheDir = cachedir.Dir()
	}
	if o.Jobs <= 0 {
		o.Jobs = 2
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	v, err := probe.ReadVersion(probe.Dir(o.Tree))
	if err != nil {
		return nil, fmt.Errorf("perftool: %s: %w", o.Tree, err)
	}
	ver := v.String()
	dir := filepath.Join(o.CacheDir, "perf", ver+"-"+Key(ver, ccVersion(ctx)))
	res := &Result{Dir: dir, Version: ver, Binary: filepath.Join(dir, "perf")}
	if IsStatic(res.Binary) == nil {
		res.Cached = true
		return res, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("perftool: %w", err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(dir, ".lock"), func() {
		progress("perf: waiting for another run building %s", dir)
	})
	if err != nil {
		return nil, fmt.Errorf("perftool: %w", err)
	}
	defer unlock()
	if IsStatic(res.Binary) == nil {
		res.Cached = true
		return res, nil
	}
	for _, tool := range []string{"make", "gcc", "flex", "bison"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("perftool: %s not found: run `kcheck doctor --install`", tool)
		}
	}
	out := filepath.Join(dir, "build")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("perftool: %w", err)
	}
	logPath := filepath.Join(dir, "build.log")
	args := []string{"-C", filepath.Join(o.Tree, "tools", "perf"), "-f", "Makefile.perf",
		"O=" + out, fmt.Sprintf("-j%d", o.Jobs)}
	args = append(args, MakeFlags...)
	args = append(args, filepath.Join(out, "perf"))
	progress("perf: building a static perf from %s/tools/perf (Linux %s), make -j%d (log: %s)", o.Tree, ver, o.Jobs, logPath)
	start := time.Now()
	if err := runMake(ctx, logPath, args, progress); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	built := filepath.Join(out, "perf")
	if err := IsStatic(built); err != nil {
		return nil, fmt.Errorf("perftool: %w (build log: %s)", err, logPath)
	}
	data, err := os.ReadFile(built)
	if err != nil {
		return nil, fmt.Errorf("perftool: %w", err)
	}
	tmp := res.Binary + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return nil, fmt.Errorf("perftool: %w", err)
	}
	if err := os.Rename(tmp, res.Binary); err != nil {
		return nil, fmt.Errorf("perftool: %w", err)
	}
	progress("perf: built in %s: %s (%d KiB, static)", res.Duration.Round(time.Second), res.Binary, len(data)>>10)
	return res, nil
}

var reCC = regexp.MustCompile(`^\s+(CC|LD|LINK|AR|GEN|BISON|FLEX)\s+(\S+)`)

// runMake runs make with nice (other builds share the machine), the
// output in logPath, and a progress line every 10 s.
func runMake(ctx context.Context, logPath string, args []string, progress func(string, ...any)) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("perftool: %w", err)
	}
	defer logf.Close()
	name := "make"
	if _, err := exec.LookPath("nice"); err == nil {
		args = append([]string{"make"}, args...)
		name = "nice"
	}
	// Its own process group: an interrupt ends make and every compiler.
	cmd := proc.Command(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var mu sync.Mutex
	compiled, last := 0, ""
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			fmt.Fprintln(logf, l)
			mu.Lock()
			if m := reCC.FindStringSubmatch(l); m != nil {
				if m[1] == "CC" {
					compiled++
				}
				last = filepath.Base(m[2])
			}
			tail = append(tail, l)
			if len(tail) > 40 {
				tail = tail[1:]
			}
			mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		<-done
		return fmt.Errorf("perftool: make: %w", err)
	}
	tick := time.NewTicker(10 * time.Second)
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	var werr error
loop:
	for {
		select {
		case werr = <-waitc:
			break loop
		case <-tick.C:
			mu.Lock()
			if compiled == 0 {
				progress("perf: %s: detecting features", time.Since(start).Round(time.Second))
			} else {
				progress("perf: %s: %d files compiled (last: %s)", time.Since(start).Round(time.Second), compiled, last)
			}
			mu.Unlock()
		}
	}
	tick.Stop()
	pw.Close()
	<-done
	if werr != nil {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("perftool: make failed (%v): %s (full log: %s)", werr, firstError(tail), logPath)
	}
	return nil
}

func firstError(lines []string) string {
	for _, l := range lines {
		if strings.Contains(l, "error") || strings.Contains(l, "Error") {
			return strings.TrimSpace(l)
		}
	}
	if len(lines) == 0 {
		return "no output"
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// IsStatic returns nil when path is an ELF executable without a program
// interpreter and without dynamic section (what `file` calls "statically
// linked").
func IsStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (has a program interpreter)", path)
		}
		if p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("%s has a dynamic section: not a static executable", path)
		}
	}
	if f.Type != elf.ET_EXEC {
		return fmt.Errorf("%s is not a static executable (ELF type %v)", path, f.Type)
	}
	return nil
}
