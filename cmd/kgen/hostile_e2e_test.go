package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"

	"github.com/kdefer/kdefer/internal/apply"
)

// Issue 18: kgen apply, status, drop and recover on hostile clones of the
// real 6.12 baseline. Every case runs real git in the same state first
// (what git does), then kgen (the same, or a refusal with its documented
// exit code naming the cause), and ends with git fsck --strict and git gc.

// cmdOut runs name in dir with extra environment and returns its exit
// code (-1 when killed by a signal) and combined output.
func cmdOut(t testing.TB, dir string, env []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s %v: %v", name, args, err)
		}
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func kgen(t testing.TB, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	return cmdOut(t, dir, env, builtKgen(t), args...)
}

// healthy: git fsck --strict and git gc succeed on the repository.
func healthy(t testing.TB, dir string) {
	t.Helper()
	if code, out := cmdOut(t, dir, nil, "git", "fsck", "--strict", "--no-dangling"); code != 0 {
		t.Fatalf("git fsck --strict: exit %d\n%s", code, out)
	}
	if code, out := cmdOut(t, dir, nil, "git", "gc", "-q"); code != 0 {
		t.Fatalf("git gc: exit %d\n%s", code, out)
	}
}

// ownCopy gives path a private inode (test trees are hard-link farms of
// the golden copy: never write one of their files in place).
func ownCopy(t testing.TB, p string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(p)
	if err := os.WriteFile(p, data, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
}

// userEdit appends a line to a file the way an editor that writes a new
// file does, and returns the content it left.
func userEdit(t testing.TB, dir, rel string) []byte {
	t.Helper()
	p := filepath.Join(dir, rel)
	data, _ := os.ReadFile(p)
	data = append(append([]byte{}, data...), "/* the user's edit */\n"...)
	os.Remove(p)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func mustHave(t testing.TB, dir, rel string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: the user's edit is lost (err %v)", rel, err)
	}
}

func wantExit(t testing.TB, what string, code, want int, out string, names ...string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: exit %d, want %d:\n%s", what, code, want, out)
	}
	for _, n := range names {
		if !strings.Contains(out, n) {
			t.Fatalf("%s: the message does not name %q:\n%s", what, n, out)
		}
	}
}

// seriesPaths are the paths the series changes between base and HEAD.
func seriesPaths(t testing.TB, dir, base string) []string {
	return strings.Fields(run(t, dir, "git", "diff", "--name-only", base, "HEAD"))
}

