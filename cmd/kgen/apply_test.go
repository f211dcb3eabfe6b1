package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/e2e"

	"github.com/kdefer/kdefer/internal/gitapply"
)

// The fast tests run kgen apply/status/drop in process on the renderer's
// small fixture kernel (internal/render/testdata) with its fixture series.
const fixtureTemplates = "../../internal/render/testdata/templates"

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return e2e.Run(t, dir, nil, "git", args...)
}

// treeState is what kgen must not change on a refused run: HEAD, refs,
// the index (as git ls-files -s), git status and the object count.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(gitOut(t, dir, "rev-parse", "--symbolic-full-name", "HEAD"))
	b.WriteString(gitOut(t, dir, "rev-parse", "HEAD"))
	b.WriteString(gitOut(t, dir, "for-each-ref", "--format=%(refname) %(objectname)"))
	fmt.Fprintf(&b, "index %x\n", sha256.Sum256([]byte(gitOut(t, dir, "ls-files", "-s"))))
	b.WriteString("status:\n" + gitOut(t, dir, "status", "--porcelain", "--untracked-files=all"))
	b.WriteString(gitOut(t, dir, "count-objects"))
	return b.String()
}

func applyFixture(t *testing.T) string {
	t.Helper()
	dir := e2e.FixtureTree(t, false)
	gitOut(t, dir, "config", "user.name", "Kgen Test")
	gitOut(t, dir, "config", "user.email", "kgen@test.example")
	return dir
}

func TestApplyStatusDropFixture(t *testing.T) {
	dir := applyFixture(t)
	before := treeState(t, dir)
	if code, errs := runKgen(t, "apply", dir, "--templates", fixtureTemplates, "--dry-run"); code != 0 {
		t.Fatalf("dry run: %d %s", code, errs)
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("--dry-run changed the tree:\n%s\n%s", before, after)
	}
	if code, errs := runKgen(t, "apply", dir, "--templates", fixtureTemplates); code != 0 {
		t.Fatalf("apply: %d %s", code, errs)
	}
	if s := gitOut(t, dir, "status", "--porcelain", "--untracked-files=all"); s != "" {
		t.Fatalf("git status after apply: %q", s)
	}
	if s := gitOut(t, dir, "diff-files", "--name-only"); s != "" {
		t.Fatalf("index stat data stale after apply: %q", s)
	}
	gitOut(t, dir, "fsck", "--strict")
	log := gitOut(t, dir, "log", "--format=%s|%an|%cn <%ce>", "master..HEAD")
	if !strings.Contains(log, "unwind_user: Add user space unwinding API with frame pointer support|Josh Poimboeuf|Kgen Test <kgen@test.example>") {
		t.Fatalf("commits: %s", log)
	}
	if b := strings.TrimSpace(gitOut(t, dir, "symbolic-ref", "HEAD")); b != "refs/heads/unwind-deferred" {
		t.Fatalf("HEAD is %s", b)
	}
	if code, errs := runKgen(t, "status", dir, "--templates", fixtureTemplates); code != 0 {
		t.Fatalf("status: %d %s", code, errs)
	}
	if code, errs := runKgen(t, "drop", dir, "--templates", fixtureTemplates); code != 0 {
		t.Fatalf("drop: %d %s", code, errs)
	}
	after := treeState(t, dir)
	// Objects stay (unreachable, for git gc); everything else is back.
	cut := func(s string) string { return s[:strings.LastIndex(s, "status:")] }
	if cut(after) != cut(before) || gitOut(t, dir, "status", "--porcelain", "--untracked-files=all") != "" {
		t.Fatalf("drop did not restore the tree:\n%s\n%s", before, after)
	}
	if code, _ := runKgen(t, "status", dir, "--templates", fixtureTemplates); code != 1 {
		t.Fatalf("status on the base: want 1, got %d", code)
	}
}

