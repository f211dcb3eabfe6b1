package gitobj

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// OpenStorage reads every object of a real "git clone --shared" of a
// shared clone (alternates of alternates: go-git followed one level, so
// the files of the first repository were "object not found"), and of a
// clone whose alternates line is relative, as git writes it for
// "git clone --shared ../src": HEAD's tree, each file as git cat-file
// prints it, HasEncodedObject and EncodedObjectSize included.
func TestOpenStorageFollowsAlternates(t *testing.T) {
	src := newRepo(t)
	root := t.TempDir()
	mid, top := filepath.Join(root, "mid"), filepath.Join(root, "top")
	git(t, root, "clone", "-q", "--shared", src, mid)
	os.WriteFile(filepath.Join(mid, "kernel/exit.c"), []byte("int exit_mid;\n"), 0o644)
	git(t, mid, "commit", "-qam", "in the middle clone")
	git(t, root, "clone", "-q", "--shared", mid, top)
	os.WriteFile(filepath.Join(top, "Makefile"), []byte("VERSION = 7\n"), 0o644)
	git(t, top, "commit", "-qam", "in the top clone")

	rel := filepath.Join(root, "rel")
	git(t, root, "clone", "-q", "--shared", src, rel)
	alt := filepath.Join(rel, ".git", "objects", "info", "alternates")
	r, err := filepath.Rel(filepath.Join(rel, ".git", "objects"), filepath.Join(src, ".git", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alt, []byte(r+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, rel, "fsck", "--no-progress") // git itself reads the relative line

	for _, dir := range []string{top, rel} {
		st, err := OpenStorage(dir)
		if err != nil {
			t.Fatal(err)
		}
		head, err := storer.ResolveReference(st, plumbing.HEAD)
		if err != nil {
			t.Fatalf("%s: HEAD: %v", dir, err)
		}
		c, err := object.GetCommit(st, head.Hash())
		if err != nil {
			t.Fatalf("%s: HEAD commit: %v", dir, err)
		}
		tree, err := c.Tree()
		if err != nil {
			t.Fatalf("%s: HEAD tree: %v", dir, err)
		}
		n := 0
		err = tree.Files().ForEach(func(f *object.File) error {
			n++
			got, err := f.Contents()
			if err != nil {
				t.Errorf("%s: %s: %v", dir, f.Name, err)
				return nil
			}
			if want := git(t, dir, "cat-file", "blob", f.Hash.String()); got != want {
				t.Errorf("%s: %s: %q, git cat-file says %q", dir, f.Name, got, want)
			}
			if err := st.HasEncodedObject(f.Hash); err != nil {
				t.Errorf("%s: HasEncodedObject(%s): %v", dir, f.Name, err)
			}
			if size, err := st.EncodedObjectSize(f.Hash); err != nil || size != int64(len(got)) {
				t.Errorf("%s: EncodedObjectSize(%s) = %d, %v; want %d", dir, f.Name, size, err, len(got))
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Fatalf("%s: %d files, %v", dir, n, err)
		}
		if dir == top && !strings.Contains(git(t, dir, "show", "HEAD~1:kernel/exit.c"), "exit_mid") {
			t.Fatal("the middle clone's commit is not under the top clone's HEAD")
		}
	}
}
