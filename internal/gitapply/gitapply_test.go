package gitapply

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/gitobj"
)

// git runs git in dir as a fixed committer and returns its output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return e2e.GitAs(t, dir, args...)
}

// newRepo makes a small repository with a few files in nested directories.
func newRepo(t *testing.T) string {
	t.Helper()
	return e2e.Repo(t, map[string]string{
		"Makefile":          "VERSION = 6\nPATCHLEVEL = 12\n",
		"kernel/fork.c":     "int fork;\n",
		"kernel/exit.c":     "int exit;\n",
		"include/linux/a.h": "#define A 1\n",
		"scripts/run.sh":    "#!/bin/sh\necho hi\n",
		"untouched/x.c":     "x\n",
	})
}

// commitOn builds a commit on parent that sets (or, for "", deletes) files.
func commitOn(t *testing.T, s storer.EncodedObjectStorer, parent plumbing.Hash, subject string, files map[string]string) plumbing.Hash {
	t.Helper()
	pc, err := object.GetCommit(s, parent)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := editTree(s, pc.TreeHash, "", files)
	if err != nil {
		t.Fatal(err)
	}
	sig := object.Signature{Name: "A", Email: "a@x", When: time.Unix(1700000000, 0).UTC()}
	c := &object.Commit{Author: sig, Committer: sig, Message: subject + "\n", TreeHash: tree, ParentHashes: []plumbing.Hash{parent}}
	o := s.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		t.Fatal(err)
	}
	h, err := s.SetEncodedObject(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// editTree is a small test helper (the real series is built by render).
func editTree(s storer.EncodedObjectStorer, h plumbing.Hash, prefix string, files map[string]string) (plumbing.Hash, error) {
	ents := map[string]object.TreeEntry{}
	if !h.IsZero() {
		t, err := object.GetTree(s, h)
		if err != nil {
			return h, err
		}
		for _, e := range t.Entries {
			ents[e.Name] = e
		}
	}
	sub := map[string]map[string]string{}
	for p, c := range files {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		rest := p[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			d := rest[:i]
			if sub[d] == nil {
				sub[d] = map[string]string{}
			}
			sub[d][p] = c
			continue
		}
		if c == "" {
			delete(ents, rest)
			continue
		}
		o := s.NewEncodedObject()
		o.SetType(plumbing.BlobObject)
		w, _ := o.Writer()
		w.Write([]byte(c))
		w.Close()
		bh, err := s.SetEncodedObject(o)
		if err != nil {
			return h, err
		}
		ents[rest] = object.TreeEntry{Name: rest, Mode: filemode.Regular, Hash: bh}
	}
	for d, f := range sub {
		var old plumbing.Hash
		if e, ok := ents[d]; ok {
			old = e.Hash
		}
		nh, err := editTree(s, old, prefix+d+"/", f)
		if err != nil {
			return h, err
		}
		ents[d] = object.TreeEntry{Name: d, Mode: filemode.Dir, Hash: nh}
	}
	t := &object.Tree{}
	for _, e := range ents {
		t.Entries = append(t.Entries, e)
	}
	sortTree(t.Entries)
	o := s.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return h, err
	}
	return s.SetEncodedObject(o)
}