// Each bad input: its exit code, its message, nothing changed.
func TestApplyBadInput(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) (args []string, cleanup func())
		code  int
		msg   string
	}{
		{"not a kernel tree", func(t *testing.T, dir string) ([]string, func()) {
			d := t.TempDir()
			gitOut(t, d, "init", "-q")
			return []string{d}, nil
		}, apply.ExitNotKernel, "is not a kernel tree"},
		{"plain tarball", func(t *testing.T, dir string) ([]string, func()) {
			os.Rename(filepath.Join(dir, ".git"), filepath.Join(dir, "..", "dotgit"))
			return []string{dir}, func() { os.Rename(filepath.Join(dir, "..", "dotgit"), filepath.Join(dir, ".git")) }
		}, apply.ExitNotGit, "is not a git repository"},
		{"dirty file the series touches", func(t *testing.T, dir string) ([]string, func()) {
			p := filepath.Join(dir, "kernel/fork.c")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, append(data, "/* local */\n"...), 0o644)
			return []string{dir}, nil
		}, apply.ExitDirty, "local changes in 1 file(s) that would be overwritten: kernel/fork.c"},
		{"staged change the series touches", func(t *testing.T, dir string) ([]string, func()) {
			p := filepath.Join(dir, "include/linux/sched.h")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, append(data, "/* local */\n"...), 0o644)
			gitOut(t, dir, "add", "include/linux/sched.h")
			return []string{dir}, nil
		}, apply.ExitDirty, "include/linux/sched.h"},
		{"detached HEAD", func(t *testing.T, dir string) ([]string, func()) {
			gitOut(t, dir, "checkout", "-q", "--detach")
			return []string{dir}, nil
		}, apply.ExitDetached, "HEAD is detached"},
		{"branch taken", func(t *testing.T, dir string) ([]string, func()) {
			gitOut(t, dir, "branch", "mine")
			return []string{dir, "--branch", "mine"}, nil
		}, apply.ExitBranchTaken, "branch mine already exists"},
		{"already applied", func(t *testing.T, dir string) ([]string, func()) {
			if code, errs := runKgen(t, "apply", dir, "--templates", fixtureTemplates); code != 0 {
				t.Fatalf("first apply: %d %s", code, errs)
			}
			return []string{dir, "--branch", "again"}, nil
		}, apply.ExitApplied, "the series is already applied"},
		{"infrastructure upstream", func(t *testing.T, dir string) ([]string, func()) {
			os.MkdirAll(filepath.Join(dir, "kernel/unwind"), 0o755)
			os.WriteFile(filepath.Join(dir, "kernel/unwind/deferred.c"), []byte("// upstream\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "kernel/unwind/user.c"), []byte("// upstream\n"), 0o644)
			gitOut(t, dir, "add", "kernel/unwind")
			gitOut(t, dir, "commit", "-qm", "upstream has it")
			return []string{dir, "--templates", e2e.UpstreamTemplates(t)}, nil
		}, apply.ExitUpstream, "already contains the deferred unwind infrastructure upstream"},
		{"no probe can place the version", func(t *testing.T, dir string) ([]string, func()) {
			return []string{dir, "--templates", ""}, nil // the real series: its entry probe finds nothing here
		}, apply.ExitNoProbe, "no probe can place this tree"},
		{"anchor fails", func(t *testing.T, dir string) ([]string, func()) {
			p := filepath.Join(dir, "kernel/fork.c")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(data), "sched_fork(clone_flags, p);", "sched_fork(p);", 1)), 0o644)
			gitOut(t, dir, "commit", "-qam", "moved on")
			return []string{dir}, nil
		}, apply.ExitRender, "rendering failed, nothing written"},
		{"another kgen running", func(t *testing.T, dir string) ([]string, func()) {
			l, err := gitapply.Acquire(filepath.Join(dir, ".git"))
			if err != nil {
				t.Fatal(err)
			}
			return []string{dir}, l.Release
		}, apply.ExitLocked, "another kgen is working on this tree"},
		{"git running (index.lock)", func(t *testing.T, dir string) ([]string, func()) {
			os.WriteFile(filepath.Join(dir, ".git/index.lock"), nil, 0o644)
			return []string{dir}, func() { os.Remove(filepath.Join(dir, ".git/index.lock")) }
		}, apply.ExitLocked, "index.lock exists"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := applyFixture(t)
			args, cleanup := c.setup(t, dir)
			hasT := false
			for _, a := range args {
				hasT = hasT || a == "--templates"
			}
			if !hasT {
				args = append(args, "--templates", fixtureTemplates)
			}
			var before string
			if c.code != apply.ExitNotGit {
				before = treeState(t, dir)
			}
			code, errs := runKgen(t, append([]string{"apply"}, args...)...)
			if cleanup != nil {
				cleanup()
			}
			if code != c.code || !strings.Contains(errs, c.msg) {
				t.Fatalf("want exit %d with %q, got %d:\n%s", c.code, c.msg, code, errs)
			}
			if !strings.HasPrefix(errs, "kgen apply: ") {
				t.Errorf("want the message first, got:\n%s", errs)
			}
			if before != "" {
				if after := treeState(t, dir); after != before {
					t.Fatalf("the tree changed:\n%s\n%s", before, after)
				}
			}
			if _, err := os.Stat(gitapply.JournalDir(filepath.Join(dir, ".git"))); err == nil {
				t.Fatal("journal left behind")
			}
		})
	}
}

