// Package selftest builds the in-guest self-test artifacts of kcheck boot:
// the out-of-tree test module (built against a kernel build directory) and
// the static user-space driver that runs as /init, plus a freestanding
// 32-bit helper for the compat case when the compiler can produce one.
//
// The C sources live in qemu-tests/ and are embedded (package qemutests),
// so Build works from any directory and after `go install`.
package selftest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/proc"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
	"github.com/kdefer/kdefer/templates"
)

// Options say where the kernel is and where to work.
type Options struct {
	BuildDir string // kernel O= build directory, `make modules_prepare` done
	Src      string // kernel source tree
	Work     string // scratch directory for the module and driver builds
	// CC is the C compiler for the user-space programs; "gcc" if empty.
	CC string
	// Progress reports the slow steps (nil: quiet).
	Progress func(format string, args ...any)
}

func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(format, args...)
	}
}

// Artifact is one file to put into the initramfs.
type Artifact struct {
	Name string      // path inside the initramfs, e.g. "init", "lib/unwind_test.ko"
	Mode os.FileMode // permission bits
	Data []byte
}

// Names of the artifacts inside the initramfs (the driver expects them there).
const (
	InitName     = "init"
	ModuleName   = "lib/unwind_test.ko"
	Compat32Name = "bin/unwind-compat32"
	// PerfName is the perf suite (qemu-tests/perf), run by the driver.
	PerfName = "bin/perf-selftest"
	// Compat32Why holds the reason when no 32-bit helper could be built;
	// the driver quotes it in the compat case's SKIP line.
	Compat32Why = "etc/unwind-compat32.why"
)

// DriverCFlags are the flags of the static driver. Frame pointers and no
// sibling calls make the call chain the tests walk exact; no red zone keeps
// the hostile-%rbp syscall (it pushes below the stack pointer) safe.
var DriverCFlags = []string{
	"-static", "-O1", "-g", "-fno-omit-frame-pointer",
	"-fno-optimize-sibling-calls", "-mno-red-zone", "-Wall",
}

// Compat32CFlags build the freestanding i386 helper: no C library needed.
var Compat32CFlags = []string{
	"-m32", "-static", "-nostdlib", "-ffreestanding", "-fno-pic", "-no-pie",
	"-O1", "-fno-omit-frame-pointer", "-Wall",
}

// Build compiles the test module and the user-space driver and returns the
// files to place in the initramfs. It is incremental: sources are written
// only when they changed, kbuild rebuilds the module only when needed, and
// the user programs are rebuilt only when their sources or flags changed.
func Build(ctx context.Context, o Options) ([]Artifact, error) {
	if o.BuildDir == "" || o.Work == "" {
		return nil, errors.New("selftest.Build: BuildDir and Work must be set")
	}
	if o.CC == "" {
		o.CC = "gcc"
	}
	if _, err := os.Stat(filepath.Join(o.BuildDir, "Makefile")); err != nil {
		return nil, fmt.Errorf("selftest: %s is not a kernel build directory (no Makefile): build the kernel first", o.BuildDir)
	}
	src := filepath.Join(o.Work, "src")
	if err := prepareSources(src, o.Src); err != nil {
		return nil, err
	}
	mod, err := buildModule(ctx, o, filepath.Join(src, "module"))
	if err != nil {
		return nil, err
	}
	arts := []Artifact{{Name: ModuleName, Mode: 0o644, Data: mod}}

	initBin, err := buildUser(ctx, o, src, "init", DriverCFlags,
		[]string{"user/unwind-selftest.c"}, []string{"-lpthread"})
	if err != nil {
		return nil, err
	}
	arts = append(arts, Artifact{Name: InitName, Mode: 0o755, Data: initBin})

	c32, err := buildUser(ctx, o, src, "unwind-compat32", compat32Flags(ctx, o.CC),
		[]string{"user/compat32.c"}, nil)
	if err != nil {
		why := lines.First(err.Error())
		o.progress("selftest: no 32-bit helper, the compat case will be skipped: %s", why)
		arts = append(arts, Artifact{Name: Compat32Why, Mode: 0o644,
			Data: []byte("a 32-bit build failed on the build machine: " + why + "\n")})
	} else {
		arts = append(arts, Artifact{Name: Compat32Name, Mode: 0o755, Data: c32})
	}

	perf, err := buildUser(ctx, o, src, "perf-selftest", DriverCFlags,
		[]string{"perf/perf-selftest.c"}, []string{"-lpthread"})
	if err != nil {
		return nil, err
	}
	arts = append(arts, Artifact{Name: PerfName, Mode: 0o755, Data: perf})
	arts = append(arts, buildSFrame(ctx, o, src)...)
	arts = append(arts, buildPerfTool(ctx, o, src)...)
	return arts, nil
}