// TestE2ERecoveryProvesOverwrites (issue 18, case 1).
func TestE2ERecoveryProvesOverwrites(t *testing.T) {
	t.Run("edit after a kill, then status and recover", func(t *testing.T) {
		dir := treeCopy(t)
		code, out := kgen(t, dir, []string{"KGEN_TEST_KILL_AT=worktree"}, "apply", dir)
		if code != -1 {
			t.Fatalf("kgen apply was not killed: exit %d\n%s", code, out)
		}
		edited := userEdit(t, dir, "MAINTAINERS")
		// git in this state: index.lock is there; git refuses to write.
		gc, gout := cmdOut(t, dir, nil, "git", "add", "MAINTAINERS")
		t.Logf("git add MAINTAINERS: exit %d: %s", gc, gout)
		if gc == 0 {
			t.Fatal("git add ran with kgen's index.lock in place")
		}
		// A read-only command reports, names the command that finishes
		// it, and writes nothing.
		code, out = kgen(t, dir, nil, "status", dir)
		wantExit(t, "kgen status", code, apply.ExitLocked, out, "interrupted", "kgen recover")
		mustHave(t, dir, "MAINTAINERS", edited)
		if _, err := os.Stat(filepath.Join(dir, ".git/kgen-journal/journal.json")); err != nil {
			t.Fatal("kgen status removed the journal")
		}
		// Recovery refuses, naming the file.
		code, out = kgen(t, dir, nil, "recover", dir)
		wantExit(t, "kgen recover", code, apply.ExitDirty, out, "MAINTAINERS")
		mustHave(t, dir, "MAINTAINERS", edited)
		code, out = kgen(t, dir, nil, "apply", dir)
		wantExit(t, "kgen apply", code, apply.ExitDirty, out, "MAINTAINERS")
		mustHave(t, dir, "MAINTAINERS", edited)
		// --keep-changes: everything else goes back, the edit stays.
		code, out = kgen(t, dir, nil, "recover", dir, "--keep-changes")
		wantExit(t, "kgen recover --keep-changes", code, 0, out, "MAINTAINERS")
		mustHave(t, dir, "MAINTAINERS", edited)
		if st := run(t, dir, "git", "status", "--porcelain", "--untracked-files=all"); st != " M MAINTAINERS\n" {
			t.Fatalf("git status after recovery:\n%s", st)
		}
		healthy(t, dir)
	})
	t.Run("git's advice, reset --hard, then an edit", func(t *testing.T) {
		dir := treeCopy(t)
		base := snap(t, dir)
		code, out := kgen(t, dir, []string{"KGEN_TEST_KILL_AT=ref"}, "apply", dir)
		if code != -1 {
			t.Fatalf("kgen apply was not killed: exit %d\n%s", code, out)
		}
		// git says: remove index.lock if no git process runs.
		os.Remove(filepath.Join(dir, ".git/index.lock"))
		run(t, dir, "git", "reset", "-q", "--hard")
		edited := userEdit(t, dir, "kernel/exit.c")
		for _, args := range [][]string{{"apply", dir}, {"drop", dir}, {"recover", dir}} {
			code, out = kgen(t, dir, nil, args...)
			wantExit(t, "kgen "+args[0], code, apply.ExitDirty, out, "kernel/exit.c")
			mustHave(t, dir, "kernel/exit.c", edited)
		}
		// Put the file back as git has it: recovery goes through.
		run(t, dir, "git", "checkout", "HEAD", "--", "kernel/exit.c")
		code, out = kgen(t, dir, nil, "recover", dir)
		wantExit(t, "kgen recover", code, 0, out, "rolled back")
		if s := snap(t, dir); s != base {
			t.Fatalf("not the base after recovery:\n%+v\n%+v", base, s)
		}
		healthy(t, dir)
	})
}

// TestE2EKillEachStep (issue 18, must show 2): SIGKILL at each step of
// the transaction of kgen apply and of kgen drop, then a user edit to a
// file the series touches, then a kgen command: the edit survives, or
// the command refuses naming the file. Then fsck and gc.
func TestE2EKillEachStep(t *testing.T) {
	e2e.Long(t, "SIGKILL at each of 17 transaction points, each followed by an edit and every command")
	points := []string{"locked", "journal", "staged", "worktree", "index", "ref", "head", "committed", "installed"}
	cmds := []string{"status", "recover", "apply", "drop"}
	for _, op := range []string{"apply", "drop"} {
		for i, point := range points {
			if op == "drop" && point == "ref" {
				continue // drop creates no ref
			}
			t.Run(op+"/"+point, func(t *testing.T) {
				dir := treeCopy(t)
				mb := baseBranch(t, dir)
				if op == "drop" {
					run(t, dir, builtKgen(t), "apply", dir)
				}
				code, out := kgen(t, dir, []string{"KGEN_TEST_KILL_AT=" + point}, op, dir)
				if code != -1 {
					t.Fatalf("kgen %s was not killed at %s: exit %d\n%s", op, point, code, out)
				}
				file := []string{"kernel/exit.c", "MAINTAINERS", "kernel/fork.c", "include/linux/sched.h"}[i%4]
				edited := userEdit(t, dir, file)
				next := cmds[i%len(cmds)]
				args := []string{next, dir}
				if next == "drop" {
					args = append(args, "--to", mb)
				}
				code, out = kgen(t, dir, nil, args...)
				t.Logf("kgen %s after the kill: exit %d\n%s", next, code, out)
				mustHave(t, dir, file, edited)
				if code == apply.ExitDirty && !strings.Contains(out, file) {
					t.Fatalf("kgen %s refused without naming %s:\n%s", next, file, out)
				}
				if next == "status" && point != "locked" && (code != apply.ExitLocked || !strings.Contains(out, "kgen recover")) {
					t.Fatalf("kgen status did not report the interrupted transaction:\n%s", out)
				}
				// Whatever is left, recover keeping the edit.
				code, out = kgen(t, dir, nil, "recover", dir, "--keep-changes")
				if code != 0 {
					t.Fatalf("kgen recover --keep-changes: exit %d\n%s", code, out)
				}
				mustHave(t, dir, file, edited)
				if _, err := os.Stat(filepath.Join(dir, ".git/index.lock")); err == nil {
					t.Fatal("index.lock left behind")
				}
				st := run(t, dir, "git", "status", "--porcelain", "--untracked-files=all")
				if !strings.Contains(st, file) {
					t.Fatalf("git status does not show the edit of %s:\n%s", file, st)
				}
				healthy(t, dir)
			})
		}
	}
}

