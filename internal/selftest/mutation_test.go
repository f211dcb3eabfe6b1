package selftest_test

// Mutation testing of the self-tests: each patch in qemu-tests/mutations/
// injects one bug into kernel/unwind/deferred.c (or a hook of the
// series, such as the exit hook in kernel/exit.c). Applied to a copy of a
// tree that carries the series, built and booted, the cases the patch
// names must fail — otherwise the self-tests would not catch that bug.
//
// Run (about 15 minutes the first time: one full tinyconfig build; then
// about a minute per mutation, only deferred.c is rebuilt):
//
//	KDEFER_E2E=1 KDEFER_SERIES_TREE=/path/to/linux-with-series \
//	    [KDEFER_SERIES_REF=branch] \
//	    go test ./internal/selftest -run TestMutationsCaught -v -timeout 60m
//
// The copy is a git worktree of the tree's HEAD under
// ${XDG_CACHE_HOME:-~/.cache}/kdefer/mutation/ (kept, so later runs are
// incremental); the user's tree is never written to. To reuse a scratch
// worktree and its build directory instead, set KDEFER_MUTATION_WORKTREE
// and KDEFER_MUTATION_BUILD_DIR (both are modified, deferred.c restored).

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
	"github.com/kdefer/kdefer/internal/testkit"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

// mutations lists each patch with the cases it must make fail.
var mutations = []struct {
	patch string
	fail  []string
}{
	{"nmi-callback-skipped.patch", []string{"nmi_request", "cookie_same_within_entry"}},
	{"cookie-reused.patch", []string{"cookie_new_each_entry"}},
	{"exit-hook-dropped.patch", []string{"exit_with_request_pending"}},
	{"cookie-order-7.2.patch", []string{"reset_window_nmi_request"}},
	{"twaf-no-alloc-dropped.patch", []string{"task_work_add_no_alloc"}},
}

func TestMutationsCaught(t *testing.T) {
	e2e.Need(t, "builds and boots mutated kernels")
	tree := testkit.MutationTree(t)
	if _, err := os.Stat(filepath.Join(tree, "kernel/unwind/deferred.c")); err != nil {
		t.Fatalf("%s does not carry the series (no kernel/unwind/deferred.c): run kgen apply first", tree)
	}
	ctx := context.Background()
	ref := os.Getenv("KDEFER_SERIES_REF") // default HEAD
	if ref == "" {
		ref = "HEAD"
	}
	head := e2e.Git(t, tree, "rev-parse", ref+"^{commit}")
	base := testkit.MutationDir(t)
	copyDir := filepath.Join(base, "tree")
	buildDir := filepath.Join(base, "build")
	// A scratch worktree and build directory of one's own may be given to
	// save the first full build; they are modified (and restored).
	if d := os.Getenv("KDEFER_MUTATION_WORKTREE"); d != "" {
		copyDir = d
		if b := os.Getenv("KDEFER_MUTATION_BUILD_DIR"); b != "" {
			buildDir = b
		}
	}
	testkit.Worktree(t, tree, copyDir, head)
	// The patches change deferred.c or a hook of the series (exit.c):
	// every tracked file is restored before each one and at the end.
	defer e2e.Git(t, copyDir, "checkout", "--", ".")

	frag, err := filepath.Abs("../../Kconfig.frag")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mutations {
		t.Run(strings.TrimSuffix(m.patch, ".patch"), func(t *testing.T) {
			e2e.Git(t, copyDir, "checkout", "--", ".")
			patch, err := qemutests.FS.ReadFile("mutations/" + m.patch)
			if err != nil {
				t.Fatal(err)
			}
			pf := filepath.Join(base, m.patch)
			if err := os.WriteFile(pf, patch, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("git", "-C", copyDir, "apply", pf).CombinedOutput(); err != nil {
				t.Fatalf("%s does not apply to %s at %s (%v): %s\nthe series changed the file it mutates: regenerate the patch (see qemu-tests/README.md)",
					m.patch, copyDir, head, err, out)
			}

			// kcheck boot's own path: build, self-tests, initramfs,
			// QEMU, KTAP.
			res, err := boot.Run(ctx, boot.Options{Tree: copyDir, BuildDir: buildDir, Fragment: frag,
				Timeout: 10 * time.Minute, OutDir: filepath.Join(base, strings.TrimSuffix(m.patch, ".patch")), Progress: t.Logf})
			if err != nil {
				t.Fatalf("booting the mutated kernel: %v", err)
			}
			t.Logf("boot: %s in %v, console %s", res.Boot.Outcome, res.Boot.Duration.Round(time.Second), res.Boot.ConsoleLog)
			doc := res.Report.KTAP
			if doc == nil || !doc.Found {
				t.Fatalf("no KTAP in %s", res.Boot.ConsoleLog)
			}
			testkit.Caught(t, doc, "unwind_deferred", m.patch, m.fail)
		})
	}
}
