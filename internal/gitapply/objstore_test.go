package gitapply

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestObjectStoreMatchesGit reads every object of a repository with
// packs (deltas by offset, after an aggressive gc), loose objects and an
// alternate (git clone --shared), and compares type and content with
// git cat-file.
func TestObjectStoreMatchesGit(t *testing.T) {
	src := newRepo(t)
	for i := 0; i < 30; i++ {
		var b strings.Builder
		for j := 0; j < 200; j++ {
			fmt.Fprintf(&b, "line %d of version %d\n", j, i*(j%7))
		}
		os.WriteFile(filepath.Join(src, "kernel/fork.c"), []byte(b.String()), 0o644)
		git(t, src, "commit", "-qam", fmt.Sprintf("v%d", i))
	}
	git(t, src, "gc", "-q", "--aggressive")
	dir := filepath.Join(t.TempDir(), "clone")
	git(t, "/", "clone", "-q", "--shared", src, dir)
	// Loose objects in the clone itself.
	os.WriteFile(filepath.Join(dir, "kernel/exit.c"), []byte("loose\n"), 0o644)
	git(t, dir, "commit", "-qam", "loose")
	s, err := OpenObjectStore(filepath.Join(dir, ".git"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all := git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
	n, deltas := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(all), "\n") {
		id, typ, _ := strings.Cut(l, " ")
		want, err := exec.Command("git", "-C", dir, "cat-file", typ, id).Output()
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.EncodedObject(plumbing.AnyObject, plumbing.NewHash(id))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		rd, _ := o.Reader()
		var got bytes.Buffer
		got.ReadFrom(rd)
		if o.Type().String() != typ || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("%s: got %s %d bytes, git has %s %d bytes", id, o.Type(), got.Len(), typ, len(want))
		}
		n++
	}
	out := git(t, src, "verify-pack", "-v", mustGlob(t, filepath.Join(src, ".git/objects/pack/*.idx")))
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 7 {
			deltas++
		}
	}
	if deltas == 0 {
		t.Fatal("no deltas in the pack: the test would prove nothing")
	}
	if err := s.HasEncodedObject(plumbing.NewHash(strings.Repeat("ab", 20))); err == nil {
		t.Fatal("a missing object is found")
	}
	// Writing: a new blob, read back by git.
	mo := s.NewEncodedObject()
	mo.SetType(plumbing.BlobObject)
	w, _ := mo.Writer()
	w.Write([]byte("written by kgen\n"))
	h, err := s.SetEncodedObject(mo)
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, dir, "cat-file", "blob", h.String()); got != "written by kgen\n" {
		t.Fatalf("git reads %q", got)
	}
	git(t, dir, "fsck", "--strict")
	t.Logf("%d objects read, %d deltas in the pack", n, deltas)
}

func mustGlob(t *testing.T, pat string) string {
	m, _ := filepath.Glob(pat)
	if len(m) == 0 {
		t.Fatalf("no %s", pat)
	}
	return m[0]
}
