package render

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/gitobj"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/series"
)

// The tests in this file use the real series (../../templates) and a real
// Linux 6.12 tree: $KDEFER_TREE_612, else the kgen tree cache. They skip
// when none is there, unless KDEFER_E2E=1 (then the tree is fetched).

const realTemplates = "../../templates"
const realPatches = "../../patches"

// tree612 returns the tree and its baseline: the base-commit recorded in
// patches/ when the tree has it, else the root commit of its HEAD (the
// scratch tree may carry work-in-progress commits on top).
func tree612(t testing.TB) (string, plumbing.Hash) {
	t.Helper()
	tree := findTree612(t)
	if h, ok := formatpatch.RecordedBase(realPatches); ok && gitobj.HasCommit(tree, h) {
		return tree, h
	}
	out, err := exec.Command("git", "-C", tree, "rev-list", "--max-parents=0", "HEAD").Output()
	if err != nil {
		t.Fatalf("%s: git rev-list: %v", tree, err)
	}
	roots := strings.Fields(string(out))
	if len(roots) != 1 {
		t.Fatalf("%s: want one root commit, got %v", tree, roots)
	}
	return tree, plumbing.NewHash(roots[0])
}

func findTree612(t testing.TB) string {
	t.Helper()
	cands := []string{os.Getenv("KDEFER_TREE_612")}
	// The newest 6.12 by release number (6.12.117 before 6.12.95): the
	// one patches/ is rendered for.
	cached, _ := kerneltree.List("")
	for _, tr := range cached {
		if strings.HasPrefix(tr.Release, "6.12.") {
			cands = append(cands, tr.Path)
		}
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, ".git")); err == nil {
			return c
		}
	}
	if os.Getenv("KDEFER_E2E") == "1" {
		// (internal/testkit would import this package through lint.)
		p, err := kerneltree.Get(context.Background(), kerneltree.Options{Version: "6.12", Git: true, Progress: t.Logf})
		if err != nil {
			t.Fatalf("getting the Linux 6.12 tree: %v", err)
		}
		return p
	}
	t.Skip("no Linux 6.12 git tree (set KDEFER_TREE_612, or run kgen tree get 6.12 --git)")
	return ""
}

func realSeries(t testing.TB) fs.FS {
	t.Helper()
	fsys := os.DirFS(realTemplates)
	s, err := series.Load(fsys)
	if err != nil {
		t.Fatalf("loading the real templates: %v", err)
	}
	if len(s.Patches) == 0 {
		t.Skip("templates/series.yaml has no patches yet")
	}
	return fsys
}

