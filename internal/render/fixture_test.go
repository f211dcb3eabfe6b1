package render

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/gitobj"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the fixture templates")

// TestGolden: the fixture series rendered for the fixture kernel equals
// testdata/golden (go test ./internal/render -run Golden -update).
func TestGolden(t *testing.T) {
	res := renderFixture(t, fakeKernel(t))
	if *update {
		if err := res.WriteSeries("testdata/golden"); err != nil {
			t.Fatal(err)
		}
	}
	if err := res.Check("testdata/golden"); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenDetectsTemplateChange changes one template line in a copy of
// the fixture templates: the check against the golden files must fail
// and show the line.
func TestGoldenDetectsTemplateChange(t *testing.T) {
	tree := fakeKernel(t)
	dir := t.TempDir()
	e2e.CopyDir(t, "testdata/templates", dir)
	p := filepath.Join(dir, "files/kernel/unwind/user.c.tmpl")
	data, _ := os.ReadFile(p)
	data = []byte(strings.Replace(string(data), " * Generic interfaces for unwinding user space", " * Generic interfaces for unwinding user stacks", 1))
	os.WriteFile(p, data, 0o644)
	res, err := Render(context.Background(), Options{Templates: os.DirFS(dir), Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	err = res.Check("testdata/golden")
	var m *Mismatch
	if !errors.As(err, &m) {
		t.Fatalf("want a mismatch, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "0001-unwind_user-Add-user-space-unwinding-API-with-frame-.patch: first difference at line 54:") ||
		!strings.Contains(msg, "0000-cover-letter.patch") || !strings.Contains(msg, "unwinding user stacks") {
		// the first difference after the From line is the changed one
		t.Errorf("mismatch report:\n%s", msg)
	}
}

func TestNothingToDo(t *testing.T) {
	needGit(t)
	dir := filepath.Join(t.TempDir(), "linux")
	e2e.CopyDir(t, "testdata/kernel", dir)
	os.MkdirAll(filepath.Join(dir, "kernel/unwind"), 0o755)
	os.WriteFile(filepath.Join(dir, "kernel/unwind/deferred.c"), []byte("upstream\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "kernel/unwind/user.c"), []byte("upstream\n"), 0o644)
	run(t, dir, baseEnv, "git", "init", "-q")
	run(t, dir, baseEnv, "git", "add", ".")
	run(t, dir, baseEnv, "git", "commit", "-qm", "Linux 7.2")
	tdir := e2e.UpstreamTemplates(t)
	res, err := Render(context.Background(), Options{Templates: os.DirFS(tdir), Tree: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Patches) != 0 || len(res.Skipped) != 3 || len(res.Files()) != 0 {
		t.Fatalf("patches %d, skipped %d, files %d; want 0, 3, 0", len(res.Patches), len(res.Skipped), len(res.Files()))
	}
	if res.Skipped[0].Probe != "unwind_upstream" {
		t.Errorf("skipped by probe %q, want unwind_upstream", res.Skipped[0].Probe)
	}
}

func TestNotGit(t *testing.T) {
	dir := t.TempDir()
	e2e.CopyDir(t, "testdata/kernel", dir)
	_, err := Render(context.Background(), Options{Templates: os.DirFS("testdata/templates"), Tree: dir})
	if !errors.Is(err, ErrNotGit) {
		t.Fatalf("want ErrNotGit, got %v", err)
	}
}

func TestBrokenAnchor(t *testing.T) {
	tree := fakeKernel(t)
	p := filepath.Join(tree, "kernel/fork.c")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), "retval = sched_fork(clone_flags, p);", "retval = sched_fork(p, clone_flags);", 1)), 0o644)
	run(t, tree, baseEnv, "git", "commit", "-qam", "break the anchor")
	_, err := Render(context.Background(), Options{Templates: os.DirFS("testdata/templates"), Tree: tree})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"patch deferred: kernel/fork.c: edit 1 (from deferred, function copy_process): anchor matches nothing",
		"| retval = sched_fork(clone_flags, p);", "nearest candidates:", "30: \tretval = sched_fork(p, clone_flags);"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	tree := fakeKernel(t)
	for file, repl := range map[string][2]string{
		"files/kernel/unwind/user.c.tmpl":  {`{{- if .At "unwind-user" -}}`, `{{- if .At "unwind-usr" -}}`},
		"edits/kernel/fork.c.yaml":         {`.Tree.Has "twa_nmi_current"`, `.Tree.Has "twa_nmi"`},
		"edits/include/linux/sched.h.yaml": {"struct: task_struct", "struct: task_strct"},
	} {
		dir := t.TempDir()
		e2e.CopyDir(t, "testdata/templates", dir)
		p := filepath.Join(dir, file)
		data, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.Replace(string(data), repl[0], repl[1], 1)), 0o644)
		_, err := Render(context.Background(), Options{Templates: os.DirFS(dir), Tree: tree})
		if err == nil || !strings.Contains(err.Error(), "patch ") {
			t.Errorf("%s: want an error naming the patch, got %v", file, err)
			continue
		}
		t.Logf("%s: %v", file, err)
	}
}

// TestPartialSkip: on a tree that already has patch 1 (git am of the
// golden 0001), a skip-if on patch 1 renders patches 2 and 3 with the
// same diffs as the full series.
func TestPartialSkip(t *testing.T) {
	tree := fakeKernel(t)
	golden, _ := filepath.Glob("testdata/golden/000[1-3]-*.patch")
	abs, _ := filepath.Abs(golden[0])
	run(t, tree, baseEnv, "git", "am", "-q", abs)
	tdir := t.TempDir()
	e2e.CopyDir(t, "testdata/templates", tdir)
	p := filepath.Join(tdir, "series.yaml")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), "    date: \"2025-07-16T20:49:11-04:00\"\n", "    date: \"2025-07-16T20:49:11-04:00\"\n    skip-if: user_c\n", 1)), 0o644)
	pp := filepath.Join(tdir, "probes.yaml")
	data, _ = os.ReadFile(pp)
	os.WriteFile(pp, append(data, "- name: user_c\n  file: kernel/unwind/user.c\n  exists: true\n"...), 0o644)
	res, err := Render(context.Background(), Options{Templates: os.DirFS(tdir), Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Patches) != 2 || len(res.Skipped) != 1 || res.Skipped[0].Name != "unwind-user" {
		t.Fatalf("patches %d, skipped %v", len(res.Patches), res.Skipped)
	}
	strip := func(b []byte) string {
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "From ") && !strings.HasPrefix(l, "index ") && !strings.HasPrefix(l, "Subject: ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	for i := range res.Patches {
		want, _ := os.ReadFile(golden[i+1])
		if d := firstDiff([]byte(strip(res.Mail(&res.Patches[i]))), []byte(strip(want))); d != "" {
			t.Errorf("patch %d differs from golden %s: %s", i+1, golden[i+1], d)
		}
	}
}

