package gitapply

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/gitobj"
)

// Diff gives what real git diff-tree -r --no-renames gives, between two
// commits (a file modified, added, deleted, made executable, a file
// replaced by a directory and the reverse, a symlink, an untouched
// subtree) and from the empty tree.
func TestDiffEqualsGitDiffTree(t *testing.T) {
	dir := newRepo(t)
	a := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	write := func(p, c string, mode os.FileMode) {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("kernel/fork.c", "int fork2;\n", 0o644)
	write("kernel/new.c", "int n;\n", 0o644)
	os.Remove(filepath.Join(dir, "kernel/exit.c"))
	os.Chmod(filepath.Join(dir, "include/linux/a.h"), 0o755)
	os.Remove(filepath.Join(dir, "Makefile"))
	write("Makefile/inner", "now a directory\n", 0o644)
	os.RemoveAll(filepath.Join(dir, "scripts"))
	write("scripts", "now a file\n", 0o644)
	if err := os.Symlink("kernel/fork.c", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "changes")
	b := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))

	st, err := gitobj.OpenStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	treeOf := func(c string) plumbing.Hash {
		return plumbing.NewHash(strings.TrimSpace(git(t, dir, "rev-parse", c+"^{tree}")))
	}
	const empty = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
	for _, c := range []struct{ from, to string }{{a, b}, {b, a}, {empty, b}} {
		from := plumbing.ZeroHash
		if c.from != empty {
			from = treeOf(c.from)
		}
		got, err := Diff(st, from, treeOf(c.to))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, ch := range got {
			lines = append(lines, fmt.Sprintf(":%06o %06o %s %s %s", uint32(ch.OldMode), uint32(ch.NewMode), ch.OldHash, ch.NewHash, ch.Path))
		}
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(git(t, dir, "diff-tree", "-r", "--no-renames", "--full-index", c.from, c.to)), "\n") {
			// ":100644 100644 OLD NEW M\tpath": the status letter left out
			meta, path, _ := strings.Cut(l, "\t")
			f := strings.Fields(meta)
			if len(f) == 5 {
				want = append(want, fmt.Sprintf("%s %s %s %s %s", f[0], f[1], f[2], f[3], path))
			}
		}
		if g, w := strings.Join(lines, "\n"), strings.Join(want, "\n"); g != w {
			t.Errorf("Diff %.7s..%.7s:\n%s\ngit diff-tree:\n%s", c.from, c.to, g, w)
		}
	}
}
