package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kdefer/kdefer/internal/matrix"
)

// kcheck matrix --out creates the directory and writes its three files;
// the matrix.json it writes is one that --join reads back.
func TestWriteMatrixFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "6.12")
	if err := writeMatrix(&matrix.Matrix{}, dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"matrix.json", "matrix.junit.xml", "matrix.html"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (want a non-empty file)", name, err)
		}
	}
	if _, err := matrix.Join([]string{filepath.Join(dir, "matrix.json")}); err != nil {
		t.Errorf("--join of the written matrix.json: %v", err)
	}
}