// TestBuildWithCommitter: Build with another committer writes commits
// with the same trees and that committer; real git finds the objects
// sound.
func TestBuildWithCommitter(t *testing.T) {
	tree := fakeKernel(t)
	res := renderFixture(t, tree)
	st, err := gitobj.OpenStorage(tree)
	if err != nil {
		t.Fatal(err)
	}
	who := res.Patches[0].Author
	who.Name, who.Email = "Applier", "apply@example.org"
	ids, err := res.Build(st, &who)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if id == res.Patches[i].Commit {
			t.Errorf("patch %d: same id with another committer", i+1)
		}
		c, err := object.GetCommit(st, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.TreeHash != res.Patches[i].Tree || c.Committer.Name != "Applier" || c.Author.Name != res.Patches[i].Author.Name {
			t.Errorf("patch %d: tree %s committer %s author %s", i+1, c.TreeHash, c.Committer.Name, c.Author.Name)
		}
	}
	run(t, tree, nil, "git", "update-ref", "refs/heads/applied", ids[len(ids)-1].String())
	run(t, tree, nil, "git", "fsck", "--strict", "--no-dangling")
	if got := strings.TrimSpace(run(t, tree, nil, "git", "log", "--format=%cn %an", "-1", "applied")); got != "Applier "+res.Patches[2].Author.Name {
		t.Errorf("git log: %q", got)
	}
}
