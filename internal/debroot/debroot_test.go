package debroot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

func TestEnsureRejectsBadSuite(t *testing.T) {
	for _, s := range []string{"", "../etc", "Bookworm", "a b"} {
		if _, _, err := Ensure(context.Background(), Options{Dir: t.TempDir(), Suite: s}); err == nil {
			t.Errorf("suite %q accepted", s)
		}
	}
}

// A directory under the suite's name is complete by construction: it is
// returned as it is, never rebuilt or finished again.
func TestEnsureKeepsAnExistingRoot(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "trixie"), 0o755)
	root, built, err := Ensure(context.Background(), Options{Dir: dir, Suite: "trixie", Mirror: "http://invalid.example/debian",
		Finish: func(string) error { t.Error("Finish called on an existing root"); return nil }})
	if err != nil || built || root != filepath.Join(dir, "trixie") {
		t.Errorf("Ensure = %q, %v, %v; want the existing root, not built", root, built, err)
	}
}

// A real root: debootstrap from the machine's mirror, Finish sees the
// partial root, and a Finish that fails leaves nothing behind.
func TestE2EEnsure(t *testing.T) {
	e2e.Need(t, "debootstrap, root and the Debian mirror")
	if os.Geteuid() != 0 {
		e2e.Require(t, "debootstrap needs root")
	}
	dir := t.TempDir()
	ctx := context.Background()
	refuse := errors.New("refused by Finish")
	if _, _, err := Ensure(ctx, Options{Dir: dir, Suite: "bookworm", Progress: t.Logf,
		Finish: func(string) error { return refuse }}); !errors.Is(err, refuse) {
		t.Fatalf("Ensure with a failing Finish: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 || ents[0].Name() != ".lock" {
		t.Fatalf("a failed Finish left %v in %s", ents, dir)
	}
	var seen string
	root, built, err := Ensure(ctx, Options{Dir: dir, Suite: "bookworm", Progress: t.Logf,
		Finish: func(tmp string) error { seen = tmp; return os.WriteFile(filepath.Join(tmp, "finished"), nil, 0o644) }})
	if err != nil || !built {
		t.Fatalf("Ensure = %q, %v, %v", root, built, err)
	}
	if seen != root+".partial" {
		t.Errorf("Finish saw %q, want the partial root %s.partial", seen, root)
	}
	for _, f := range []string{"bin/sh", "usr/bin/apt-get", "finished"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the root lacks %s: %v", f, err)
		}
	}
	if _, built, err := Ensure(ctx, Options{Dir: dir, Suite: "bookworm"}); err != nil || built {
		t.Errorf("second Ensure: built %v, %v; want the kept root", built, err)
	}
}
