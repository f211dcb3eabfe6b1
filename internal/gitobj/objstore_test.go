package gitobj

import (
	"bytes"
	"fmt"
	"os"
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
	for _, ofs := range []bool{true, false} {
		t.Run(fmt.Sprintf("ofs-delta=%v", ofs), func(t *testing.T) { objectStoreMatchesGit(t, ofs) })
	}
}

// objectStoreMatchesGit: with ofs false the pack holds deltas by base
// id (REF_DELTA, as repack.useDeltaBaseOffset=false writes them).
func objectStoreMatchesGit(t *testing.T, ofs bool) {
	src := newRepo(t)
	for i := 0; i < 30; i++ {
		var b strings.Builder
		for j := 0; j < 200; j++ {
			fmt.Fprintf(&b, "line %d of version %d\n", j, i*(j%7))
		}
		os.WriteFile(filepath.Join(src, "kernel/fork.c"), []byte(b.String()), 0o644)
		git(t, src, "commit", "-qam", fmt.Sprintf("v%d", i))
	}
	git(t, src, "-c", fmt.Sprintf("repack.useDeltaBaseOffset=%v", ofs), "repack", "-q", "-a", "-d", "-f", "--depth=50", "--window=50")
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
	kinds := map[int]int{}
	for _, l := range strings.Split(strings.TrimSpace(all), "\n") {
		id, typ, _ := strings.Cut(l, " ")
		want := []byte(git(t, dir, "cat-file", typ, id))
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
		if p, off, _ := s.locate(plumbing.NewHash(id)); p != nil {
			if typ, _, _, _, _, _ := p.entryAt(off); typ == objOfsDelta || typ == objRefDelta {
				kinds[typ]++
			}
		}
	}
	if ofs && (kinds[objOfsDelta] == 0 || kinds[objRefDelta] > 0) || !ofs && (kinds[objRefDelta] == 0 || kinds[objOfsDelta] > 0) {
		t.Fatalf("delta kinds %v, want only %s", kinds, map[bool]string{true: "offset deltas", false: "deltas by id"}[ofs])
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
