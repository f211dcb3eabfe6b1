package ci

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/workspace"
	"github.com/kdefer/kdefer/templates"
)

// TestE2ECIAppliesLikeKgen shows that kcheck ci puts the series on its
// scratch tree through kgen apply's code (internal/apply and gitapply's
// transaction), not through git apply: the transaction's hook fires
// while ci applies, the scratch clone's series branch ends at the same
// tree as kgen apply's branch on a fresh clone of the same base, and
// the later stages (lint here) check out those commits.
func TestE2ECIAppliesLikeKgen(t *testing.T) {
	e2e.Long(t, "kcheck ci's apply and lint stages on Debian's 6.12 tree")
	tree := e2e.Tree(t, "6.12")

	var mu sync.Mutex
	var points []string
	gitapply.Hook = func(p string) error {
		mu.Lock()
		points = append(points, p)
		mu.Unlock()
		return nil
	}
	defer func() { gitapply.Hook = nil }()

	r, err := Run(context.Background(), Options{Tree: tree, Quick: true, NoBoot: true, Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var apStage Stage
	for _, s := range r.Stages {
		if s.Name == StageApply {
			apStage = s
		}
	}
	if apStage.Status != Pass || !strings.Contains(apStage.Detail, "kgen apply's path") {
		t.Fatalf("apply stage: %+v", apStage)
	}
	if len(points) == 0 {
		t.Fatal("gitapply's transaction never ran while kcheck ci applied the series")
	}
	t.Logf("transaction points seen: %s", strings.Join(points, " "))

	scratch := filepath.Join(workspace.WorkDir(tree), "src")
	ciTree := e2e.Git(t, scratch, "rev-parse", "kcheck-series^{tree}")

	// kgen apply's code on a fresh clone of the same base.
	clone := filepath.Join(t.TempDir(), "linux")
	e2e.Git(t, "", "clone", "-q", "--shared", tree, clone)
	res, err := apply.Run(context.Background(), apply.Options{Tree: clone, Templates: templates.FS})
	if err != nil {
		t.Fatal(err)
	}
	if kgenTree := e2e.Git(t, clone, "rev-parse", res.Tip.String()+"^{tree}"); kgenTree != ciTree {
		t.Fatalf("kcheck ci's series ends at tree %s, kgen apply's at %s", ciTree, kgenTree)
	}
	if n := len(strings.Fields(e2e.Git(t, scratch, "rev-list", "kcheck-base..kcheck-series"))); n != len(r.Series.Patches) {
		t.Fatalf("scratch branch has %d commits, the series %d patches", n, len(r.Series.Patches))
	}
}