// TestE2ERefNameClash (issue 18, case 2).
func TestE2ERefNameClash(t *testing.T) {
	for _, c := range []struct{ name, existing, branch string }{
		{"packed", "unwind-deferred/v1", "unwind-deferred"},
		{"loose", "unwind-deferred/v1", "unwind-deferred"},
		{"packed-parent", "unwind", "unwind/deferred"},
		{"loose-parent", "unwind", "unwind/deferred"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := treeCopy(t)
			run(t, dir, "git", "branch", c.existing)
			if strings.HasPrefix(c.name, "packed") {
				run(t, dir, "git", "pack-refs", "--all", "--prune")
				if _, err := os.Stat(filepath.Join(dir, ".git/refs/heads", c.existing)); err == nil {
					t.Fatal("ref still loose")
				}
			}
			before := snap(t, dir)
			objs := run(t, dir, "git", "count-objects")
			code, out := cmdOut(t, dir, nil, "git", "branch", c.branch)
			t.Logf("git branch %s: exit %d: %s", c.branch, code, out)
			if code == 0 {
				t.Fatal("git accepted the clashing name")
			}
			code, out = kgen(t, dir, nil, "apply", dir, "--branch", c.branch)
			wantExit(t, "kgen apply", code, apply.ExitBranchTaken, out, c.existing, c.branch)
			if strings.Contains(out, "commit ") {
				t.Fatalf("kgen printed commits before refusing:\n%s", out)
			}
			if s := snap(t, dir); s != before {
				t.Fatalf("tree changed:\n%+v\n%+v", before, s)
			}
			if o := run(t, dir, "git", "count-objects"); o != objs {
				t.Fatalf("objects written: %s -> %s", objs, o)
			}
			run(t, dir, "git", "branch", "-D", c.existing)
			healthy(t, dir)
		})
	}
}

// linkedWorktree adds a linked worktree of dir at its HEAD on a new
// branch, populated as a hard-link farm of dir's files with a copy of
// its index (same inodes, so the stat data hold: no 87,000-file checkout).
func linkedWorktree(t testing.TB, dir, name, branch string) string {
	t.Helper()
	wt := filepath.Join(filepath.Dir(dir), name)
	run(t, dir, "git", "worktree", "add", "-q", "--no-checkout", "-b", branch, wt, "HEAD")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() == ".git" {
			continue
		}
		run(t, "/", "cp", "-al", filepath.Join(dir, e.Name()), filepath.Join(wt, e.Name()))
	}
	gd := strings.TrimSpace(run(t, wt, "git", "rev-parse", "--absolute-git-dir"))
	run(t, "/", "cp", filepath.Join(dir, ".git/index"), filepath.Join(gd, "index"))
	if st := run(t, wt, "git", "status", "--porcelain"); st != "" {
		t.Fatalf("new worktree not clean:\n%s", st)
	}
	return wt
}