// ProbesHeaderName is the header, beside the module's sources, that says
// what the kernel tree offers (ProbesHeader).
const ProbesHeaderName = "kdefer_probes.h"

// ProbesHeader runs the series' probes (templates/probes.yaml) on the
// kernel source tree src and returns a C header with one
// "#define KDEFER_HAVE_<NAME> 1" per true boolean probe, so the test
// module and programs pick the kernel API (hrtimer_setup() or
// hrtimer_init(), ...) the way the series does. Without src (a build
// directory alone) every probe counts as false.
func ProbesHeader(src string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("/* SPDX-License-Identifier: GPL-2.0 */\n")
	b.WriteString("/* Generated by kcheck (internal/selftest) from templates/probes.yaml. */\n")
	b.WriteString("#ifndef KDEFER_PROBES_H\n#define KDEFER_PROBES_H\n")
	if src != "" {
		data, err := templates.FS.ReadFile("probes.yaml")
		if err != nil {
			return nil, fmt.Errorf("selftest: reading the embedded probes.yaml: %w", err)
		}
		defs, err := probe.Parse("probes.yaml", data)
		if err != nil {
			return nil, fmt.Errorf("selftest: %w", err)
		}
		res, err := probe.Run(src, probe.Dir(src), defs)
		if err != nil {
			return nil, fmt.Errorf("selftest: probing %s for the test module: %w", src, err)
		}
		fmt.Fprintf(&b, "/* %s, Linux %s */\n", src, res.Version)
		for _, r := range res.Probes {
			if r.Kind != "bool" {
				continue
			}
			name := "KDEFER_HAVE_" + strings.ToUpper(r.Name)
			if r.Bool {
				fmt.Fprintf(&b, "#define %s 1\n", name)
			} else {
				fmt.Fprintf(&b, "/* %s: no */\n", name)
			}
		}
	}
	b.WriteString("#endif\n")
	return b.Bytes(), nil
}

// prepareSources writes the embedded sources to dir and the probes
// header of the kernel tree kernelSrc ("" if unknown) beside the module.
func prepareSources(dir, kernelSrc string) error {
	if err := writeSources(dir); err != nil {
		return err
	}
	hdr, err := ProbesHeader(kernelSrc)
	if err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(dir, "module", ProbesHeaderName), hdr)
}

// writeIfChanged writes data to path unless it holds data already, so
// that make sees real changes only.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("selftest: writing %s: %w", path, err)
	}
	return nil
}

// compat32Flags adds the multiarch include directory: the kernel uapi
// headers (<asm/types.h>) live there and -m32 does not search it.
func compat32Flags(ctx context.Context, cc string) []string {
	flags := append([]string{}, Compat32CFlags...)
	out, err := proc.Command(ctx, cc, "-print-multiarch").Output()
	if ma := strings.TrimSpace(string(out)); err == nil && ma != "" {
		flags = append(flags, "-idirafter", filepath.Join("/usr/include", ma))
	}
	return flags
}

