package selftest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/toolchain"
)

// Names of the SFrame suite's files inside the initramfs.
const (
	// SFrameName is the SFrame suite (qemu-tests/sframe), run by the driver.
	SFrameName = "bin/sframe-selftest"
	// SFrameWhy holds the reason when the suite could not be built; the
	// driver reports the suite as skipped.
	SFrameWhy = "etc/sframe-selftest.why"
)

// sframeSources are compiled together into the SFrame suite.
var sframeSources = []string{"sframe/sframe-selftest.c", "module/unwind_test_uapi.h", SharedHeader, PerfDeferHeader}

// buildSFrame compiles, with the toolchain of package toolchain (a
// Debian root whose assembler writes SFrame version 2, set up on first
// use), the SFrame suite and the perftool suite's SFrame workload: -O2
// without frame pointers, with --gsframe, static. When no such toolchain
// can be had, it returns the suite's reason instead and both are left
// out (the suite and the perftool suite's sframe cases skip).
func buildSFrame(ctx context.Context, o Options, src string) []Artifact {
	tc, err := toolchain.Ensure(ctx, toolchain.Options{Progress: o.Progress})
	if err != nil {
		o.progress("selftest: no SFrame v2 toolchain, the sframe suite and the perftool suite's sframe cases will be skipped: %v", err)
		return []Artifact{{Name: SFrameWhy, Mode: 0o644, Data: []byte("no SFrame v2 toolchain on the build machine: " + lines.First(err.Error()) + "\n")}}
	}
	var arts []Artifact
	if bin, err := compileSFrame(ctx, o, tc, src); err != nil {
		o.progress("selftest: the sframe suite will be skipped: %v", err)
		arts = append(arts, Artifact{Name: SFrameWhy, Mode: 0o644, Data: []byte(lines.First(err.Error()) + "\n")})
	} else {
		arts = append(arts, Artifact{Name: SFrameName, Mode: 0o755, Data: bin})
	}
	flags := append(append([]string{}, toolchain.SFrameFlags...), "-Wall")
	if wl, err := compileWith(ctx, o, tc, src, "perf-workload-sframe", flags, []string{"perftool/perf-workload.c"}); err != nil {
		o.progress("selftest: the perftool suite's sframe cases will be skipped: %v", err)
	} else {
		arts = append(arts, Artifact{Name: PerfWorkloadSFrameName, Mode: 0o755, Data: wl})
	}
	return arts
}

// SFrameFlags are the flags of the SFrame suite.
var SFrameFlags = append(append([]string{}, toolchain.SFrameFlags...), "-pthread", "-Wall")

func compileSFrame(ctx context.Context, o Options, tc *toolchain.Toolchain, src string) ([]byte, error) {
	return compileWith(ctx, o, tc, src, "sframe-selftest", SFrameFlags, sframeSources)
}

// compileWith compiles sources (relative to src) into o.Work/name with
// the toolchain tc and flags, reusing the binary while the sources,
// flags and toolchain stay the same.
func compileWith(ctx context.Context, o Options, tc *toolchain.Toolchain, src, name string, flags, sources []string) ([]byte, error) {
	srcs := map[string][]byte{}
	h := sha256.New()
	fmt.Fprintln(h, tc.GCCVersion, tc.ASVersion, flags)
	for _, f := range sources {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return nil, err
		}
		h.Write(data)
		srcs[filepath.Base(f)] = data
	}
	sum := hex.EncodeToString(h.Sum(nil))
	bin := filepath.Join(o.Work, name)
	if old, err := os.ReadFile(bin + ".stamp"); err == nil && strings.TrimSpace(string(old)) == sum {
		if data, err := os.ReadFile(bin); err == nil {
			return data, nil
		}
	}
	o.progress("selftest: compiling %s with %s (%s)", name, tc.Suite, tc.ASVersion)
	data, err := tc.Compile(ctx, name, flags, srcs, nil)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		return nil, err
	}
	return data, os.WriteFile(bin+".stamp", []byte(sum), 0o644)
}