// TestE2ELinkedWorktree (issue 18, case 3).
func TestE2ELinkedWorktree(t *testing.T) {
	dir := treeCopy(t)
	mb := baseBranch(t, dir)
	mainBefore := snap(t, dir)
	wt := linkedWorktree(t, dir, "wt", "topic")
	// apply, status and drop inside the linked worktree.
	code, out := kgen(t, wt, nil, "apply", wt)
	wantExit(t, "kgen apply in a linked worktree", code, 0, out)
	if st := run(t, wt, "git", "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("git status in the worktree:\n%s", st)
	}
	if got := strings.TrimSpace(run(t, wt, "git", "symbolic-ref", "HEAD")); got != "refs/heads/unwind-deferred" {
		t.Fatalf("worktree HEAD %s", got)
	}
	if got := run(t, wt, "git", "reflog", "-1", "--format=%gs"); !strings.Contains(got, "checkout: moving from topic to unwind-deferred") {
		t.Fatalf("worktree reflog: %q", got)
	}
	if s := snap(t, dir); s.head != mainBefore.head || s.branch != mainBefore.branch || s.index != mainBefore.index || s.files != mainBefore.files {
		t.Fatalf("the main work tree changed:\n%+v\n%+v", mainBefore, s)
	}
	// git itself agrees the worktree holds the branch.
	code, out = cmdOut(t, dir, nil, "git", "switch", "unwind-deferred")
	t.Logf("git switch unwind-deferred in the main tree: exit %d: %s", code, out)
	if code == 0 {
		t.Fatal("git switched to a branch checked out in the worktree")
	}
	code, out = kgen(t, wt, nil, "status", wt)
	wantExit(t, "kgen status in a linked worktree", code, 0, out)
	code, out = kgen(t, wt, nil, "drop", wt)
	wantExit(t, "kgen drop in a linked worktree", code, 0, out, "topic")
	healthy(t, wt)

	// The main tree applies; then the branch it came from is checked
	// out in a new worktree: git refuses to check it out twice, and so
	// does kgen drop.
	run(t, dir, builtKgen(t), "apply", dir)
	wt2 := filepath.Join(filepath.Dir(dir), "wt2")
	run(t, dir, "git", "worktree", "add", "-q", "--no-checkout", wt2, mb)
	code, out = cmdOut(t, dir, nil, "git", "checkout", mb)
	t.Logf("git checkout %s: exit %d: %s", mb, code, out)
	if code == 0 {
		t.Fatal("git checked out a branch that another worktree has")
	}
	before := snap(t, dir)
	code, out = kgen(t, dir, nil, "drop", dir)
	wantExit(t, "kgen drop", code, apply.ExitBranchTaken, out, mb, wt2)
	if s := snap(t, dir); s != before {
		t.Fatalf("tree changed:\n%+v\n%+v", before, s)
	}
	run(t, dir, "git", "worktree", "remove", "--force", wt2)
	code, out = kgen(t, dir, nil, "drop", dir)
	wantExit(t, "kgen drop once the worktree is gone", code, 0, out)
	healthy(t, dir)
}

