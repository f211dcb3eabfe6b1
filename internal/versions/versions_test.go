package versions

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// git runs git in dir as a fixed author at a fixed date.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(e2e.Run(t, dir, []string{"GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@kernel.test", "GIT_COMMITTER_NAME=Ann",
		"GIT_COMMITTER_EMAIL=ann@kernel.test", "GIT_AUTHOR_DATE=2025-07-16T20:49:10Z", "GIT_COMMITTER_DATE=2025-07-16T20:49:10Z"}, "git", args...))
}

// A version kept as format-patch files is committed back by ApplyKept with
// the same trees as the original commits, and real git range-diff sees the
// one patch that changed in the next version.
func TestKeepApplyRangeDiff(t *testing.T) {
	e2e.Tool(t, "git")
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(repo, "a.c"), []byte("int a;\n"), 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-qm", "base")
	base := git(t, repo, "rev-parse", "HEAD")
	for i, l := range []string{"int b;\n", "int c;\n"} {
		f, _ := os.OpenFile(filepath.Join(repo, "a.c"), os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(l)
		f.Close()
		git(t, repo, "commit", "-qam", []string{"x: add b", "x: add c"}[i])
	}
	v1tip := git(t, repo, "rev-parse", "HEAD")
	patches := t.TempDir()
	git(t, repo, "format-patch", "-q", "--cover-letter", "--base="+base, "-o", patches, base+"..HEAD")

	dst, err := Keep(patches, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Keep(patches, 1); err != nil {
		t.Errorf("keeping the same bytes again: %v", err)
	}
	os.WriteFile(filepath.Join(patches, "0001-x-add-b.patch"), []byte("changed"), 0o644)
	if _, err := Keep(patches, 1); err == nil || !strings.Contains(err.Error(), "version 1 is published") {
		t.Errorf("overwriting a kept version: %v", err)
	}
	kept, err := List(patches)
	if err != nil || len(kept) != 1 || kept[0].Version != 1 || len(kept[0].Patches) != 2 || kept[0].Base.String() != base || kept[0].Dir != dst {
		t.Fatalf("List = %+v, %v", kept, err)
	}

	// version 2: the second patch changes
	git(t, repo, "reset", "-q", "--hard", "HEAD~1")
	os.WriteFile(filepath.Join(repo, "a.c"), []byte("int a;\nint b;\nlong c;\n"), 0o644)
	git(t, repo, "commit", "-qam", "x: add c")
	v2tip := git(t, repo, "rev-parse", "HEAD")

	ctx := context.Background()
	sc, err := NewScratch(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	b := plumbing.NewHash(base)
	tip, err := sc.ApplyKept(ctx, kept[0], b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := git(t, repo, "--git-dir="+sc.Dir, "rev-parse", tip.String()+"^{tree}"), git(t, repo, "rev-parse", v1tip+"^{tree}"); got != want {
		t.Errorf("kept version applied gives tree %s, the original %s", got, want)
	}
	out, err := sc.RangeDiff(ctx, b, tip, b, plumbing.NewHash(v2tip), "--no-color", "--creation-factor=100")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(lines[0], "= ") || !strings.Contains(lines[0], "x: add b") {
		t.Errorf("range-diff does not see patch 1 as equal:\n%s", out)
	}
	if !strings.Contains(out, "! ") || !strings.Contains(out, "+long c;") {
		t.Errorf("range-diff does not show the change of patch 2:\n%s", out)
	}
	if refs := git(t, repo, "for-each-ref"); strings.Count(refs, "\n") != 0 || !strings.Contains(refs, "refs/heads/main") {
		t.Errorf("the repository's refs changed: %s", refs)
	}
}
