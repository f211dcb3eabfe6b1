package templates

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dir gives the embedded series for "", a template directory as it is,
// and refuses a directory without series.yaml, naming it.
func TestDir(t *testing.T) {
	if tfs, err := Dir(""); err != nil || tfs != fs.FS(FS) {
		t.Fatalf(`Dir(""): %v, %v; want the embedded FS`, tfs, err)
	}
	dir := t.TempDir()
	if _, err := Dir(dir); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "series.yaml") {
		t.Fatalf("Dir of a directory without series.yaml: %v; want a refusal naming it", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "series.yaml"), []byte("version: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tfs, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := fs.ReadFile(tfs, "series.yaml"); err != nil || string(data) != "version: 7\n" {
		t.Fatalf("series.yaml through Dir: %q, %v", data, err)
	}
}
