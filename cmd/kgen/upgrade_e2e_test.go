package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/apply"
)

// v1Tree returns a private copy of the 6.12 tree on branch
// unwind-deferred carrying version 1 of the series as published
// (patches/v1, applied with real git am) and one commit of the user's on
// top (README), and the tip.
func v1Tree(t *testing.T) (dir, tip string) {
	t.Helper()
	dir = treeCopy(t)
	ps := patchFiles(t, "v1")
	run(t, dir, "git", "switch", "-q", "-c", "unwind-deferred")
	run(t, dir, "git", append([]string{"am", "-q"}, ps...)...)
	// The copy shares its files with the golden one by hard links: a
	// changed file must be a new file (git itself replaces by rename).
	writeNew(t, filepath.Join(dir, "README"), []byte("a note of mine\n"))
	run(t, dir, "git", "commit", "-qam", "README: a note of mine")
	return dir, strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD"))
}

// TestE2EUpgrade: a tree carrying v1 is upgraded to the current version by
// kgen apply --upgrade; status tells v1 before and the current rendering
// after, the user's commit stays on top, git fsck and git status are clean.
func TestE2EUpgrade(t *testing.T) {
	dir, tip := v1Tree(t)
	bin := builtKgen(t)
	c := exec.Command(bin, "status", dir)
	c.Dir = "../.."
	o, _ := c.CombinedOutput()
	out := string(o)
	if c.ProcessState.ExitCode() != 1 || !strings.Contains(out, "version   carries v1 (kept in patches/v1): all 14 patches, by patch id; not the current rendering") {
		t.Errorf("status before the upgrade:\n%s", out)
	}
	out = run(t, "../..", bin, "apply", "--upgrade", "--signoff", dir)
	t.Log(out)
	if !strings.Contains(out, "carries v1") || !strings.Contains(out, "1 commits of yours") {
		t.Errorf("upgrade output:\n%s", out)
	}
	if b := strings.TrimSpace(run(t, dir, "git", "symbolic-ref", "--short", "HEAD")); b != "unwind-deferred-v2" {
		t.Errorf("on branch %s after the upgrade", b)
	}
	if refs := run(t, dir, "git", "for-each-ref", "--format=%(refname:short)", "refs/heads"); strings.Contains(refs, "unwind-deferred\n") {
		t.Errorf("the old branch is still there: %s", refs)
	}
	if s := run(t, dir, "git", "log", "-1", "--format=%s", "HEAD"); strings.TrimSpace(s) != "README: a note of mine" {
		t.Errorf("the user's commit is not on top: %q", s)
	}
	if msg := run(t, dir, "git", "log", "-1", "--format=%B", "HEAD~1"); !strings.Contains(msg, "Signed-off-by: Kgen E2E <kgen-e2e@example.org>") || strings.Contains(msg, "kdefer@example.org") {
		t.Errorf("the upgraded commits do not carry the applier's sign-off only:\n%s", msg)
	}
	if st := run(t, dir, "git", "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("git status after the upgrade:\n%s", st)
	}
	run(t, dir, "git", "fsck", "--no-dangling")
	out = run(t, "../..", bin, "status", dir)
	if !strings.Contains(out, "equal to the current rendering") || !strings.Contains(out, "carries the whole series as the templates render it now") {
		t.Errorf("status after the upgrade:\n%s", out)
	}
	// Again: nothing to do, exit 15.
	c = exec.Command(bin, "apply", "--upgrade", dir)
	c.Dir = "../.."
	if o, _ := c.CombinedOutput(); c.ProcessState.ExitCode() != apply.ExitApplied {
		t.Errorf("a second upgrade: exit %d, want %d\n%s", c.ProcessState.ExitCode(), apply.ExitApplied, o)
	}
	_ = tip
}

// TestE2EUpgradeRefusesOwnCommit: a commit of the user's that changes a
// file of the series stops the upgrade before anything is written, and is
// named.
func TestE2EUpgradeRefusesOwnCommit(t *testing.T) {
	dir, _ := v1Tree(t)
	bin := builtKgen(t)
	f := filepath.Join(dir, "kernel", "fork.c")
	data, _ := os.ReadFile(f)
	writeNew(t, f, append(data, []byte("/* mine */\n")...))
	run(t, dir, "git", "commit", "-qam", "fork: a comment of mine")
	before := snap(t, dir)
	c := exec.Command(bin, "apply", "--upgrade", dir)
	c.Dir = "../.."
	out, _ := c.CombinedOutput()
	if c.ProcessState.ExitCode() != exitOwnCommits || !strings.Contains(string(out), "fork: a comment of mine (changes kernel/fork.c)") {
		t.Errorf("exit %d, want %d naming the commit:\n%s", c.ProcessState.ExitCode(), exitOwnCommits, out)
	}
	if after := snap(t, dir); after != before {
		t.Errorf("a refused upgrade changed the tree:\n%+v\n%+v", before, after)
	}
}

// TestE2EUpgradeKill kills kgen apply --upgrade at random moments (SIGKILL
// and SIGINT): afterwards, once kgen recover has recovered the journal
// (kgen status only reads, and reports an interrupted transaction),
// the tree carries v1 on its old branch or the upgrade on the new one,
// never a mix; git fsck is clean at the end.
func TestE2EUpgradeKill(t *testing.T) {
	dir, tip := v1Tree(t)
	bin := builtKgen(t)
	k := killTest{
		dir: dir,
		cmd: func() *exec.Cmd {
			c := exec.Command(bin, "apply", "--upgrade", dir)
			c.Dir = "../.."
			c.Env = append(os.Environ(), "KGEN_TEST_PAUSE_MS=40")
			return c
		},
		rounds: killRounds(16),
		tenths: 5,
	}
	k.undo = func() {
		run(t, dir, "git", "branch", "-f", "unwind-deferred", tip)
		run(t, dir, "git", "switch", "-q", "unwind-deferred")
		run(t, dir, "git", "branch", "-q", "-D", "unwind-deferred-v2")
		if s := snap(t, dir); !s.backAt(k.from) {
			t.Fatalf("could not go back to v1: %+v", s)
		}
	}
	k.start(t)
	nOld, nUp, _ := k.run(t)
	t.Logf("%d rounds (a paused run takes %v): %d left v1, %d upgraded", k.rounds, k.full, nOld, nUp)
}

// writeNew replaces name by a new file (never writing through a hard link).
func writeNew(t *testing.T, name string, data []byte) {
	t.Helper()
	os.Remove(name)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