func sortTree(es []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && key(es[j]) < key(es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// state is everything a switch may change, as git sees it.
func state(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(git(t, dir, "symbolic-ref", "-q", "HEAD"))
	b.WriteString(git(t, dir, "for-each-ref", "--format=%(refname) %(objectname)"))
	sum := sha256.Sum256([]byte(git(t, dir, "ls-files", "-s")))
	fmt.Fprintf(&b, "index %x\n", sum)
	b.WriteString("status:" + git(t, dir, "status", "--porcelain", "--untracked-files=all") + "\n")
	for _, p := range []string{"kernel/fork.c", "kernel/exit.c", "kernel/unwind/deferred.c", "include/linux/a.h", "scripts/run.sh"} {
		data, err := os.ReadFile(filepath.Join(dir, p))
		fmt.Fprintf(&b, "%s %q %v\n", p, data, err != nil)
	}
	return b.String()
}

type fixture struct {
	dir  string
	r    *Repo
	base plumbing.Hash
	tip  plumbing.Hash
	ov   *gitobj.Overlay
}

func setup(t *testing.T) *fixture {
	dir := newRepo(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	ov := gitobj.NewOverlay(r.S)
	c1 := commitOn(t, ov, head.Commit, "one: add unwind", map[string]string{"kernel/unwind/deferred.c": "new\n", "kernel/fork.c": "int fork;\nunwind();\n"})
	c2 := commitOn(t, ov, c1, "two: more", map[string]string{"kernel/exit.c": "", "include/linux/a.h": "#define A 2\n"})
	return &fixture{dir: dir, r: r, base: head.Commit, tip: c2, ov: ov}
}

// prepare prepares the switch of f.sw() or fails t.
func (f *fixture) prepare(t *testing.T) *Plan {
	t.Helper()
	return mustPrepare(t, f.r, f.ov, f.sw())
}

func mustPrepare(t *testing.T, r *Repo, objs storer.EncodedObjectStorer, sw Switch) *Plan {
	t.Helper()
	p, err := Prepare(r, objs, sw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustExecute(t *testing.T, p *Plan) {
	t.Helper()
	if err := p.Execute(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) sw() Switch {
	return Switch{From: f.base, To: f.tip, Branch: "refs/heads/series", Create: true, Message: "checkout: moving from master to series"}
}

func TestApplyTouchesOnlyChangedPaths(t *testing.T) {
	f := setup(t)
	// A local change elsewhere is kept.
	os.WriteFile(filepath.Join(f.dir, "untouched/x.c"), []byte("local\n"), 0o644)
	p := f.prepare(t)
	var paths []string
	for _, c := range p.Changes {
		paths = append(paths, c.Path)
	}
	if got := strings.Join(paths, " "); got != "include/linux/a.h kernel/exit.c kernel/fork.c kernel/unwind/deferred.c" {
		t.Fatalf("changes %q", got)
	}
	mustExecute(t, p)
	if got := git(t, f.dir, "status", "--porcelain"); got != " M untouched/x.c\n" {
		t.Fatalf("status after apply: %q", got)
	}
	if out := git(t, f.dir, "diff-files", "--name-only"); out != "untouched/x.c\n" {
		t.Fatalf("stat data not exact: diff-files lists %q", out)
	}
	git(t, f.dir, "fsck", "--strict")
	if got := strings.TrimSpace(git(t, f.dir, "rev-parse", "HEAD")); got != f.tip.String() {
		t.Fatalf("HEAD %s", got)
	}
	if _, err := os.Stat(JournalDir(f.r.GitDir)); !os.IsNotExist(err) {
		t.Fatal("journal left behind")
	}
	if !strings.Contains(git(t, f.dir, "reflog", "-1"), "checkout: moving from master to series") {
		t.Fatal("no reflog entry")
	}
	// And back (kgen drop), deleting the branch.
	r2, _ := Open(f.dir)
	p2 := mustPrepare(t, r2, r2.S, Switch{From: f.tip, To: f.base, Branch: "refs/heads/master", Delete: "refs/heads/series", DeleteAt: f.tip, Message: "checkout: moving from series to master"})
	mustExecute(t, p2)
	if got := git(t, f.dir, "status", "--porcelain", "--untracked-files=all"); got != " M untouched/x.c\n" {
		t.Fatalf("status after drop: %q", got)
	}
	if got := git(t, f.dir, "branch", "--list", "series"); got != "" {
		t.Fatalf("branch not deleted: %q", got)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "kernel/unwind")); !os.IsNotExist(err) {
		t.Fatal("created directory not removed")
	}
}

func TestDirtyRule(t *testing.T) {
	for name, mess := range map[string]func(t *testing.T, dir string){
		"work tree": func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "kernel/fork.c"), []byte("edited\n"), 0o644)
		},
		"index": func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "include/linux/a.h"), []byte("x\n"), 0o644)
			git(t, d, "add", "include/linux/a.h")
		},
		"untracked": func(t *testing.T, d string) {
			os.MkdirAll(filepath.Join(d, "kernel/unwind"), 0o755)
			os.WriteFile(filepath.Join(d, "kernel/unwind/deferred.c"), []byte("mine\n"), 0o644)
		},
		"deleted file":    func(t *testing.T, d string) { os.Remove(filepath.Join(d, "kernel/exit.c")) },
		"mode (exec bit)": func(t *testing.T, d string) { os.Chmod(filepath.Join(d, "kernel/fork.c"), 0o755) },
	} {
		t.Run(name, func(t *testing.T) {
			f := setup(t)
			mess(t, f.dir)
			before := state(t, f.dir)
			_, err := Prepare(f.r, f.ov, f.sw())
			var de *DirtyError
			if !errors.As(err, &de) {
				t.Fatalf("want DirtyError, got %v", err)
			}
			if after := state(t, f.dir); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}

// TestRollbackAtEveryPoint fails the transaction at each of its points and
// checks that nothing changed.
func TestRollbackAtEveryPoint(t *testing.T) {
	for _, point := range []string{"locked", "journal", "staged", "worktree", "index", "ref", "head"} {
		t.Run(point, func(t *testing.T) {
			f := setup(t)
			before := state(t, f.dir)
			p := f.prepare(t)
			Hook = func(p string) error {
				if p == point {
					return errors.New("injected")
				}
				return nil
			}
			defer func() { Hook = nil }()
			if err := p.Execute(); err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("want injected error, got %v", err)
			}
			if after := state(t, f.dir); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
			if out := git(t, f.dir, "diff-files", "--name-only"); out != "" {
				t.Fatalf("restored files lost their stat data: %q", out)
			}
			if _, err := os.Stat(JournalDir(f.r.GitDir)); !os.IsNotExist(err) {
				t.Fatal("journal left behind")
			}
			if _, err := os.Stat(filepath.Join(f.r.GitDir, "index.lock")); !os.IsNotExist(err) {
				t.Fatal("index.lock left behind")
			}
		})
	}
}

// TestRecoverAfterCrash simulates a crash (the process dies: no deferred
// rollback) at every point, then runs Recover as the next kgen would.
func TestRecoverAfterCrash(t *testing.T) {
	for _, point := range []string{"locked", "journal", "staged", "worktree", "index", "ref", "head", "committed", "installed"} {
		t.Run(point, func(t *testing.T) {
			f := setup(t)
			before := state(t, f.dir)
			p := f.prepare(t)
			crash(p, point)
			if _, err := os.Stat(JournalDir(f.r.GitDir)); err != nil {
				t.Fatal("no journal after the crash")
			}
			msg, err := Recover(f.r, false)
			if err != nil {
				t.Fatal(err)
			}
			after := state(t, f.dir)
			if point == "committed" || point == "installed" {
				if !strings.Contains(msg, "completed") || !strings.Contains(after, "refs/heads/series") || strings.Contains(after, "status: M") {
					t.Fatalf("want roll forward, got %q:\n%s", msg, after)
				}
				if got := git(t, f.dir, "status", "--porcelain"); got != "" {
					t.Fatalf("status after roll forward: %q", got)
				}
			} else if after != before {
				t.Fatalf("%s: state changed:\n%s\n%s", msg, before, after)
			}
			if _, err := os.Stat(filepath.Join(f.r.GitDir, "index.lock")); !os.IsNotExist(err) {
				t.Fatal("index.lock left behind")
			}
		})
	}
}

type crashed struct{}

// crash runs p.Execute and stops it dead at point, as SIGKILL would.
func crash(p *Plan, point string) {
	Hook = func(q string) error {
		if q == point {
			panic(crashed{})
		}
		return nil
	}
	defer func() {
		Hook = nil
		if v := recover(); v != nil {
			if _, ok := v.(crashed); !ok {
				panic(v)
			}
		}
	}()
	p.Execute()
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestIndexSpliceEqualsGoGit(t *testing.T) {
	f := setup(t)
	p := f.prepare(t)
	mustExecute(t, p)
	// The spliced index must decode with go-git and hold what git says.
	idx, err := ReadIndex(f.r.GitDir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range idx.Entries {
		fmt.Fprintf(&b, "%o %s 0\t%s\n", uint32(e.Mode), e.Hash, e.Name)
	}
	if got, want := b.String(), git(t, f.dir, "ls-files", "-s"); got != want {
		t.Fatalf("go-git reads\n%s\ngit reads\n%s", got, want)
	}
}

// TestIndexVersions: v3 (an extended flag on an untouched entry, which
// must survive) and v4 (decoded and encoded whole) indexes.
func TestIndexVersions(t *testing.T) {
	for _, v := range []string{"3", "4"} {
		t.Run("v"+v, func(t *testing.T) {
			f := setup(t)
			git(t, f.dir, "update-index", "--index-version", v)
			if v == "3" {
				git(t, f.dir, "update-index", "--skip-worktree", "untouched/x.c")
			}
			p := f.prepare(t)
			mustExecute(t, p)
			if got := git(t, f.dir, "status", "--porcelain", "--untracked-files=all"); got != "" {
				t.Fatalf("status: %q", got)
			}
			if got := git(t, f.dir, "diff-index", "--cached", "--name-only", "HEAD"); got != "" {
				t.Fatalf("index differs from HEAD: %q", got)
			}
			if v == "3" && !strings.Contains(git(t, f.dir, "ls-files", "-v", "untouched/x.c"), "S untouched/x.c") {
				t.Fatal("skip-worktree flag lost")
			}
		})
	}
}

// TestRecoverNeverOverwritesAnEdit: a crash at each point, then an edit
// to a changed file (in place, through the backup's hard link when
// there is one, or as a new file), then Recover: it refuses naming the
// file, or finishes without writing it; with keep it recovers the rest
// and the edit stays.
func TestRecoverNeverOverwritesAnEdit(t *testing.T) {
	for _, point := range []string{"journal", "staged", "worktree", "index", "ref", "head", "committed", "installed"} {
		for _, inPlace := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/inplace=%v", point, inPlace), func(t *testing.T) {
				f := setup(t)
				p := f.prepare(t)
				crash(p, point)
				path := filepath.Join(f.dir, "include/linux/a.h")
				data, _ := os.ReadFile(path)
				want := append(data, "/* edit */\n"...)
				if inPlace {
					fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
					if err != nil {
						t.Fatal(err)
					}
					fh.WriteString("/* edit */\n")
					fh.Close()
				} else {
					os.Remove(path)
					os.WriteFile(path, want, 0o644)
				}
				msg, err := Recover(f.r, false)
				var ce *ConflictError
				switch {
				case errors.As(err, &ce):
					if !strings.Contains(err.Error(), "include/linux/a.h") {
						t.Fatalf("refusal does not name the file: %v", err)
					}
					if got, _ := os.ReadFile(path); string(got) != string(want) {
						t.Fatalf("refused, but the edit is gone: %q", got)
					}
					if msg, err = Recover(f.r, true); err != nil {
						t.Fatal(err)
					}
				case err != nil:
					t.Fatal(err)
				}
				if got, _ := os.ReadFile(path); string(got) != string(want) {
					t.Fatalf("%s: the edit is gone: %q", msg, got)
				}
				if got := git(t, f.dir, "status", "--porcelain", "include/linux/a.h"); !strings.Contains(got, "M include/linux/a.h") {
					t.Fatalf("%s: git status does not show the edit: %q", msg, got)
				}
				git(t, f.dir, "fsck", "--strict")
			})
		}
	}
}

// TestRollForwardAfterLockRemoved: killed past the point of no return,
// then the user removes index.lock as git advises: recovery sets the new
// entries in the index, and writes the reflogs.
func TestRollForwardAfterLockRemoved(t *testing.T) {
	f := setup(t)
	p := f.prepare(t)
	crash(p, "committed")
	os.Remove(filepath.Join(f.r.GitDir, "index.lock"))
	if _, err := Recover(f.r, false); err != nil {
		t.Fatal(err)
	}
	if got := git(t, f.dir, "status", "--porcelain", "--untracked-files=all"); got != "" {
		t.Fatalf("status: %q", got)
	}
	if got := git(t, f.dir, "reflog", "-1", "--format=%gs"); !strings.Contains(got, "checkout: moving from master to series") {
		t.Fatalf("reflog: %q", got)
	}
}
