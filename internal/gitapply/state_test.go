package gitapply

import (
	"os"
	"path/filepath"
	"testing"
)

// Each state is found by its file, and the first of the list wins: with
// rebase-apply/applying, rebase-apply is git am's, not a rebase's.
func TestInProgress(t *testing.T) {
	r := &Repo{GitDir: t.TempDir()}
	if e := r.InProgress(); e != nil {
		t.Fatalf("a fresh git directory: %v", e)
	}
	for i := len(inProgress) - 1; i >= 0; i-- {
		s := inProgress[i]
		// (a directory: rebase-apply is one, and a file is looked for
		// only by its name)
		if err := os.MkdirAll(filepath.Join(r.GitDir, s.probe), 0o755); err != nil {
			t.Fatal(err)
		}
		e := r.InProgress()
		if e == nil || e.What != s.what || e.File != filepath.Join(r.GitDir, s.file) {
			t.Errorf("with %s: %v, want %s naming %s", s.probe, e, s.what, s.file)
		}
	}
}
