package splat

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDumpAll(t *testing.T) {
	files, _ := filepath.Glob(os.Getenv("DUMP"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, g := range ScanBytes(b) {
			t.Logf("%s:%d %s | %s | %s | lines=%d count=%d", filepath.Base(f), g.Line, g.Kind, g.Title, g.Header, len(g.Lines), g.Count)
		}
	}
}
