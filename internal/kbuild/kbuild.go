// Package kbuild builds Linux kernels out of tree, small, cached and
// incrementally, for kcheck boot, kcheck bench and the bisect builds of
// kcheck build --each.
//
// # API
//
//	res, err := kbuild.Build(ctx, kbuild.Options{
//		Src:      "/path/to/linux",       // kernel source tree (required)
//		Fragment: "Kconfig.frag",         // merged on top of the base config
//		ExtraConfig: []string{"CONFIG_KASAN=y"},
//		Targets:  []string{"bzImage", "modules_prepare"},
//		W1:       true,                   // make W=1, warnings collected
//	})
//	// res.Image is the bzImage, res.Warnings the compiler warnings,
//	// res.Duration the wall time, res.Compiled the files compiled.
//
// Dir, the build directory (make O=), defaults to SRC/.kdefer-build-<key>,
// where the key is a hash of the architecture, the base config, the
// fragment text, ExtraConfig and W1: the same tree with the same
// configuration always builds in the same directory, so a second build
// only recompiles what changed. Builds in one directory are serialised
// with a lock file. The directory sits exactly one level below the
// source tree because kbuild then calls the source tree ".." and every
// compiler command holds relative paths only: another clone of the same
// sources gets the same commands, so ccache hits across clones (with the
// tree's absolute path in every command, a fresh clone rebuilt cold).
// kbuild writes a .gitignore of "*" into every build directory, so git
// does not see it. A tree that cannot be written builds in
// ${XDG_CACHE_HOME:-~/.cache}/kdefer/builds/<key with the tree's path>.
//
// # Configuration
//
// The base is `make tinyconfig` (Options.Base) with CONFIG_64BIT=y for
// x86_64; the fragment and ExtraConfig lines override it, then `make
// olddefconfig` resolves dependencies. Every option the fragment or
// ExtraConfig asked for is then checked in the final .config; one that
// Kconfig dropped is a *ConfigError naming it, its `depends on` line and
// which of the symbols there are not set. The configuration step is
// skipped when its inputs did not change since the last build.
//
// # Building
//
// make runs under nice -n 10 with -j from Options.Jobs (default
// runtime.NumCPU()), through ccache when it is installed (as "gcc" early
// in PATH, so that the recorded compiler command does not change). Progress
// (stage and number of files compiled, with the previous build's count
// as the estimate) goes to Options.Progress; the complete output goes to
// LogPath (default Dir/build.log). A failed build returns a *BuildError
// carrying the first compiler or linker error and the log path.
// Warnings ("file:line:col: warning: ... [-Wflag]") are parsed from the
// output into Result.Warnings; with W1 the extra W=1 warnings come too.
package kbuild

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kdefer/kdefer/internal/flock"
	"github.com/kdefer/kdefer/internal/kconfig"
	"github.com/kdefer/kdefer/internal/proc"
	"golang.org/x/sys/unix"

	"github.com/kdefer/kdefer/internal/cachedir"
)

// Options for Build.
type Options struct {
	Src      string // kernel source tree (required)
	Dir      string // build directory; default DefaultDir(Src, key)
	Fragment string // path of a Kconfig fragment; "" for none
	// FragmentText is fragment text used after Fragment (for a fragment
	// embedded in the binary).
	FragmentText string
	ExtraConfig  []string // more fragment lines, applied after Fragment
	Base         string   // base config target; default "tinyconfig"
	Arch         string   // "x86_64" (default), "i386", or a cross architecture of crossArch
	Jobs         int      // make -j; default runtime.NumCPU()
	W1           bool     // make W=1
	Targets      []string // make targets; default bzImage
	LogPath      string   // full make output; default Dir/build.log
	Nice         int      // niceness of make; default 10, -1 for none
	// Progress receives progress lines (stage, files compiled); nil is
	// silent.
	Progress func(format string, args ...any)
	// NoCCache disables ccache (cold-build measurements).
	NoCCache bool
	// Make is the make binary (tests); default "make".
	Make string
}

