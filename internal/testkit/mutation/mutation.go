// Package mutation runs the mutation tests of the self-tests: each patch
// of qemu-tests puts one bug into the series; applied to a worktree of a
// tree carrying the series and booted the way kcheck boot boots
// (boot.Run), the cases it names must fail. It is a package of its own
// because it imports boot, whose tests import testkit.
package mutation

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/testkit"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

// Mutation is one patch (its path in qemu-tests, e.g.
// "perf/mutations/wrong-cpu.patch") and the cases of the suite that must
// fail under it.
type Mutation struct {
	Patch string
	Fail  []string
}

// Suite is a suite's mutation test: on testkit.MutationTree, which must
// carry the part of the series the mutations change (file, containing
// needle; "": the file exists), every mutation is Caught.
func Suite(t *testing.T, suite, file, needle string, muts []Mutation) {
	t.Helper()
	e2e.Need(t, "builds and boots mutated kernels")
	tree := testkit.MutationTree(t)
	src, err := os.ReadFile(filepath.Join(tree, file))
	if err != nil || !strings.Contains(string(src), needle) {
		what := "no " + file
		if err == nil {
			what = fmt.Sprintf("no %s in %s", needle, file)
		}
		t.Fatalf("%s does not carry the series' %s code (%s): run kgen apply first", tree, suite, what)
	}
	Caught(t, tree, suite, muts)
}

// Caught applies each mutation in turn to a worktree of tree under
// testkit.MutationDir (at KDEFER_SERIES_REF, default HEAD; or
// KDEFER_MUTATION_WORKTREE and KDEFER_MUTATION_BUILD_DIR, one's own,
// which are modified), every tracked file restored before each one and
// at the end, boots it with boot.Run (build in kcheck boot's build
// directory, self-tests, initramfs, QEMU, KTAP: kcheck boot's own path)
// and checks with testkit.Caught that its cases fail in suite. One
// subtest per mutation.
func Caught(t *testing.T, tree, suite string, muts []Mutation) {
	t.Helper()
	ctx := context.Background()
	ref := os.Getenv("KDEFER_SERIES_REF")
	if ref == "" {
		ref = "HEAD"
	}
	head := e2e.Git(t, tree, "rev-parse", ref+"^{commit}")
	base := testkit.MutationDir(t)
	copyDir := filepath.Join(base, "tree")
	// kcheck boot's own build directory, one level below the worktree:
	// its compiler commands are then those of the series kernel's build
	// (testkit.Kernel), and ccache answers all but the mutated files.
	buildDir := ""
	if d := os.Getenv("KDEFER_MUTATION_WORKTREE"); d != "" {
		copyDir = d
		if b := os.Getenv("KDEFER_MUTATION_BUILD_DIR"); b != "" {
			buildDir = b
		}
	}
	testkit.Worktree(t, tree, copyDir, head)
	defer e2e.Git(t, copyDir, "checkout", "--", ".")
	for _, m := range muts {
		name := strings.TrimSuffix(path.Base(m.Patch), ".patch")
		t.Run(name, func(t *testing.T) {
			e2e.Git(t, copyDir, "checkout", "--", ".")
			patch, err := qemutests.FS.ReadFile(m.Patch)
			if err != nil {
				t.Fatal(err)
			}
			pf := filepath.Join(base, name+".patch")
			if err := os.WriteFile(pf, patch, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("git", "-C", copyDir, "apply", pf).CombinedOutput(); err != nil {
				t.Fatalf("qemu-tests/%s does not apply to %s at %s (%v): %s\nthe series changed the file it mutates: regenerate the patch (see qemu-tests/README.md)",
					m.Patch, copyDir, head, err, out)
			}
			res, err := boot.Run(ctx, boot.Options{Tree: copyDir, BuildDir: buildDir,
				Timeout: 10 * time.Minute, OutDir: filepath.Join(base, name), Progress: t.Logf})
			if err != nil {
				t.Fatalf("booting the mutated kernel: %v", err)
			}
			t.Logf("boot: %s in %v, console %s", res.Boot.Outcome, res.Boot.Duration.Round(time.Second), res.Boot.ConsoleLog)
			doc := res.Report.KTAP
			if doc == nil || !doc.Found {
				t.Fatalf("no KTAP in %s", res.Boot.ConsoleLog)
			}
			testkit.Caught(t, doc, suite, m.Patch, m.Fail)
		})
	}
}