// TestE2EInProgress (issue 18, case 4): each git operation in progress,
// made by real git.
func TestE2EInProgress(t *testing.T) {
	env := []string{"GIT_EDITOR=true", "GIT_SEQUENCE_EDITOR=sed -i 1ibreak"}
	commitFile := func(dir, name, content, msg string) {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		run(t, dir, "git", "add", "-f", name)
		run(t, dir, "git", "commit", "-q", "-m", msg)
	}
	for _, c := range []struct {
		name, file, abort string
		make              func(dir, mb string)
	}{
		{"am", "rebase-apply", "git am --abort", func(dir, mb string) {
			os.WriteFile(filepath.Join(dir, "bad.patch"), []byte("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: [PATCH] bad\n\n---\n--- a/no-such-file\n+++ b/no-such-file\n@@ -1 +1 @@\n-x\n+y\n"), 0o644)
			cmdOut(t, dir, env, "git", "am", "bad.patch")
			os.Remove(filepath.Join(dir, "bad.patch"))
		}},
		{"rebase", "rebase-merge", "git rebase --abort", func(dir, mb string) {
			commitFile(dir, "kgen-test-1", "1\n", "one")
			commitFile(dir, "kgen-test-2", "2\n", "two")
			cmdOut(t, dir, env, "git", "rebase", "-i", "HEAD~1")
		}},
		{"merge", "MERGE_HEAD", "git merge --abort", func(dir, mb string) {
			run(t, dir, "git", "switch", "-q", "-c", "side")
			commitFile(dir, "kgen-test-side", "s\n", "side")
			run(t, dir, "git", "switch", "-q", mb)
			commitFile(dir, "kgen-test-main", "m\n", "main")
			cmdOut(t, dir, env, "git", "merge", "--no-commit", "--no-ff", "side")
		}},
		{"cherry-pick", "CHERRY_PICK_HEAD", "git cherry-pick --abort", func(dir, mb string) {
			run(t, dir, "git", "switch", "-q", "-c", "side")
			commitFile(dir, "kgen-test", "side\n", "side")
			run(t, dir, "git", "switch", "-q", mb)
			commitFile(dir, "kgen-test", "main\n", "main")
			cmdOut(t, dir, env, "git", "cherry-pick", "side")
			run(t, dir, "git", "checkout", "--theirs", "kgen-test")
			run(t, dir, "git", "add", "-f", "kgen-test")
		}},
		{"revert", "REVERT_HEAD", "git revert --abort", func(dir, mb string) {
			commitFile(dir, "kgen-test", "1\n", "one")
			commitFile(dir, "kgen-test", "2\n", "two")
			cmdOut(t, dir, env, "git", "revert", "--no-edit", "HEAD~1")
			run(t, dir, "git", "checkout", "--ours", "kgen-test")
			run(t, dir, "git", "add", "-f", "kgen-test")
		}},
		{"bisect", "BISECT_LOG", "git bisect reset", func(dir, mb string) {
			run(t, dir, "git", "bisect", "start")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := treeCopy(t)
			mb := baseBranch(t, dir)
			c.make(dir, mb)
			if _, err := os.Stat(filepath.Join(dir, ".git", c.file)); err != nil {
				t.Fatalf("git did not leave %s", c.file)
			}
			before := snap(t, dir)
			code, out := cmdOut(t, dir, nil, "git", "switch", "-c", "kgen-probe")
			t.Logf("git switch -c: exit %d: %s", code, strings.TrimSpace(out))
			if c.name != "bisect" {
				if code == 0 {
					t.Fatal("git switch ran")
				}
			} else {
				run(t, dir, "git", "switch", "-q", "-")
				run(t, dir, "git", "branch", "-q", "-D", "kgen-probe")
			}
			code, out = kgen(t, dir, nil, "apply", dir)
			wantExit(t, "kgen apply", code, apply.ExitDirty, out, c.file, c.abort)
			if s := snap(t, dir); s != before {
				t.Fatalf("tree changed:\n%+v\n%+v", before, s)
			}
			cmdOut(t, dir, env, "sh", "-c", c.abort)
			healthy(t, dir)
		})
	}
}

var reflogRE = regexp.MustCompile(`^[0-9a-f]{40} [0-9a-f]{40} [^<>\n]+ <[^<>\n]*> \d+ [+-]\d{4}\t[^\n]+$`)

// checkReflog checks the last line of a reflog against git's format and
// message.
func checkReflog(t testing.TB, path, wantMsg string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no reflog %s", path)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	last := lines[len(lines)-1]
	if !reflogRE.MatchString(last) || !strings.Contains(last, wantMsg) {
		t.Fatalf("%s: last entry %q, want git's format with %q", path, last, wantMsg)
	}
}

