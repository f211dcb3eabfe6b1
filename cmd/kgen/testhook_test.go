package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// A release build of kgen (no kgentest tag) reads none of the test
// hooks' variables: they live in testhook.go, built only for the tests.
func TestReleaseBuildHasNoTestHooks(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kgen")
	e2e.Run(t, "", nil, "go", "build", "-o", bin, ".")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"KGEN_TEST_PAUSE_MS", "KGEN_TEST_KILL_AT", "KGEN_TEST_RENDER_PAUSE_MS"} {
		if bytes.Contains(data, []byte(v)) {
			t.Errorf("the release build of kgen contains %s: a test hook outside testhook.go", v)
		}
	}
}
