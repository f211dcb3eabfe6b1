package workspace

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/templates"
)

// FindBase finds the base below a series that kgen apply committed, with
// kgen apply's own search, and HEAD itself on a tree without the series.
func TestE2EFindBase(t *testing.T) {
	tree := e2e.Tree(t, "6.12")
	clone := filepath.Join(t.TempDir(), "linux")
	e2e.Git(t, "", "clone", "-q", "--shared", tree, clone)
	ctx := context.Background()
	base, n, err := FindBase(ctx, clone, templates.FS)
	if err != nil || n != 0 {
		t.Fatalf("before apply: %s %d %v", base, n, err)
	}
	res, err := apply.Run(ctx, apply.Options{Tree: clone, Templates: templates.FS})
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := FindBase(ctx, clone, templates.FS)
	if err != nil || got != base || n != len(res.Commits) {
		t.Fatalf("after apply: base %s (want %s), %d series commits (want %d), %v", got, base, n, len(res.Commits), err)
	}
}
