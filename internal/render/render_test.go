package render

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	git "github.com/go-git/go-git/v5"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/formatpatch"
)

func needGit(t testing.TB) {
	t.Helper()
	e2e.Tool(t, "git")
}

func run(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	return e2e.Run(t, dir, append([]string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}, env...), args[0], args[1:]...)
}

var baseEnv = []string{
	"GIT_AUTHOR_NAME=Base", "GIT_AUTHOR_EMAIL=base@example.org", "GIT_AUTHOR_DATE=2024-11-17T10:00:00+00:00",
	"GIT_COMMITTER_NAME=Base", "GIT_COMMITTER_EMAIL=base@example.org", "GIT_COMMITTER_DATE=2024-11-17T10:00:00+00:00",
}

// fakeKernel makes a git repository holding testdata/kernel with one
// commit and returns its directory.
func fakeKernel(t testing.TB) string {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "linux")
	e2e.CopyDir(t, "testdata/kernel", dir)
	run(t, dir, baseEnv, "git", "init", "-q", "-b", "master")
	run(t, dir, baseEnv, "git", "add", ".")
	run(t, dir, baseEnv, "git", "commit", "-q", "-m", "Linux 6.12.117 (fixture)")
	return dir
}

func renderFixture(t testing.TB, tree string) *Result {
	t.Helper()
	res, err := Render(context.Background(), Options{Templates: os.DirFS("testdata/templates"), Tree: tree})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return res
}

func TestRenderFixture(t *testing.T) {
	tree := fakeKernel(t)
	res := renderFixture(t, tree)
	if len(res.Patches) != 3 || len(res.Skipped) != 0 {
		t.Fatalf("got %d patches, %d skipped; want 3, 0", len(res.Patches), len(res.Skipped))
	}
	res2 := renderFixture(t, tree)
	f1, f2 := res.Files(), res2.Files()
	for name, data := range f1 {
		if !bytes.Equal(data, f2[name]) {
			t.Errorf("%s differs between two renders", name)
		}
	}
	p3 := string(res.Mail(&res.Patches[2]))
	for _, want := range []string{
		"Subject: [PATCH 3/3] unwind deferred: Use bitmask to determine which callbacks\n to call\n",
		" \tunwind_task_init(p);\n+\tp->unwind_info.nmi = true;\n",
		"@@ -28,6 +28,7 @@ __latent_entropy struct task_struct *copy_process(\n",
	} {
		if !strings.Contains(p3, want) {
			t.Errorf("patch 3 lacks %q:\n%s", want, p3)
		}
	}
}

// TestMatchesGitFormatPatch writes the rendered commits into the real
// repository with Build and compares our mails with real git's.
func TestMatchesGitFormatPatch(t *testing.T) {
	tree := fakeKernel(t)
	res := renderFixture(t, tree)
	repo, err := git.PlainOpen(tree)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := res.Build(repo.Storer, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if id != res.Patches[i].Commit {
			t.Fatalf("Build commit %d = %s, Render said %s", i+1, id, res.Patches[i].Commit)
		}
	}
	last := ids[len(ids)-1].String()
	run(t, tree, nil, "git", "update-ref", "refs/heads/series", last)
	run(t, tree, nil, "git", "fsck", "--strict", "--no-dangling")
	checkFormatPatch(t, res, tree, "series", false)
}

