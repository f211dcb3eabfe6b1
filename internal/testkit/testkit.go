// Package testkit gives the end-to-end tests of every package the same
// real parts: the Debian 6.12 tree (fetched into the kdefer cache on
// first use), a clone of it carrying the series as commits, and the
// kcheck boot kernel built from that clone. All of them are cached under
// ${XDG_CACHE_HOME:-~/.cache}/kdefer and shared between packages, so a
// full `KDEFER_E2E=1 go test ./...` builds the kernel once, and a rerun
// builds nothing that has not changed.
//
// End-to-end tests run only with KDEFER_E2E=1 (package e2e); without it
// they skip with the reason. With it, a missing part is fetched or built,
// never skipped.
package testkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kdefer/kdefer/internal/flock"

	"github.com/kdefer/kdefer"
	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/templates"
)

// SeriesTree returns a git clone of the 6.12 tree whose HEAD carries the
// series rendered from the embedded templates, one commit per patch
// (committed by kgen apply's path, internal/apply). The clone is rebuilt when the rendered series
// changes and reset when a test left it dirty. Callers that modify it
// must restore it (git checkout) before they return.
func SeriesTree(t testing.TB) string {
	t.Helper()
	e2e.Need(t, "a 6.12 tree carrying the series")
	base := e2e.Tree(t, "6.12")
	ctx := context.Background()
	root := filepath.Join(kerneltree.CacheDir(), "test")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock := lock(t, filepath.Join(root, "series.lock"))
	defer unlock()

	dir := filepath.Join(root, "series-"+filepath.Base(base))
	patches := t.TempDir()
	res, err := render.Render(ctx, render.Options{Templates: templates.FS, Tree: base})
	if err == nil {
		err = res.WriteSeries(patches)
	}
	if err != nil {
		t.Fatalf("rendering the series for %s: %v", base, err)
	}
	h := sha256.New()
	var files []string
	for i := range res.Patches {
		path := filepath.Join(patches, res.Patches[i].FileName())
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
		files = append(files, path)
	}
	want := hex.EncodeToString(h.Sum(nil))[:16]
	stamp := filepath.Join(dir, ".git", "kdefer-series")
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		os.RemoveAll(dir)
		t.Logf("cloning %s into %s", base, dir)
		e2e.Git(t, "", "clone", "-q", "--shared", base, dir)
	}
	got, _ := os.ReadFile(stamp)
	clean := e2e.Git(t, dir, "status", "--porcelain", "--untracked-files=no") == ""
	if string(got) == want && clean {
		return dir
	}
	t.Logf("applying the series (%d patches, %s) in %s", len(files), want, dir)
	os.Remove(stamp)
	ApplySeries(t, dir, e2e.Git(t, base, "rev-parse", "HEAD"))
	if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ApplySeries commits the series of the embedded templates onto base in
// the clone dir on a branch "series", checked out, through kgen apply's
// path (internal/apply), as kcheck ci's scratch clone gets it.
func ApplySeries(t testing.TB, dir, base string) {
	t.Helper()
	exec.Command("git", "-C", dir, "am", "--abort").Run() // a git am of an older test kit; none is fine
	e2e.Git(t, dir, "checkout", "-q", "-f", "-B", "base", base)
	exec.Command("git", "-C", dir, "branch", "-q", "-D", "series").Run() // from an earlier run; none is fine
	who := object.Signature{Name: "kdefer test", Email: "test@kdefer.invalid", When: time.Unix(0, 0).UTC()}
	if _, err := apply.Run(context.Background(), apply.Options{Tree: dir, Templates: templates.FS, Branch: "series",
		Base: plumbing.NewHash(base), Committer: &who}); err != nil {
		t.Fatalf("committing the series in %s through internal/apply: %v", dir, err)
	}
}

// Kernel builds (or reuses) the kcheck boot kernel of SeriesTree: the
// same configuration as kcheck boot, so kcheck boot on that tree reuses
// the build directory. It also runs "make modules", which writes the
// Module.symvers that out-of-tree test modules link against.
func Kernel(t testing.TB) (tree string, build *kbuild.Result) {
	t.Helper()
	tree = SeriesTree(t)
	return tree, BuildKernel(t, tree)
}

// BuildKernel builds (or reuses) the kernel of Kernel for any tree.
func BuildKernel(t testing.TB, tree string) *kbuild.Result {
	t.Helper()
	r, err := kbuild.Build(context.Background(), kbuild.Options{Src: tree, FragmentText: kdefer.FragmentFor(tree),
		Targets: []string{"bzImage", "modules"}, Progress: t.Logf})
	if err != nil {
		t.Fatalf("building the kernel of %s: %v", tree, err)
	}
	return r
}

// Lock takes an exclusive flock on path (test packages run as separate
// processes) and releases it when t ends.
func Lock(t testing.TB, path string) {
	t.Helper()
	t.Cleanup(lock(t, path))
}

// MutationDir is the directory the mutation tests share (under one
// Lock): a worktree of SeriesTree in tree/ and its kernel build in
// build/, so that the unwind and the perf mutations build one kernel.
func MutationDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(kerneltree.CacheDir(), "mutation")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	Lock(t, filepath.Join(d, ".lock"))
	return d
}

// MutationTree is the tree the mutation tests mutate copies of:
// KDEFER_SERIES_TREE (a git tree of one's own whose HEAD carries the
// series), by default SeriesTree.
func MutationTree(t testing.TB) string {
	t.Helper()
	if tree := os.Getenv("KDEFER_SERIES_TREE"); tree != "" {
		return tree
	}
	return SeriesTree(t)
}

// Worktree makes dir a detached git worktree of tree at commit: added on
// first use, checked out there (forced) later.
func Worktree(t testing.TB, tree, dir, commit string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		e2e.Git(t, tree, "worktree", "add", "--detach", dir, commit)
	} else {
		e2e.Git(t, dir, "checkout", "--detach", "--force", commit)
	}
}

// Caught checks that every case of fail in suite of doc failed under
// the mutation patch (a case that passes is a bug the self-tests miss),
// and logs the diagnostics of each case caught.
func Caught(t testing.TB, doc *ktap.Document, suite, patch string, fail []string) {
	t.Helper()
	cases := map[string]*ktap.Test{}
	doc.Walk(func(suites []string, c *ktap.Test) {
		if len(suites) > 0 && suites[len(suites)-1] == suite {
			cases[c.Name] = c
		}
	})
	for _, name := range fail {
		c, ok := cases[name]
		switch {
		case !ok:
			t.Errorf("%s: %s case %s not reported", patch, suite, name)
		case c.Status != ktap.Fail:
			t.Errorf("%s: %s case %s is %v, want fail: the self-tests miss this bug", patch, suite, name, c.Status)
		default:
			t.Logf("caught: %s fails under %s", name, patch)
			for _, d := range c.Diagnostics {
				t.Logf("    %s", d)
			}
		}
	}
}

// lock takes an exclusive flock on path and returns its release.
func lock(t testing.TB, path string) func() {
	t.Helper()
	unlock, err := flock.Lock(context.Background(), path, func() { t.Logf("waiting for %s", path) })
	if err != nil {
		t.Fatalf("locking %s: %v", path, err)
	}
	return unlock
}
