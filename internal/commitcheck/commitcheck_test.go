package commitcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/formatpatch"
)

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	e2e.Run(t, dir, []string{"GIT_AUTHOR_DATE=2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2025-01-01T00:00:00Z"}, "git", args...)
}

func series(t *testing.T, msgs ...string) string {
	t.Helper()
	e2e.Tool(t, "git")
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	git(t, dir, "config", "user.name", "Jane Dev")
	git(t, dir, "config", "user.email", "jane@example.com")
	os.WriteFile(filepath.Join(dir, "f"), []byte("0\n"), 0o644)
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-qm", "base")
	for i, m := range msgs {
		os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("x\n", i+2)), 0o644)
		git(t, dir, "commit", "-qam", m)
	}
	return dir
}

func rules(fs []Finding) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Patch[:4]+" "+f.Rule)
	}
	return strings.Join(s, "\n")
}

const sob = "Signed-off-by: Jane Dev <jane@example.com>"

func TestGoodSeries(t *testing.T) {
	dir := series(t,
		"unwind_user: Add the API\n\nAdd it.\n\n"+sob,
		"unwind deferred: Use it\n\nUse it, with a URL https://example.com/a/very/long/path/that/goes/on/and/on/and/on/for/ever\n\nReviewed-by: A B <a@b.c>\n"+sob)
	git(t, dir, "format-patch", "-q", "--cover-letter", "-o", "out", "HEAD~2")
	// Fill in the cover letter like a maintainer would.
	cl := filepath.Join(dir, "out", "0000-cover-letter.patch")
	b, _ := os.ReadFile(cl)
	s := strings.Replace(string(b), "*** SUBJECT HERE ***", "unwind: The series", 1)
	s = strings.Replace(s, "*** BLURB HERE ***", "What it does.", 1)
	os.WriteFile(cl, []byte(s), 0o644)
	fs, err := Check(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Fatalf("unexpected findings:\n%v", fs)
	}
}

func TestBadSeries(t *testing.T) {
	long := strings.Repeat("word ", 17) // 85 columns
	dir := series(t,
		"no prefix here\n\nBody.\n",
		"unwind: Second\n\n"+long+"\n\n"+sob+"\n"+sob,
		"unwind: Third with a subject that is really far too long to be read in a shortlog\n\nBody.\n\nSigned-off-by: Somebody Else <else@example.com>")
	git(t, dir, "format-patch", "-q", "--cover-letter", "-o", "out", "HEAD~3")
	fs, err := Check(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"0000 cover-letter",
		"0000 cover-letter",
		"0001 subject-prefix",
		"0001 signoff",
		"0002 body-wrap",
		"0002 duplicate-trailer",
		"0003 subject-length",
		"0003 author-signoff",
	}, "\n")
	if got := rules(fs); got != want {
		t.Fatalf("got\n%s\nwant\n%s\n\n%v", got, want, fs)
	}
	// Without a cover letter.
	os.Remove(filepath.Join(dir, "out", "0000-cover-letter.patch"))
	fs, _ = Check(filepath.Join(dir, "out"))
	if fs[0].Rule != RuleCoverLetter || fs[0].Patch != "(series)" {
		t.Errorf("missing cover letter not reported: %v", fs[0])
	}
}

func TestCoverWithoutDiffstat(t *testing.T) {
	m, err := formatpatch.ParseMail([]byte("From: A <a@b.c>\nSubject: [PATCH 0/2] x: y\n\nBlurb.\n\nA (2):\n  x: a\n  x: b\n\n-- \n2.39.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	m.File = "0000-cover-letter.patch"
	if !m.IsCover() {
		t.Fatal("not a cover")
	}
	fs := checkCover(m)
	if len(fs) != 1 || fs[0].Rule != RuleCoverDiffstat {
		t.Fatalf("got %v", fs)
	}
}