// checkFormatPatch runs real git format-patch over res.Base..tip in the
// repository dir as kgen renders (12-digit ids, the cover letter and the
// base, -vN from version 2 on, the cover's author as committer) and
// compares every file with ours, the cover letter once git's
// placeholders are filled with our subject and blurb. skipFrom leaves
// the first line ("From <commit>") out, for commits that git am made
// again.
func checkFormatPatch(t testing.TB, res *Result, dir, tip string, skipFrom bool) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "git")
	c := res.Cover.Author
	env := []string{"GIT_COMMITTER_NAME=" + c.Name, "GIT_COMMITTER_EMAIL=" + c.Email, "GIT_COMMITTER_DATE=" + c.When.Format(time.RFC3339)}
	args := []string{"git", "-c", "core.abbrev=12", "format-patch", "-q", "--cover-letter", "--base=" + res.Base.String(), "-o", out}
	if res.Version > 1 {
		args = append(args, fmt.Sprintf("-v%d", res.Version))
	}
	run(t, dir, env, append(args, res.Base.String()+".."+tip)...)
	ours := res.Files()
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if _, ok := ours[e.Name()]; !ok {
			t.Errorf("git wrote %s, we did not", e.Name())
		}
	}
	for name, mine := range ours {
		theirs, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("git did not write %s", name)
			continue
		}
		if name == res.CoverName() {
			// the only allowed difference: git leaves placeholders
			theirs = bytes.Replace(theirs, []byte("*** SUBJECT HERE ***"), []byte(res.Cover.Subject), 1)
			theirs = bytes.Replace(theirs, []byte("*** BLURB HERE ***\n"), []byte(res.Cover.Body), 1)
			var fixed bytes.Buffer
			formatpatch.WriteHeaders(&fixed, res.Patches[len(res.Patches)-1].Commit, c, res.series().Prefix(0), res.Cover.Subject, false)
			_, rest, _ := bytes.Cut(theirs, []byte("\n\n"))
			theirs = append(fixed.Bytes(), rest...)
		}
		if skipFrom {
			_, mine, _ = bytes.Cut(mine, []byte("\n"))
			_, theirs, _ = bytes.Cut(theirs, []byte("\n"))
		}
		if d := firstDiff(mine, theirs); d != "" {
			t.Errorf("%s differs from git format-patch: %s", name, d)
		}
	}
}

// firstDiff says where a (ours) and b (git's) first differ, "" if nowhere.
func firstDiff(a, b []byte) string {
	i, x, y, ok := firstDiffLine(strings.Split(string(a), "\n"), strings.Split(string(b), "\n"), nil)
	if !ok {
		return ""
	}
	return fmt.Sprintf("line %d:\n  ours: %s\n  git:  %s", i+1, x, y)
}

// TestGitAm applies our patches with real git am and compares the trees
// with our commits; go-gitdiff must parse every patch.
func TestGitAm(t *testing.T) {
	tree := fakeKernel(t)
	res := renderFixture(t, tree)
	dir := t.TempDir()
	if err := res.WriteSeries(dir); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.patch"))
	sort.Strings(names)
	if len(names) != 4 || filepath.Base(names[0]) != "0000-cover-letter.patch" {
		t.Fatalf("series files: %v", names)
	}
	for i, n := range names[1:] {
		f, _ := os.Open(n)
		files, preamble, err := gitdiff.Parse(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: go-gitdiff: %v", n, err)
		}
		hdr, err := gitdiff.ParsePatchHeader(preamble)
		if err != nil {
			t.Fatalf("%s: header: %v", n, err)
		}
		p := res.Patches[i]
		if hdr.Title != p.Subject || hdr.Author.Name != p.Author.Name || !hdr.AuthorDate.Equal(p.Author.When) {
			t.Errorf("%s: parsed header %q by %v at %v", n, hdr.Title, hdr.Author, hdr.AuthorDate)
		}
		if len(files) != len(p.Changes) {
			t.Errorf("%s: go-gitdiff sees %d files, we changed %d", n, len(files), len(p.Changes))
		}
		for j, fd := range files {
			var out bytes.Buffer
			if err := gitdiff.Apply(&out, bytes.NewReader(p.Changes[j].Before), fd); err != nil {
				t.Errorf("%s: %s: go-gitdiff apply: %v", n, fd.NewName, err)
			} else if p.Changes[j].After != nil && !bytes.Equal(out.Bytes(), p.Changes[j].After) {
				t.Errorf("%s: %s: go-gitdiff apply gives other content", n, fd.NewName)
			}
		}
	}
	clone := filepath.Join(t.TempDir(), "am")
	run(t, "", nil, "git", "clone", "-q", tree, clone)
	run(t, clone, baseEnv, append([]string{"git", "am", "-q"}, names[1:]...)...)
	for i := range res.Patches {
		ref := "HEAD~" + string(rune('0'+len(res.Patches)-1-i)) + "^{tree}"
		got := strings.TrimSpace(run(t, clone, nil, "git", "rev-parse", ref))
		if got != res.Patches[i].Tree.String() {
			t.Errorf("patch %d: git am gives tree %s, we built %s", i+1, got, res.Patches[i].Tree)
		}
	}
}