// TestE2EReflogRollForward (issue 18, case 5).
func TestE2EReflogRollForward(t *testing.T) {
	for _, point := range []string{"committed", "installed"} {
		t.Run(point, func(t *testing.T) {
			dir := treeCopy(t)
			mb := baseBranch(t, dir)
			// git's own entries, for the format.
			run(t, dir, "git", "switch", "-q", "-c", "git-made")
			checkReflog(t, filepath.Join(dir, ".git/logs/HEAD"), "checkout: moving from "+mb+" to git-made")
			run(t, dir, "git", "switch", "-q", mb)
			run(t, dir, "git", "branch", "-D", "git-made")
			code, out := kgen(t, dir, []string{"KGEN_TEST_KILL_AT=" + point}, "apply", dir)
			if code != -1 {
				t.Fatalf("not killed: exit %d\n%s", code, out)
			}
			code, out = kgen(t, dir, nil, "recover", dir)
			wantExit(t, "kgen recover", code, 0, out, "completed")
			checkReflog(t, filepath.Join(dir, ".git/logs/HEAD"), "checkout: moving from "+mb+" to unwind-deferred")
			checkReflog(t, filepath.Join(dir, ".git/logs/refs/heads/unwind-deferred"), "branch: Created from")
			if got := run(t, dir, "git", "reflog", "-1", "--format=%gs"); !strings.Contains(got, "checkout: moving from "+mb+" to unwind-deferred") {
				t.Fatalf("git reflog: %q", got)
			}
			if got := strings.TrimSpace(run(t, dir, "git", "rev-parse", "unwind-deferred@{0}")); got != strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD")) {
				t.Fatalf("unwind-deferred@{0} = %s", got)
			}
			code, out = kgen(t, dir, nil, "drop", dir)
			wantExit(t, "kgen drop (finds the branch in the reflog)", code, 0, out, mb)
			checkReflog(t, filepath.Join(dir, ".git/logs/HEAD"), "checkout: moving from unwind-deferred to "+mb)
			if _, err := os.Stat(filepath.Join(dir, ".git/logs/refs/heads/unwind-deferred")); err == nil {
				t.Fatal("the deleted branch's reflog is left")
			}
			healthy(t, dir)
		})
	}
}

