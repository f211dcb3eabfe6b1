package selftest

import (
	"context"
	"os"
	"path/filepath"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/perftool"
)

// Names of the perftool suite's files inside the initramfs.
const (
	// PerfToolName is the perftool suite (qemu-tests/perftool), run by
	// the driver: it runs the real perf tool against the kernel.
	PerfToolName = "bin/perf-tool-selftest"
	// PerfBinName is the static upstream perf (internal/perftool).
	PerfBinName = "bin/perf"
	// PerfWorkloadName is the profiled program with a known call chain.
	PerfWorkloadName = "bin/perf-workload"
	// PerfWorkloadSFrameName is the same program built -O2 without frame
	// pointers and with an SFrame section (buildSFrame, the SFrame
	// toolchain); the suite's sframe cases record it. Same base name, so
	// the same comm.
	PerfWorkloadSFrameName = "bin/sframe/perf-workload"
	// PerfToolWhy holds the reason when perf could not be built; the
	// suite then skips itself with it.
	PerfToolWhy = "etc/perf-tool-selftest.why"
)

// buildPerfTool builds the perftool suite: the suite program, the
// workload (checked to keep every frame) and the static perf of a Linux
// 7.x tree (the tree under test when its perf knows deferred callchains,
// else the newest cached one). When perf cannot be had, the suite is
// still shipped, with the reason, and skips itself in the guest.
// KDEFER_PERFTOOL=0 leaves perf out (the suite is skipped).
func buildPerfTool(ctx context.Context, o Options, src string) []Artifact {
	suite, err := buildUser(ctx, o, src, "perf-tool-selftest", DriverCFlags,
		[]string{"perftool/perf-tool-selftest.c"}, nil)
	if err != nil {
		o.progress("selftest: the perftool suite is left out: %v", err)
		return nil
	}
	arts := []Artifact{{Name: PerfToolName, Mode: 0o755, Data: suite}}
	why := func(reason string) []Artifact {
		o.progress("selftest: the perftool suite will be skipped: %s", reason)
		return append(arts, Artifact{Name: PerfToolWhy, Mode: 0o644, Data: []byte(reason + "\n")})
	}
	if os.Getenv("KDEFER_PERFTOOL") == "0" {
		return why("KDEFER_PERFTOOL=0: the perf tool was not built")
	}
	wl, err := buildUser(ctx, o, src, "perf-workload", perftool.WorkloadCFlags,
		[]string{"perftool/perf-workload.c"}, nil)
	if err != nil {
		return why("the workload did not build: " + lines.First(err.Error()))
	}
	if err := perftool.CheckFramePointers(filepath.Join(o.Work, "perf-workload"),
		append(append([]string{}, perftool.WorkloadChain...), perftool.DeepChain...)); err != nil {
		return why("the workload lost a frame pointer: " + lines.First(err.Error()))
	}
	tree, err := perftool.FindTree("", o.Src)
	if err != nil {
		return why(lines.First(err.Error()))
	}
	res, err := perftool.Build(ctx, perftool.Options{Tree: tree, Progress: o.Progress})
	if err != nil {
		return why("no static perf: " + lines.First(err.Error()))
	}
	bin, err := os.ReadFile(res.Binary)
	if err != nil {
		return why(lines.First(err.Error()))
	}
	if res.Cached {
		o.progress("selftest: perf %s from the cache (%s)", res.Version, res.Binary)
	}
	return append(arts,
		Artifact{Name: PerfWorkloadName, Mode: 0o755, Data: wl},
		Artifact{Name: PerfBinName, Mode: 0o755, Data: bin})
}
