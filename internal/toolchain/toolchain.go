// Package toolchain provides a C toolchain that writes SFrame version 2
// sections, for the in-guest SFrame self-tests.
//
// Debian 12's binutils (2.40) emits SFRAME_VERSION_1 for `as --gsframe`;
// the kernel's SFrame reader reads version 2 (binutils 2.41 and later).
// Ensure builds a minimal Debian root of a newer suite (trixie by default:
// gcc 14, binutils 2.44) with debootstrap from the machine's own Debian
// mirror, into ${XDG_CACHE_HOME:-~/.cache}/kdefer/toolchain/<suite>, and
// checks that its assembler really writes version 2. The root is used
// through chroot, only to compile the static guest programs; nothing of it
// touches the host's own toolchain.
//
// The root is built in <suite>.partial and renamed into place when it has
// passed the check, under a flock on toolchain/.lock, so two runs at once
// and an interrupted run are safe: a directory named after the suite is
// always complete.
package toolchain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/cachedir"
	"github.com/kdefer/kdefer/internal/debroot"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// DefaultSuite is the Debian suite whose gcc and binutils are used.
const DefaultSuite = "trixie"

// Packages are installed into the root besides the minimal base.
var Packages = []string{"gcc", "libc6-dev", "binutils"}

// Options say which suite and where; zero values give the defaults.
type Options struct {
	Suite    string // Debian suite; DefaultSuite if empty
	CacheDir string // kdefer cache; cachedir.Dir() if empty
	Mirror   string // Debian mirror URI; the machine's own if empty
	EtcApt   string // where the machine's apt sources are; /etc/apt if empty
	Progress func(format string, args ...any)
}

// Toolchain is a ready root.
type Toolchain struct {
	Root          string // the chroot directory
	Suite         string
	GCCVersion    string // first line of gcc --version
	ASVersion     string // first line of as --version
	SFrameVersion int    // what `as --gsframe` writes, checked with readelf
}

// SFrameFlags are the compiler flags of the guest programs that carry an
// SFrame section and no frame pointers.
var SFrameFlags = []string{"-O2", "-fomit-frame-pointer", "-Wa,--gsframe", "-static"}