// writeSources copies the embedded sources to dir, rewriting only files
// whose content changed so that make and our stamps see real changes only.
func writeSources(dir string) error {
	return fs.WalkDir(qemutests.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := qemutests.FS.ReadFile(p)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
			return nil
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("selftest: writing sources: %w", err)
		}
		return nil
	})
}

func buildModule(ctx context.Context, o Options, dir string) ([]byte, error) {
	if _, err := os.Stat(filepath.Join(o.BuildDir, "Module.symvers")); err != nil {
		// modules_prepare does not write Module.symvers; `make modules` does,
		// and is cheap when the kernel itself is built.
		o.progress("selftest: %s has no Module.symvers, running make modules", o.BuildDir)
		args := []string{"-C", o.BuildDir, "modules"}
		if o.Src != "" {
			args = []string{"-C", o.Src, "O=" + o.BuildDir, "modules"}
		}
		if err := runLogged(ctx, filepath.Join(o.Work, "kernel-modules.log"), "make", args...); err != nil {
			return nil, err
		}
	}
	o.progress("selftest: building unwind_test.ko against %s", o.BuildDir)
	if err := runLogged(ctx, filepath.Join(o.Work, "module-build.log"), "make",
		"-C", o.BuildDir, "M="+dir, "modules"); err != nil {
		return nil, err
	}
	ko := filepath.Join(dir, "unwind_test.ko")
	data, err := os.ReadFile(ko)
	if err != nil {
		return nil, fmt.Errorf("selftest: module build produced no %s: %w", ko, err)
	}
	return data, nil
}

// The headers of qemu-tests that the user-space programs share, on their
// include path: SharedHeader, the leaf of a known chain and SFrame
// rebasing; PerfDeferHeader, perf's deferred callchain ABI and how to
// tell a kernel that lacks it.
const (
	SharedHeader    = "include/chain.h"
	PerfDeferHeader = "include/perf_defer.h"
)

// buildUser compiles one static program from src, skipping the compiler
// when a stamp of the sources and flags says the output is current.
func buildUser(ctx context.Context, o Options, src, out string, flags, files, libs []string) ([]byte, error) {
	h := sha256.New()
	fmt.Fprintln(h, o.CC, flags, files, libs)
	for _, f := range append(files, "module/unwind_test_uapi.h", "module/"+ProbesHeaderName, SharedHeader, PerfDeferHeader) {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return nil, err
		}
		h.Write(data)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	bin := filepath.Join(o.Work, out)
	stamp := bin + ".stamp"
	if old, err := os.ReadFile(stamp); err == nil && string(old) == sum {
		if data, err := os.ReadFile(bin); err == nil {
			return data, nil
		}
	}
	args := append([]string{}, flags...)
	args = append(args, "-I", filepath.Join(src, "module"), "-I", filepath.Join(src, filepath.Dir(SharedHeader)), "-o", bin)
	for _, f := range files {
		args = append(args, filepath.Join(src, f))
	}
	args = append(args, libs...)
	o.progress("selftest: compiling %s", out)
	if err := runLogged(ctx, bin+".log", o.CC, args...); err != nil {
		return nil, err
	}
	if err := os.WriteFile(stamp, []byte(sum), 0o644); err != nil {
		return nil, err
	}
	return os.ReadFile(bin)
}

// runLogged runs a command with its output in logPath; on failure the
// error quotes the first error line and names the log.
func runLogged(ctx context.Context, logPath, name string, args ...string) error {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	log, err := proc.CombinedOutput(proc.Command(ctx, name, args...))
	_ = os.WriteFile(logPath, log, 0o644)
	var pe *proc.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("selftest: %s %s failed (%v): %s (full log: %s)",
			name, strings.Join(args, " "), pe.Err, firstError(string(log)), logPath)
	}
	return nil
}

// firstError picks the first compiler/make error line of a build log.
func firstError(log string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "error") || strings.Contains(l, "ERROR") {
			return strings.TrimSpace(l)
		}
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