// ColdStamp is the file in a build directory that records the duration
// (milliseconds) and file count of its first full build: "MS FILES".
const ColdStamp = ".kdefer-cold"

// Result of a successful build.
type Result struct {
	Dir      string
	Key      string
	Image    string // the kernel image of the targets (imagePath), empty if they make none
	Config   string // Dir/.config
	LogPath  string
	Duration time.Duration
	Compiled int  // files compiled (CC lines) in this build
	Reconfig bool // the configuration step ran
	Warnings []Warning
}

// Warning is one compiler warning.
type Warning struct {
	File    string `json:"file"` // relative to Src when inside it
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	Flag    string `json:"flag,omitempty"` // e.g. -Wmissing-prototypes
}

func (w Warning) String() string {
	s := fmt.Sprintf("%s:%d:%d: warning: %s", w.File, w.Line, w.Col, w.Message)
	if w.Flag != "" {
		s += " [" + w.Flag + "]"
	}
	return s
}

// WarningsByFile groups Result.Warnings by file.
func (r *Result) WarningsByFile() map[string][]Warning {
	m := map[string][]Warning{}
	for _, w := range r.Warnings {
		m[w.File] = append(m[w.File], w)
	}
	return m
}

// BuildError is a failed make run.
type BuildError struct {
	FirstError string // the first error line with a little context
	LogPath    string
	ExitCode   int
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("kernel build failed:\n%s\nfull log: %s", e.FirstError, e.LogPath)
}

// Dropped is an option Kconfig did not keep (see internal/kconfig).
type Dropped = kconfig.Dropped

// ConfigError lists requested options that olddefconfig dropped.
type ConfigError struct {
	Dropped []Dropped
	Config  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requested config option(s) did not survive olddefconfig (%s):", len(e.Dropped), e.Config)
	for _, d := range e.Dropped {
		fmt.Fprintf(&b, "\n  %s: wanted %s, got %s", d.Option, d.Want, d.Got)
		if d.Where != "" {
			fmt.Fprintf(&b, " (%s)", d.Where)
		}
		if d.Depends != "" {
			fmt.Fprintf(&b, "; depends on %s", d.Depends)
		}
		if len(d.Unmet) > 0 {
			fmt.Fprintf(&b, "; not set: %s", strings.Join(d.Unmet, ", "))
		}
	}
	return b.String()
}

// DefaultDir is the build directory of a configuration (its Key) in the
// source tree src: src/.kdefer-build-<key> when src can be written, else
// a directory in the kdefer cache keyed by src's path too.
func DefaultDir(src, key string) string {
	if unix.Access(src, unix.W_OK) == nil {
		return filepath.Join(src, ".kdefer-build-"+key)
	}
	h := sha256.Sum256([]byte(src))
	return filepath.Join(cachedir.Dir(), "builds", key+"-"+hex.EncodeToString(h[:4]))
}