// renderReal renders the real series for the 6.12 tree (tree612).
func renderReal(t testing.TB) (res *Result, tree string) {
	t.Helper()
	tree, base := tree612(t)
	res, err := Render(context.Background(), Options{Templates: realSeries(t), Tree: tree, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	return res, tree
}

func TestReal612Reproducible(t *testing.T) {
	a, _ := renderReal(t)
	b, _ := renderReal(t)
	fa, fb := a.Files(), b.Files()
	if len(fa) != len(fb) {
		t.Fatalf("%d vs %d files", len(fa), len(fb))
	}
	for n := range fa {
		if !bytes.Equal(fa[n], fb[n]) {
			t.Errorf("%s: two renders differ", n)
		}
	}
}

// TestPatchesUpToDate is "kgen render --check": patches/ must be what the
// templates render for the reference tree.
func TestPatchesUpToDate(t *testing.T) {
	if m, _ := filepath.Glob(filepath.Join(realPatches, "*.patch")); len(m) == 0 {
		t.Skip("patches/ is empty (run kgen render --update)")
	}
	res, tree := renderReal(t)
	if err := res.Check(realPatches); err != nil {
		t.Fatalf("%v\nrun: go run ./cmd/kgen render --update --templates templates --tree %s", err, tree)
	}
}

// TestTemplateChangeDetected changes one line of a template in a copy of
// templates/ and expects the check against patches/ to fail.
func TestTemplateChangeDetected(t *testing.T) {
	tree, base := tree612(t)
	realSeries(t)
	if m, _ := filepath.Glob(filepath.Join(realPatches, "*.patch")); len(m) == 0 {
		t.Skip("patches/ is empty (run kgen render --update)")
	}
	dir := t.TempDir()
	e2e.CopyDir(t, realTemplates, dir)
	tmpls, _ := filepath.Glob(filepath.Join(dir, "files", "kernel", "unwind", "*.tmpl"))
	if len(tmpls) == 0 {
		t.Skip("no owned-file template under files/kernel/unwind")
	}
	sort.Strings(tmpls)
	changed := false
	for _, tm := range tmpls {
		data, _ := os.ReadFile(tm)
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, " * ") && !strings.Contains(l, "{{") {
				lines[i] = l + " (changed)"
				changed = true
				break
			}
		}
		if changed {
			os.WriteFile(tm, []byte(strings.Join(lines, "\n")), 0o644)
			break
		}
	}
	if !changed {
		t.Fatalf("no comment line to change in %v", tmpls)
	}
	res, err := Render(context.Background(), Options{Templates: os.DirFS(dir), Tree: tree, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	err = res.Check(realPatches)
	if err == nil {
		t.Fatal("changing a template line was not detected by Check")
	}
	if !strings.Contains(err.Error(), "(changed)") {
		t.Errorf("the mismatch report does not show the changed line:\n%v", err)
	}
}

// TestReal612GitAm applies the rendered series with real git am (and
// patch --dry-run first) onto a shared clone of the tree: every tree id
// must equal ours, the final files must equal our final states, and real
// git format-patch of the applied commits must give our bytes (except the
// commit ids on the "From " lines: git am sets its own committer).
func TestReal612GitAm(t *testing.T) {
	res, tree := renderReal(t)
	dir := t.TempDir()
	if err := res.WriteSeries(filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(dir, "linux")
	run(t, "", nil, "git", "clone", "-q", "--shared", "--no-checkout", tree, clone)
	// check out only the files the series touches (the tree has 87k)
	var paths []string
	seen := map[string]bool{}
	for _, p := range res.Patches {
		for _, c := range p.Changes {
			if !seen[c.Path] {
				seen[c.Path] = true
				paths = append(paths, c.Path)
			}
		}
	}
	sparseCheckout(t, clone, res.Base.String(), paths)
	_, havePatch := exec.LookPath("patch")
	if havePatch != nil {
		if os.Getenv("KDEFER_E2E") == "1" {
			t.Fatal("patch is not installed (scripts/setup installs it): the patch -p1 --dry-run check cannot run")
		}
		t.Log("patch is not installed: skipping the patch -p1 --dry-run check")
	}
	for i := range res.Patches {
		p := &res.Patches[i]
		f := filepath.Join(dir, "out", p.FileName())
		if havePatch == nil {
			run(t, clone, nil, "sh", "-c", "patch -p1 --dry-run -s < "+f)
		}
		run(t, clone, baseEnv, "git", "am", "-q", f)
		got := strings.TrimSpace(run(t, clone, nil, "git", "rev-parse", "HEAD^{tree}"))
		if got != p.Tree.String() {
			t.Fatalf("patch %d (%s): git am gives tree %s, kgen built %s", p.Index, p.Name, got, p.Tree)
		}
	}
	// go-gitdiff parses every patch and applies it to our "before"
	for i := range res.Patches {
		p := &res.Patches[i]
		files, _, err := gitdiff.Parse(bytes.NewReader(res.Mail(p)))
		if err != nil {
			t.Fatalf("%s: go-gitdiff: %v", p.FileName(), err)
		}
		if len(files) != len(p.Changes) {
			t.Fatalf("%s: go-gitdiff sees %d files, kgen changed %d", p.FileName(), len(files), len(p.Changes))
		}
		for j, fd := range files {
			var out bytes.Buffer
			if err := gitdiff.Apply(&out, bytes.NewReader(p.Changes[j].Before), fd); err != nil {
				t.Errorf("%s: %s: go-gitdiff apply: %v", p.FileName(), fd.NewName, err)
			} else if p.Changes[j].After != nil && !bytes.Equal(out.Bytes(), p.Changes[j].After) {
				t.Errorf("%s: %s: go-gitdiff apply gives other content", p.FileName(), fd.NewName)
			}
		}
	}
	final := map[string][]byte{}
	for _, p := range res.Patches {
		for _, c := range p.Changes {
			final[c.Path] = c.After
		}
	}
	for path, want := range final {
		got, err := os.ReadFile(filepath.Join(clone, path))
		if want == nil {
			if err == nil {
				t.Errorf("%s: should be deleted", path)
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: work tree after git am differs from kgen's final state", path)
		}
	}
	checkFormatPatch(t, res, clone, "HEAD", true)
}

// BenchmarkRender renders the whole real series for the 6.12 tree.
func BenchmarkRender(b *testing.B) {
	tree, base := tree612(b)
	fsys := realSeries(b)
	var n int
	start := time.Now()
	for i := 0; i < b.N; i++ {
		res, err := Render(context.Background(), Options{Templates: fsys, Tree: tree, Base: base})
		if err != nil {
			b.Fatal(err)
		}
		n = len(res.Files())
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/render")
	b.Logf("rendered %d files for %s in %v per render", n, tree, time.Since(start)/time.Duration(b.N))
}

// TestReal612BrokenAnchor breaks the first anchor of the series in a copy
// (a shared clone) of the tree's kernel file: rendering must fail with
// an error naming the patch, file, edit and anchor and quoting the
// nearest lines.
func TestReal612BrokenAnchor(t *testing.T) {
	tree, base := tree612(t)
	fsys := realSeries(t)
	s, _ := series.Load(fsys)
	var file, line string
	for _, ef := range s.Edits {
		for _, e := range ef.Edits {
			if e.Anchor != "" && (e.Match == "" || e.Match == "exact") && e.When == "" {
				file, line = ef.Path, strings.TrimSpace(strings.Split(e.Anchor, "\n")[0])
				break
			}
		}
		if file != "" {
			break
		}
	}
	if file == "" {
		t.Skip("no exact anchor in the series")
	}
	clone := filepath.Join(t.TempDir(), "linux")
	run(t, "", nil, "git", "clone", "-q", "--shared", "--no-checkout", tree, clone)
	sparseCheckout(t, clone, base.String(), []string{file})
	p := filepath.Join(clone, file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), line, line+" /* broken */", -1)
	if broken == string(data) {
		t.Fatalf("%s: anchor line %q not found", file, line)
	}
	os.WriteFile(p, []byte(broken), 0o644)
	run(t, clone, baseEnv, "git", "commit", "-qam", "break an anchor")
	_, err = Render(context.Background(), Options{Templates: fsys, Tree: clone})
	if err == nil {
		t.Fatalf("breaking %q in %s was not detected", line, file)
	}
	msg := err.Error()
	for _, want := range []string{"patch ", file + ": edit ", "anchor matches nothing", "| " + line, "nearest candidates:", line + " /* broken */"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	t.Logf("%v", err)
}

// sparseCheckout checks out only paths of rev in a --no-checkout clone.
// It uses core.sparseCheckout directly: "git sparse-checkout" sets
// extensions.worktreeConfig, which go-git refuses to open.
func sparseCheckout(t testing.TB, clone, rev string, paths []string) {
	t.Helper()
	var b strings.Builder
	for _, p := range paths {
		b.WriteString("/" + p + "\n")
	}
	if err := os.WriteFile(filepath.Join(clone, ".git", "info", "sparse-checkout"), []byte(b.String()), 0o644); err != nil {
		os.MkdirAll(filepath.Join(clone, ".git", "info"), 0o755)
		if err := os.WriteFile(filepath.Join(clone, ".git", "info", "sparse-checkout"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, clone, nil, "git", "config", "core.sparseCheckout", "true")
	run(t, clone, nil, "git", "checkout", "-q", "-B", "kgen-test", rev)
}
