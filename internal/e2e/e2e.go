// Package e2e is the switch for the end-to-end tests (KDEFER_E2E=1) and
// the real Debian kernel trees they run on. It depends on kerneltree
// only, so the tests of any package can use it, the probe and render
// packages included.
package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/kerneltree"
)

// On reports whether KDEFER_E2E=1 is set.
func On() bool { return os.Getenv("KDEFER_E2E") == "1" }

// Need skips t unless KDEFER_E2E=1; what says what the test needs.
func Need(t testing.TB, what string) {
	t.Helper()
	if !On() {
		t.Skipf("end-to-end test (%s): set KDEFER_E2E=1", what)
	}
}

// Cached returns the newest cached Debian git tree of version ("6.12",
// "6.1", "7"), or "" when there is none.
func Cached(version string) string {
	trees, _ := kerneltree.List("")
	for _, tr := range trees { // newest first
		if tr.Git && (tr.Release == version || strings.HasPrefix(tr.Release, version+".")) {
			return tr.Path
		}
	}
	return ""
}

// Tree returns the Debian tree of version as a git baseline: the cached
// one, else fetched with kerneltree.Get. Only under KDEFER_E2E=1: without
// it t is skipped even when the machine has the tree cached, so that
// `go test ./...` gives the same results on every machine.
func Tree(t testing.TB, version string) string {
	t.Helper()
	Need(t, "a real Debian Linux "+version+" tree")
	if p := Cached(version); p != "" {
		return p
	}
	p, err := kerneltree.Get(context.Background(), kerneltree.Options{Version: version, Git: true, Progress: t.Logf})
	if err != nil {
		t.Fatalf("getting the Linux %s tree: %v", version, err)
	}
	return p
}
