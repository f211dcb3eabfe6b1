package perftool_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/perftool"
	"github.com/kdefer/kdefer/internal/testkit"
)

// TestE2EBuildStaticPerf builds perf from the cached (or fetched) Linux
// 7.x tree, checks that it is static and runs, and that a second Build
// comes from the cache without make.
func TestE2EBuildStaticPerf(t *testing.T) {
	tree := e2e.Tree(t, "7")
	ctx := context.Background()
	res, err := perftool.Build(ctx, perftool.Options{Tree: tree, Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("perf %s: %s (cached %v, build %s)", res.Version, res.Binary, res.Cached, res.Duration.Round(time.Second))
	if err := perftool.IsStatic(res.Binary); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("file", res.Binary).CombinedOutput(); err == nil && !strings.Contains(string(out), "statically linked") {
		t.Fatalf("file: %s", out)
	}
	out, err := exec.Command(res.Binary, "version", "--build-options").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "perf version "+res.Version) {
		t.Fatalf("perf version: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "libelf: [ on") {
		t.Fatalf("perf without libelf cannot resolve user symbols:\n%s", out)
	}
	again, err := perftool.Build(ctx, perftool.Options{Tree: tree})
	if err != nil || !again.Cached || again.Binary != res.Binary {
		t.Fatalf("second build not from the cache: %+v, %v", again, err)
	}
}

// TestE2EPerfToolSuiteOnSeries boots the 6.12 series kernel with the
// default self-tests and checks the perftool suite: every case passed,
// and the counts it printed (per task and system-wide) have deferred
// records. KDEFER_TREE_612 names the tree, else the shared test clone.
func TestE2EPerfToolSuiteOnSeries(t *testing.T) {
	e2e.Need(t, "a 6.12 tree with the series, a kernel build, a Linux 7.x tree and QEMU")
	tree := os.Getenv("KDEFER_TREE_612")
	if tree == "" {
		tree = testkit.SeriesTree(t)
	}
	checkSuite(t, tree)
}

// TestE2EPerfToolSuiteOnNative7 runs the same on Debian's 7.x, where the
// infrastructure is upstream (nothing applied): the upstream perf tool
// against the upstream kernel code. KDEFER_TREE_7 names the tree, else a
// scratch clone of the cached one is made.
func TestE2EPerfToolSuiteOnNative7(t *testing.T) {
	e2e.Long(t, "a Linux 7.x kernel build and QEMU")
	tree := os.Getenv("KDEFER_TREE_7")
	if tree == "" {
		base := e2e.Tree(t, "7")
		tree = filepath.Join(os.TempDir(), "kdefer-perftool-native-"+filepath.Base(base))
		if _, err := os.Stat(filepath.Join(tree, "Makefile")); err != nil {
			if out, err := exec.Command("git", "clone", "-q", "--shared", base, tree).CombinedOutput(); err != nil {
				t.Fatalf("clone %s: %v %s", base, err, out)
			}
		}
	}
	checkSuite(t, tree)
}

func checkSuite(t *testing.T, tree string) {
	t.Helper()
	if _, err := perftool.FindTree("", tree); err != nil {
		e2e.Tree(t, "7") // fetch a tree to build perf from
	}
	res, suite := bootSuite(t, tree, "")
	raw, _ := os.ReadFile(res.KTAPPath)
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, "dump samples=") || strings.Contains(l, "full_chain=") || strings.Contains(l, "in_chain=") || strings.Contains(l, "side by side") {
			t.Log(strings.TrimSpace(l))
		}
	}
	if suite.Status != ktap.Pass || suite.Directive != "" {
		t.Fatalf("perftool: %s %s %s (see %s)", suite.Status, suite.Directive, suite.Reason, res.KTAPPath)
	}
	names := []string{"perf_runs", "task_record", "task_full_chain", "task_deferred_records",
		"task_samples_share_cookie", "syswide_record", "syswide_full_chain", "syswide_deferred_records", "defer_overhead"}
	sframe := []string{"sframe_record", "sframe_full_chain", "sframe_deferred_records", "sframe_beats_fp_only"}
	// A tree with the SFrame unwinder must pass the SFrame cases (the
	// toolchain is there: the e2e tests run after kcheck doctor
	// --install); one without must skip them.
	kc, _ := os.ReadFile(filepath.Join(tree, "arch", "Kconfig"))
	if strings.Contains(string(kc), "\nconfig UNWIND_USER_SFRAME\n") {
		names = append(names, sframe...)
	} else {
		for _, name := range sframe {
			if c := find(suite.Subtests, name); c == nil || c.Directive != "SKIP" {
				t.Errorf("case %s on a tree without SFrame: %+v, want SKIP", name, c)
			}
		}
	}
	for _, name := range names {
		c := find(suite.Subtests, name)
		if c == nil || c.Status != ktap.Pass || c.Directive != "" {
			t.Errorf("case %s: %+v", name, c)
		}
	}
}

func find(ts []*ktap.Test, name string) *ktap.Test {
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// TestE2EPerfToolSuiteSkipsWithoutTheSeries boots Debian's 6.12 as it
// is (no series: perf_event_open refuses defer_callchain) with the
// default self-tests: the perftool suite skips whole with the reason,
// where it used to run perf, which fell back to in-interrupt stacks,
// and fail its deferred cases.
func TestE2EPerfToolSuiteSkipsWithoutTheSeries(t *testing.T) {
	e2e.Need(t, "Debian's 6.12 tree, a kernel build, a Linux 7.x tree for perf and QEMU")
	tree := e2e.Tree(t, "6.12")
	if _, err := perftool.FindTree("", tree); err != nil {
		e2e.Tree(t, "7") // a tree to build perf from: the suite must be in the initramfs
	}
	res, suite := bootSuite(t, tree, filepath.Join(t.TempDir(), "run"))
	t.Logf("perftool: %s %s %s", suite.Status, suite.Directive, suite.Reason)
	if suite.Directive != "SKIP" || !strings.Contains(suite.Reason, "lacks the deferred callchain ABI") || len(suite.Subtests) != 0 {
		t.Fatalf("perftool on a kernel without the series: %s %s %q with %d cases, want a SKIP for the missing ABI (see %s)",
			suite.Status, suite.Directive, suite.Reason, len(suite.Subtests), res.KTAPPath)
	}
}

// bootSuite builds tree's kcheck boot kernel, boots it with the default
// self-tests (results in out, default the build directory's
// kcheck-e2e/perftool) and returns the run and its perftool suite.
func bootSuite(t *testing.T, tree, out string) (*boot.Result, *ktap.Test) {
	t.Helper()
	b := testkit.BuildKernel(t, tree)
	if out == "" {
		out = filepath.Join(b.Dir, "kcheck-e2e", "perftool")
	}
	res, err := boot.Run(context.Background(), boot.Options{Tree: tree, BuildDir: b.Dir, SkipBuild: true,
		Accel: "tcg", Timeout: 15 * time.Minute, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	doc := res.Report.KTAP
	if doc == nil || doc.Root == nil {
		t.Fatalf("no KTAP document (console: %s)", res.Report.ConsoleLog)
	}
	suite := find(doc.Root.Subtests, "perftool")
	if suite == nil {
		t.Fatalf("no perftool suite in %s", res.KTAPPath)
	}
	return res, suite
}
