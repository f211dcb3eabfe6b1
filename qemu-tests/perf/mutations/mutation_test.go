package mutations_test

// Mutation testing of the perf self-test: each patch in
// qemu-tests/perf/mutations/ puts one bug into the perf part of the series
// (kernel/events/). Applied to a copy of a tree carrying the series, built
// and booted, the cases listed below must fail in the "perf" suite.
//
//	KDEFER_E2E=1 KDEFER_SERIES_TREE=/path/to/linux-with-series \
//	    go test ./qemu-tests/perf/mutations -run TestPerfMutationsCaught -v -timeout 90m
//
// The copy is a git worktree of the tree's HEAD under
// ${XDG_CACHE_HOME:-~/.cache}/kdefer/mutation-perf/ (kept: the first run
// builds a whole tinyconfig kernel, later ones only kernel/events/); the
// user's tree is never written to.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/initramfs"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/qemu"
	"github.com/kdefer/kdefer/internal/selftest"
	"github.com/kdefer/kdefer/internal/testkit"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

var mutations = []struct {
	patch string
	fail  []string
}{
	{"wrong-cpu.patch", []string{"percpu_record_on_return_cpu"}},
	{"drop-cookie.patch", []string{"task_event_cookies", "percpu_cookies_every_cpu", "two_profilers_both_get_records"}},
}

// The files the mutations touch, restored before each one.
var touched = []string{"kernel/events/core.c", "kernel/events/callchain.c"}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func perfCases(doc *ktap.Document) map[string]*ktap.Test {
	res := map[string]*ktap.Test{}
	doc.Walk(func(suites []string, t *ktap.Test) {
		if len(suites) > 0 && suites[len(suites)-1] == "perf" {
			res[t.Name] = t
		}
	})
	return res
}

func TestPerfMutationsCaught(t *testing.T) {
	e2e.Need(t, "builds and boots mutated kernels")
	// KDEFER_SERIES_TREE: a git tree of one's own whose HEAD carries the
	// series; by default the shared test clone of Debian's 6.12.
	tree := os.Getenv("KDEFER_SERIES_TREE")
	if tree == "" {
		tree = testkit.SeriesTree(t)
	}
	src, err := os.ReadFile(filepath.Join(tree, "kernel/events/core.c"))
	if err != nil || !bytes.Contains(src, []byte("perf_callchain_deferred_output")) {
		t.Fatalf("%s does not carry the perf patches (no perf_callchain_deferred_output in kernel/events/core.c): run kgen apply first", tree)
	}
	ctx := context.Background()
	head := run(t, tree, "git", "rev-parse", "HEAD")
	base := testkit.MutationDir(t)
	copyDir := filepath.Join(base, "tree")
	if _, err := os.Stat(filepath.Join(copyDir, ".git")); err != nil {
		run(t, tree, "git", "worktree", "add", "--detach", copyDir, head)
	} else {
		run(t, copyDir, "git", "checkout", "--detach", "--force", head)
	}
	restore := func() { run(t, copyDir, "git", append([]string{"checkout", "--"}, touched...)...) }
	defer restore()

	frag, err := filepath.Abs("../../../Kconfig.frag")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mutations {
		t.Run(strings.TrimSuffix(m.patch, ".patch"), func(t *testing.T) {
			restore()
			patch, err := qemutests.FS.ReadFile("perf/mutations/" + m.patch)
			if err != nil {
				t.Fatal(err)
			}
			pf := filepath.Join(base, m.patch)
			if err := os.WriteFile(pf, patch, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, copyDir, "git", "apply", pf)

			res, err := kbuild.Build(ctx, kbuild.Options{
				Src: copyDir, Dir: filepath.Join(base, "build"),
				Fragment: frag, Targets: []string{"bzImage", "modules"},
				Progress: t.Logf,
			})
			if err != nil {
				t.Fatalf("building the mutated kernel: %v", err)
			}
			arts, err := selftest.Build(ctx, selftest.Options{BuildDir: res.Dir,
				Src: copyDir, Work: filepath.Join(base, "selftest")})
			if err != nil {
				t.Fatal(err)
			}
			a := initramfs.New()
			for _, art := range arts {
				if err := a.AddFile(art.Name, art.Mode, art.Data); err != nil {
					t.Fatal(err)
				}
			}
			initrd := filepath.Join(base, "initrd.cpio")
			if err := a.WriteFile(initrd); err != nil {
				t.Fatal(err)
			}
			console := filepath.Join(base, strings.TrimSuffix(m.patch, ".patch")+".console.log")
			out, err := qemu.Run(ctx, qemu.Options{Kernel: res.Image, Initrd: initrd,
				Timeout: 10 * time.Minute, ConsoleLog: console})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("boot: %s in %v, console %s", out.Outcome, out.Duration.Round(time.Second), console)
			log, err := os.ReadFile(console)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := ktap.Parse(bytes.NewReader(log))
			if err != nil || !doc.Found {
				t.Fatalf("no KTAP in %s: %v", console, err)
			}
			cases := perfCases(doc)
			for _, name := range m.fail {
				c, ok := cases[name]
				switch {
				case !ok:
					t.Errorf("%s: perf case %s not reported", m.patch, name)
				case c.Status != ktap.Fail:
					t.Errorf("%s: perf case %s is %v, want fail: the self-test misses this bug", m.patch, name, c.Status)
				default:
					t.Logf("caught: %s fails under %s", name, m.patch)
				}
			}
		})
	}
}