// TestE2EAttributes (issue 18, case 6): where git status is clean and
// git am applies, kgen applies too, and writes the files git am writes.
func TestE2EAttributes(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string, paths []string)
	}{
		{"autocrlf", func(t *testing.T, dir string, paths []string) {
			run(t, dir, "git", "config", "core.autocrlf", "true")
			// Half the files re-checked-out by git (CRLF), half left as
			// the LF checkout made before the setting.
			for i, p := range paths {
				if i%2 == 0 {
					if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
						os.Remove(filepath.Join(dir, p))
						run(t, dir, "git", "checkout", "--", p)
					}
				}
			}
		}},
		{"gitattributes", func(t *testing.T, dir string, paths []string) {
			ownCopy(t, filepath.Join(dir, ".gitattributes"))
			f, _ := os.OpenFile(filepath.Join(dir, ".gitattributes"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
			f.WriteString("* text=auto eol=crlf\n")
			f.Close()
			run(t, dir, "git", "add", ".gitattributes")
			run(t, dir, "git", "commit", "-q", "-m", "eol=crlf")
			for _, p := range paths {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					os.Remove(filepath.Join(dir, p))
					run(t, dir, "git", "checkout", "--", p)
				}
			}
		}},
		{"filemode", func(t *testing.T, dir string, paths []string) {
			run(t, dir, "git", "config", "core.fileMode", "false")
			for _, p := range paths {
				if fi, err := os.Stat(filepath.Join(dir, p)); err == nil {
					ownCopy(t, filepath.Join(dir, p))
					os.Chmod(filepath.Join(dir, p), fi.Mode()|0o111)
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := treeCopy(t)
			mb := baseBranch(t, dir)
			base0 := strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD"))
			// The paths the series touches, from a throwaway apply.
			run(t, dir, builtKgen(t), "apply", dir)
			paths := seriesPaths(t, dir, base0)
			run(t, dir, builtKgen(t), "drop", dir)
			c.setup(t, dir, paths)
			base := strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD"))
			// git: clean, nothing to stash.
			if st := run(t, dir, "git", "status", "--porcelain"); st != "" {
				t.Fatalf("git status not clean:\n%s", st)
			}
			if out := run(t, dir, "git", "stash"); !strings.Contains(out, "No local changes to save") {
				t.Fatalf("git stash: %s", out)
			}
			code, out := kgen(t, dir, nil, "apply", dir)
			wantExit(t, "kgen apply", code, 0, out)
			if st := run(t, dir, "git", "status", "--porcelain", "--untracked-files=all"); st != "" {
				t.Fatalf("git status after kgen apply:\n%s", st)
			}
			if st := run(t, dir, "git", "diff-files", "--name-only"); st != "" {
				t.Fatalf("stale stat data after kgen apply:\n%s", st)
			}
			kgenFiles := map[string]string{}
			for _, p := range paths {
				data, err := os.ReadFile(filepath.Join(dir, p))
				fi, _ := os.Lstat(filepath.Join(dir, p))
				if err == nil {
					kgenFiles[p] = fmt.Sprintf("%v %q", fi.Mode(), data)
				}
			}
			code, out = kgen(t, dir, nil, "drop", dir)
			wantExit(t, "kgen drop", code, 0, out)
			if st := run(t, dir, "git", "status", "--porcelain", "--untracked-files=all"); st != "" {
				t.Fatalf("git status after kgen drop:\n%s", st)
			}
			// git am on the same state writes the same files.
			run(t, dir, "git", "switch", "-q", "-c", "am-check", base)
			run(t, dir, "git", append([]string{"am", "-q"}, patchFiles(t)...)...)
			crlf := 0
			for _, p := range paths {
				data, err := os.ReadFile(filepath.Join(dir, p))
				fi, _ := os.Lstat(filepath.Join(dir, p))
				if err != nil {
					continue
				}
				if got := fmt.Sprintf("%v %q", fi.Mode(), data); got != kgenFiles[p] {
					t.Errorf("%s: kgen wrote %.120s…, git am %.120s…", p, kgenFiles[p], got)
				}
				if bytes.Contains(data, []byte("\r\n")) {
					crlf++
				}
			}
			t.Logf("%d files compared with git am, %d with CRLF", len(kgenFiles), crlf)
			if c.name != "filemode" && crlf == 0 {
				t.Fatal("no CRLF file: the case tests nothing")
			}
			run(t, dir, "git", "switch", "-q", mb)
			healthy(t, dir)
		})
	}
}

// TestE2ESigintWhileRendering (issue 18, case 7).
func TestE2ESigintWhileRendering(t *testing.T) {
	dir := treeCopy(t)
	before := snap(t, dir)
	cmd := exec.Command(builtKgen(t), "apply", dir)
	cmd.Env = append(os.Environ(), "KGEN_TEST_RENDER_PAUSE_MS=3000")
	stderr, _ := cmd.StderrPipe()
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "kgen-test: paused at render") {
			// In the middle of the rendering (probes done, templates not).
			cmd.Process.Signal(syscall.SIGINT)
			break
		}
	}
	rest := make(chan []byte)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(stderr)
		rest <- b.Bytes()
	}()
	select {
	case b := <-rest:
		out.Write(b)
	case <-time.After(2 * time.Minute):
		t.Fatal("kgen did not stop")
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, out.String())
	}
	if s := snap(t, dir); s != before {
		t.Fatalf("tree changed:\n%+v\n%+v", before, s)
	}
	healthy(t, dir)
}