func TestDropRefusesForeignCommits(t *testing.T) {
	dir := applyFixture(t)
	if code, errs := runKgen(t, "apply", dir, "--templates", fixtureTemplates); code != 0 {
		t.Fatalf("apply: %d %s", code, errs)
	}
	gitOut(t, dir, "commit", "-q", "--allow-empty", "-m", "my own work")
	before := treeState(t, dir)
	code, errs := runKgen(t, "drop", dir, "--templates", fixtureTemplates)
	if code != apply.ExitNothing || !strings.Contains(errs, "does not end with a commit of the series") {
		t.Fatalf("want %d, got %d: %s", apply.ExitNothing, code, errs)
	}
	if after := treeState(t, dir); after != before {
		t.Fatal("drop changed the tree")
	}
}

func TestApplyInitPlainTree(t *testing.T) {
	dir := applyFixture(t)
	os.RemoveAll(filepath.Join(dir, ".git"))
	t.Setenv("GIT_COMMITTER_NAME", "Kgen Test")
	t.Setenv("GIT_COMMITTER_EMAIL", "kgen@test.example")
	if code, errs := runKgen(t, "apply", dir, "--templates", fixtureTemplates, "--init"); code != 0 {
		t.Fatalf("apply --init: %d %s", code, errs)
	}
	if s := gitOut(t, dir, "status", "--porcelain", "--untracked-files=all"); s != "" {
		t.Fatalf("git status after apply --init: %q", s)
	}
	if n := strings.Count(gitOut(t, dir, "log", "--format=%s"), "\n"); n != 4 {
		t.Fatalf("want baseline + 3 commits, got %d", n)
	}
}

func TestStatusDiffers(t *testing.T) {
	dir := applyFixture(t)
	if code, errs := runKgen(t, "apply", dir, "--templates", fixtureTemplates); code != 0 {
		t.Fatalf("apply: %d %s", code, errs)
	}
	// Change the last series commit behind kgen's back.
	p := filepath.Join(dir, "kernel/fork.c")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, append(data, "/* amended */\n"...), 0o644)
	gitOut(t, dir, "commit", "-q", "-a", "--amend", "--no-edit")
	code, errs := runKgen(t, "status", dir, "--templates", fixtureTemplates)
	if code != 1 || !strings.Contains(errs, "missing or different") {
		t.Fatalf("status: want 1, got %d %s", code, errs)
	}
}