// Key returns the cache key of o (see the package documentation).
func Key(o Options) (string, error) {
	o = defaults(o)
	frag, err := fragmentText(o)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "arch=%s\nbase=%s\nw1=%v\n%s", o.Arch, o.Base, o.W1, frag)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func defaults(o Options) Options {
	if o.Base == "" {
		o.Base = "tinyconfig"
	}
	if o.Arch == "" {
		o.Arch = "x86_64"
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if len(o.Targets) == 0 {
		o.Targets = []string{"bzImage"}
	}
	if o.Nice == 0 {
		o.Nice = 10
	}
	if o.Make == "" {
		o.Make = "make"
	}
	return o
}

// fragmentText is the effective fragment: base additions, the fragment
// file, then ExtraConfig.
func fragmentText(o Options) (string, error) {
	var b strings.Builder
	if o.Arch == "x86_64" {
		b.WriteString("CONFIG_64BIT=y\n")
	} else if o.Arch == "i386" {
		b.WriteString("# CONFIG_64BIT is not set\n")
	}
	if o.Fragment != "" {
		data, err := os.ReadFile(o.Fragment)
		if err != nil {
			return "", fmt.Errorf("kbuild: config fragment: %w", err)
		}
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	if o.FragmentText != "" {
		b.WriteString(strings.TrimRight(o.FragmentText, "\n") + "\n")
	}
	for _, l := range o.ExtraConfig {
		b.WriteString(strings.TrimSpace(l) + "\n")
	}
	return b.String(), nil
}

// Build configures (when needed) and builds the kernel; see the package
// documentation.
func Build(ctx context.Context, o Options) (*Result, error) {
	o = defaults(o)
	if o.Src == "" {
		return nil, errors.New("kbuild: no kernel source tree given")
	}
	src, err := filepath.Abs(o.Src)
	if err != nil {
		return nil, err
	}
	o.Src = src
	if _, err := os.Stat(filepath.Join(src, "Makefile")); err != nil {
		return nil, fmt.Errorf("kbuild: %s is not a kernel source tree (no Makefile)", src)
	}
	key, err := Key(o)
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		o.Dir = DefaultDir(src, key)
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	if o.LogPath == "" {
		o.LogPath = filepath.Join(o.Dir, "build.log")
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	unlock, err := lock(ctx, filepath.Join(o.Dir, ".kdefer.lock"), progress)
	if err != nil {
		return nil, err
	}
	defer unlock()

	start := time.Now()
	res := &Result{Dir: o.Dir, Key: key, Config: filepath.Join(o.Dir, ".config"), LogPath: o.LogPath}
	logf, err := os.Create(o.LogPath)
	if err != nil {
		return nil, fmt.Errorf("kbuild: build log: %w", err)
	}
	defer logf.Close()

	frag, _ := fragmentText(o)
	want, err := kconfig.Parse(frag)
	if err != nil {
		return nil, fmt.Errorf("kbuild: config fragment %s: %w", o.Fragment, err)
	}
	stamp := filepath.Join(o.Dir, ".kdefer-config-input")
	input := fmt.Sprintf("base=%s arch=%s\n%s", o.Base, o.Arch, frag)
	old, _ := os.ReadFile(stamp)
	if _, err := os.Stat(res.Config); err != nil || string(old) != input {
		progress("build: configuring (%s + %d options) in %s", o.Base, len(want.Order), o.Dir)
		os.Remove(stamp)
		if err := runMake(ctx, o, logf, nil, o.Base); err != nil {
			return nil, err
		}
		cfg, err := os.ReadFile(res.Config)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(res.Config, []byte(kconfig.Merge(string(cfg), want)), 0o644); err != nil {
			return nil, err
		}
		if err := runMake(ctx, o, logf, nil, "olddefconfig"); err != nil {
			return nil, err
		}
		res.Reconfig = true
	}
	if err := verify(o, res.Config, want, progress); err != nil {
		return nil, err
	}
	if res.Reconfig {
		if err := os.WriteFile(stamp, []byte(input), 0o644); err != nil {
			return nil, err
		}
	}

	// The estimate is the largest number of files one build of this
	// directory ever compiled: the size of a cold build. It is shown only
	// when this build is cold too (no vmlinux yet); an incremental
	// build's size is not known in advance.
	countFile := filepath.Join(o.Dir, ".kdefer-full-count")
	full := 0
	if b, err := os.ReadFile(countFile); err == nil {
		full, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	estimate := 0
	if _, err := os.Stat(filepath.Join(o.Dir, "vmlinux")); err != nil {
		estimate = full
	}
	mon := newMonitor(progress, estimate, o.Src)
	progress("build: make -j%d %s (log: %s)", o.Jobs, strings.Join(o.Targets, " "), o.LogPath)
	err = runMake(ctx, o, logf, mon, o.Targets...)
	mon.stop()
	res.Compiled = mon.compiled
	res.Warnings = mon.warnings
	res.Duration = time.Since(start)
	if err != nil {
		return res, err
	}
	if mon.compiled > full {
		os.WriteFile(countFile, []byte(strconv.Itoa(mon.compiled)), 0o644)
	}
	if mon.compiled > 0 && res.Reconfig {
		// A build right after (re)configuring is the cold build of this
		// directory: kcheck bench reports it.
		os.WriteFile(filepath.Join(o.Dir, ColdStamp), []byte(fmt.Sprintf("%d %d\n", res.Duration.Milliseconds(), mon.compiled)), 0o644)
	}
	for _, t := range o.Targets {
		if img := imagePath(o, t); img != "" {
			if _, err := os.Stat(img); err != nil {
				return res, fmt.Errorf("kbuild: make succeeded but %s is missing", img)
			}
			res.Image = img
		}
	}
	progress("build: done in %s, %d files compiled, %d warnings", res.Duration.Round(100*time.Millisecond), res.Compiled, len(res.Warnings))
	return res, nil
}

// verify checks that the final configuration holds every option of the
// fragment; the dropped ones are explained from the tree's Kconfig.
func verify(o Options, config string, want *kconfig.Config, progress func(string, ...any)) error {
	got, err := kconfig.ParseFile(config)
	if err != nil {
		return fmt.Errorf("kbuild: %w", err)
	}
	dropped := kconfig.Compare(got, want)
	if len(dropped) == 0 {
		return nil
	}
	arch := o.Arch
	if arch == "x86_64" || arch == "i386" {
		arch = "x86"
	}
	if err := kconfig.Explain(o.Src, arch, got, dropped); err != nil {
		// The list of dropped options is the error; why is a bonus.
		progress("build: cannot explain the dropped options: %v", err)
	}
	return &ConfigError{Dropped: dropped, Config: config}
}

// crossArch are the architectures built with a Debian cross compiler
// (gcc-aarch64-linux-gnu, gcc-riscv64-linux-gnu,
// gcc-arm-linux-gnueabihf, gcc-powerpc64le-linux-gnu; Debian's ccache
// has their names too), each with its compiler prefix.
var crossArch = map[string]string{
	"arm64":   "aarch64-linux-gnu-",
	"riscv":   "riscv64-linux-gnu-",
	"arm":     "arm-linux-gnueabihf-",
	"powerpc": "powerpc64le-linux-gnu-",
}

// imagePath is the kernel image that make target t leaves in the build
// directory, or "" when t makes none: bzImage (x86), Image (arm64,
// riscv), zImage (arm) under arch/ARCH/boot, and vmlinux itself (the ELF
// file that QEMU's pseries machine boots). "all" is the architecture's
// default image: bzImage on x86, Image on arm64 and riscv, zImage on
// arm, vmlinux on powerpc.
func imagePath(o Options, t string) string {
	arch := o.Arch
	if arch == "x86_64" || arch == "i386" {
		arch = "x86"
	}
	if t == "all" {
		t = map[string]string{"x86": "bzImage", "arm": "zImage", "powerpc": "vmlinux"}[arch]
		if t == "" {
			t = "Image"
		}
	}
	switch t {
	case "bzImage", "Image", "zImage":
		return filepath.Join(o.Dir, "arch", arch, "boot", t)
	case "vmlinux":
		return filepath.Join(o.Dir, "vmlinux")
	}
	return ""
}

// runMake runs make in the source tree with O=Dir, copying all output
// to logf and, when mon is set, to the progress monitor.
func runMake(ctx context.Context, o Options, logf io.Writer, mon *monitor, targets ...string) error {
	args := []string{"-C", o.Src, "O=" + o.Dir, "ARCH=" + o.Arch, "-j" + strconv.Itoa(o.Jobs)}
	if cross, ok := crossArch[o.Arch]; ok {
		args = append(args, "CROSS_COMPILE="+cross)
	}
	if o.W1 {
		args = append(args, "W=1")
	}
	args = append(args, targets...)
	name := o.Make
	if o.Nice > 0 {
		if nice, err := exec.LookPath("nice"); err == nil {
			args = append([]string{"-n", strconv.Itoa(o.Nice), o.Make}, args...)
			name = nice
		}
	}
	cmd := proc.Command(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if dir := ccacheDir(o); dir != "" {
		// ccache masquerades as gcc from a directory early in PATH, so
		// the compiler command kbuild records stays "gcc" and installing
		// or removing ccache never forces a full rebuild.
		cmd.Env = append(cmd.Env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	fmt.Fprintf(logf, "$ %s %s\n", name, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kbuild: running make: %w", err)
	}
	done := make(chan struct{})
	var first firstError
	toSrc := srcRelative(o.Src, o.Dir)
	go func() {
		defer close(done)
		br := bufio.NewReaderSize(pr, 64*1024)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				logf.Write([]byte(line))
				l := toSrc(strings.TrimRight(line, "\n"))
				first.feed(l)
				if mon != nil {
					mon.line(l)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait(); pw.Close() }()
	// Ending ctx kills make's whole process group (internal/proc).
	err := <-waitc
	<-done
	if ctx.Err() != nil {
		return fmt.Errorf("kbuild: make %s interrupted: %w", strings.Join(targets, " "), ctx.Err())
	}
	if err != nil {
		be := &BuildError{FirstError: first.text(), ExitCode: cmd.ProcessState.ExitCode()}
		if lf, ok := logf.(*os.File); ok {
			be.LogPath = lf.Name()
		}
		if be.FirstError == "" {
			be.FirstError = "make " + strings.Join(targets, " ") + ": " + err.Error()
		}
		return be
	}
	return nil
}

var (
	reError   = regexp.MustCompile(`(: error: |: fatal error: |undefined reference to |: multiple definition of |^ld(\.\w+)?: |^Error: |\*\*\* No rule to make target)`)
	reMakeErr = regexp.MustCompile(`^make(\[\d+\])?: \*\*\* `)
	reWarn    = regexp.MustCompile(`^(.+?):(\d+):(\d+): warning: (.*?)(?: \[(-W[^\]]+)\])?$`)
	reCC      = regexp.MustCompile(`^\s+(CC|CC \[M\]|AS|AS \[M\])\s+(\S+)`)
	reStage   = regexp.MustCompile(`^\s+(LD|AR|OBJCOPY|BUILD|KSYMS|SYSMAP|MODPOST|HOSTCC|SYNC|UPD|GEN|WRAP|CALL)\s+(\S+)`)
)

// srcRelative returns a function that rewrites the file names in a line
// of make output to names relative to the source tree. With the build
// directory inside the tree (src/.kdefer-build-KEY), kbuild's srctree is
// ".." and the compiler prints "../kernel/exit.c:947:5: error: ..."; the
// errors, warnings and locations kcheck reports name "kernel/exit.c".
// Build directories elsewhere print absolute names, left as they are.
func srcRelative(src, dir string) func(string) string {
	rel, err := filepath.Rel(dir, src)
	if err != nil || rel == "." || strings.Trim(strings.ReplaceAll(rel, "..", ""), "/") != "" {
		return func(l string) string { return l }
	}
	re := regexp.MustCompile(`(^|[\s'"(])` + regexp.QuoteMeta(rel+"/") + `([\w+-])`)
	return func(l string) string {
		if !strings.Contains(l, rel+"/") {
			return l
		}
		return re.ReplaceAllString(l, "$1$2")
	}
}

// firstError keeps the first error line of a make run with the lines
// around it ("In function" before it, the code excerpt after it).
type firstError struct {
	mu      sync.Mutex
	prev    string
	lines   []string
	after   int
	makeErr string
}

func (f *firstError) feed(l string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case len(f.lines) == 0 && reError.MatchString(l):
		if strings.Contains(f.prev, "In function") || strings.Contains(f.prev, "In file included") {
			f.lines = append(f.lines, f.prev)
		}
		f.lines = append(f.lines, l)
		f.after = 4
	case f.after > 0:
		if reMakeErr.MatchString(l) || reCC.MatchString(l) {
			f.after = 0
		} else {
			f.lines = append(f.lines, l)
			f.after--
		}
	}
	if f.makeErr == "" && reMakeErr.MatchString(l) {
		f.makeErr = l
	}
	f.prev = l
}

func (f *firstError) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lines) > 0 {
		return strings.Join(f.lines, "\n")
	}
	return f.makeErr
}

// monitor turns make output into progress lines and warnings.
type monitor struct {
	mu       sync.Mutex
	progress func(string, ...any)
	estimate int
	src      string
	compiled int
	stage    string
	last     string
	warnings []Warning
	seen     map[string]bool
	tick     *time.Ticker
	quit     chan struct{}
}

func newMonitor(progress func(string, ...any), estimate int, src string) *monitor {
	m := &monitor{progress: progress, estimate: estimate, src: src, stage: "prepare",
		seen: map[string]bool{}, tick: time.NewTicker(5 * time.Second), quit: make(chan struct{})}
	go func() {
		for {
			select {
			case <-m.tick.C:
				m.report()
			case <-m.quit:
				return
			}
		}
	}()
	return m
}

func (m *monitor) stop() { m.tick.Stop(); close(m.quit) }

func (m *monitor) report() {
	m.mu.Lock()
	defer m.mu.Unlock()
	est := ""
	if m.estimate > 0 && m.compiled <= m.estimate {
		est = fmt.Sprintf("/~%d", m.estimate)
	}
	last := ""
	if m.last != "" {
		last = " (last: " + m.last + ")"
	}
	m.progress("build: %s: %d%s files compiled%s", m.stage, m.compiled, est, last)
}

func (m *monitor) line(l string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := reCC.FindStringSubmatch(l); s != nil {
		m.compiled++
		m.last = s[2]
		m.stage = "compile"
		return
	}
	if s := reStage.FindStringSubmatch(l); s != nil {
		// Only compiled files are "last": a stage line names a script or
		// an image, which the stage already says.
		switch {
		case s[1] == "LD" && strings.HasPrefix(s[2], "vmlinux"), s[1] == "KSYMS", s[1] == "SYSMAP":
			m.stage = "link"
		case s[1] == "BUILD" || s[1] == "OBJCOPY" && strings.Contains(s[2], "boot"):
			m.stage = "image"
		case s[1] == "MODPOST":
			m.stage = "modpost"
		}
		return
	}
	if w := reWarn.FindStringSubmatch(l); w != nil {
		// Lines come through srcRelative: a file of the tree is named
		// relative to it, or absolutely when the build directory is
		// outside the tree; anything else is kept as printed.
		file := filepath.Clean(w[1])
		if rel, err := filepath.Rel(m.src, file); err == nil && filepath.IsAbs(file) && !strings.HasPrefix(rel, "..") {
			file = rel
		}
		ln, _ := strconv.Atoi(w[2])
		col, _ := strconv.Atoi(w[3])
		warn := Warning{File: file, Line: ln, Col: col, Message: w[4], Flag: w[5]}
		if k := warn.String(); !m.seen[k] {
			m.seen[k] = true
			m.warnings = append(m.warnings, warn)
		}
	}
}

// ccacheDir returns a directory whose "gcc" runs ccache, or "" when
// ccache is not installed or disabled.
func ccacheDir(o Options) string {
	if o.NoCCache {
		return ""
	}
	cc, err := exec.LookPath("ccache")
	if err != nil {
		return ""
	}
	if fi, err := os.Stat("/usr/lib/ccache/gcc"); err == nil && !fi.IsDir() {
		return "/usr/lib/ccache"
	}
	dir := filepath.Join(o.Dir, ".kdefer-ccache")
	os.MkdirAll(dir, 0o755)
	link := filepath.Join(dir, "gcc")
	if t, err := os.Readlink(link); err != nil || t != cc {
		os.Remove(link)
		if err := os.Symlink(cc, link); err != nil {
			return ""
		}
	}
	return dir
}

// lock takes the build directory's lock, with a progress line while
// another build holds it.
func lock(ctx context.Context, path string, progress func(string, ...any)) (func(), error) {
	unlock, err := flock.Lock(ctx, path, func() { progress("build: waiting for another build in %s", filepath.Dir(path)) })
	if err != nil {
		return nil, fmt.Errorf("kbuild: %w", err)
	}
	return unlock, nil
}
