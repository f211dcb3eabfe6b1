package testkit_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/testkit"
	"github.com/kdefer/kdefer/templates"
)

// ApplySeries, kgen apply's path, gives on a fresh clone of Debian's 6.12
// tree one commit per rendered patch, each with the tree the renderer
// computed (which internal/render's TestReal612GitAm shows is the tree
// git am gives), and a clean work tree on the branch "series".
func TestE2EApplySeries(t *testing.T) {
	e2e.Need(t, "clones and checks out Debian's 6.12 tree")
	base := e2e.Tree(t, "6.12")
	res, err := render.Render(context.Background(), render.Options{Templates: templates.FS, Tree: base})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "linux")
	e2e.Git(t, "", "clone", "-q", "--shared", "--no-checkout", base, dir)
	head := e2e.Git(t, base, "rev-parse", "HEAD")
	testkit.ApplySeries(t, dir, head)
	trees := strings.Fields(e2e.Git(t, dir, "log", "--reverse", "--format=%T", head+"..series"))
	if len(trees) != len(res.Patches) {
		t.Fatalf("%d commits on series, %d rendered patches", len(trees), len(res.Patches))
	}
	for i, p := range res.Patches {
		if trees[i] != p.Tree.String() {
			t.Errorf("patch %d (%s): commit tree %s, rendered %s", p.Index, p.Name, trees[i], p.Tree)
		}
	}
	if b := e2e.Git(t, dir, "symbolic-ref", "--short", "HEAD"); b != "series" {
		t.Errorf("HEAD is on %q, want series", b)
	}
	if st := e2e.Git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("work tree not clean after ApplySeries:\n%s", st)
	}
}