// Ensure returns the toolchain of o.Suite, building it first when the
// cache has none. It needs root (debootstrap, chroot) and the debootstrap
// package; the error says what to install when it is missing.
func Ensure(ctx context.Context, o Options) (*Toolchain, error) {
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.CacheDir == "" {
		o.CacheDir = cachedir.Dir()
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	start := time.Now()
	var tc *Toolchain
	root, built, err := debroot.Ensure(ctx, debroot.Options{
		Dir: filepath.Join(o.CacheDir, "toolchain"), Suite: o.Suite, Include: Packages,
		Mirror: o.Mirror, EtcApt: o.EtcApt,
		// A root under the suite's name exists only once this check passed.
		Finish: func(tmp string) (err error) {
			tc, err = Inspect(ctx, tmp, o.Suite)
			return err
		},
		Progress: func(format string, args ...any) { o.Progress("toolchain: "+format, args...) },
	})
	if err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	if !built {
		return Inspect(ctx, root, o.Suite)
	}
	tc.Root = root
	o.Progress("toolchain: %s ready in %s: %s, %s, SFrame v%d", o.Suite,
		time.Since(start).Round(time.Second), tc.GCCVersion, tc.ASVersion, tc.SFrameVersion)
	return tc, nil
}

// Inspect checks a root: gcc and as run in it, and `as --gsframe` writes
// an SFrame section of version 2 or later.
func Inspect(ctx context.Context, root, suite string) (*Toolchain, error) {
	tc := &Toolchain{Root: root, Suite: suite}
	out, err := chroot(ctx, root, "gcc", "--version")
	if err != nil {
		return nil, fmt.Errorf("toolchain: gcc in %s: %w (remove the directory to rebuild it)", root, err)
	}
	tc.GCCVersion = lines.First(out)
	if out, err = chroot(ctx, root, "as", "--version"); err != nil {
		return nil, fmt.Errorf("toolchain: as in %s: %w", root, err)
	}
	tc.ASVersion = lines.First(out)
	probe := filepath.Join(root, "tmp", "kdefer-sframe-probe")
	if err := os.MkdirAll(probe, 0o755); err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	defer os.RemoveAll(probe)
	src := "int f(int x) { return x + 1; }\n"
	if err := os.WriteFile(filepath.Join(probe, "p.c"), []byte(src), 0o644); err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	in := "/tmp/kdefer-sframe-probe/"
	if _, err := chroot(ctx, root, "gcc", "-c", "-O2", "-Wa,--gsframe", "-o", in+"p.o", in+"p.c"); err != nil {
		return nil, fmt.Errorf("toolchain: compiling with --gsframe in %s: %w", root, err)
	}
	if out, err = chroot(ctx, root, "readelf", "--sframe", in+"p.o"); err != nil {
		return nil, fmt.Errorf("toolchain: readelf --sframe in %s: %w", root, err)
	}
	v, err := ParseSFrameVersion(out)
	if err != nil {
		return nil, fmt.Errorf("toolchain: %s: %w", root, err)
	}
	tc.SFrameVersion = v
	if v < 2 {
		return nil, fmt.Errorf("toolchain: %s (%s) writes SFrame version %d; the kernel reads version 2: use a newer suite (trixie or unstable)", root, tc.ASVersion, v)
	}
	return tc, nil
}

var sframeVersionRE = regexp.MustCompile(`Version:\s*SFRAME_VERSION_(\d+)`)

// ParseSFrameVersion finds the version in the output of readelf --sframe.
func ParseSFrameVersion(readelf string) (int, error) {
	m := sframeVersionRE.FindStringSubmatch(readelf)
	if m == nil {
		return 0, fmt.Errorf("no SFrame version in readelf --sframe output: %q", lines.First(readelf))
	}
	var v int
	fmt.Sscan(m[1], &v)
	return v, nil
}

// CC returns the command line prefix that compiles with the root's gcc.
// Paths given to it must be inside the root; see Compile.
func (tc *Toolchain) CC() []string { return []string{"chroot", tc.Root, "gcc"} }

// Compile builds one program with the root's gcc: srcs are copied into
// the root's scratch directory, compiled with flags, and the output is
// returned. The host paths never need to exist in the root.
func (tc *Toolchain) Compile(ctx context.Context, name string, flags []string, srcs map[string][]byte, libs []string) ([]byte, error) {
	scratch, err := os.MkdirTemp(filepath.Join(tc.Root, "tmp"), "kdefer-build-")
	if err != nil {
		return nil, fmt.Errorf("toolchain: %w", err)
	}
	defer os.RemoveAll(scratch)
	in := "/tmp/" + filepath.Base(scratch) + "/"
	args := append([]string{}, flags...)
	args = append(args, "-I", in, "-o", in+name)
	for n, data := range srcs {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(scratch, n)), 0o755); err != nil {
			return nil, fmt.Errorf("toolchain: %w", err)
		}
		if err := os.WriteFile(filepath.Join(scratch, n), data, 0o644); err != nil {
			return nil, fmt.Errorf("toolchain: %w", err)
		}
		if strings.HasSuffix(n, ".c") {
			args = append(args, in+n)
		}
	}
	args = append(args, libs...)
	if _, err := chroot(ctx, tc.Root, "gcc", args...); err != nil {
		return nil, fmt.Errorf("toolchain: compiling %s with %s: %w", name, tc.Suite, err)
	}
	return os.ReadFile(filepath.Join(scratch, name))
}

func chroot(ctx context.Context, root, prog string, args ...string) (string, error) {
	cmd := proc.Command(ctx, "chroot", append([]string{root, prog}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}
	out, err := proc.CombinedOutput(cmd)
	var pe *proc.Error
	if errors.As(err, &pe) {
		return string(out), fmt.Errorf("%s %s: %v: %s", prog, strings.Join(args, " "), pe.Err, lines.Last(string(out), 1))
	}
	return string(out), nil
}
