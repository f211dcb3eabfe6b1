package formatpatch

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// gitDiffHunks runs real "git diff --no-index" and returns its hunks
// (everything from the first "@@").
func gitDiffHunks(t *testing.T, dir string, a, b []byte) string {
	t.Helper()
	pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(pa, a, 0o644)
	os.WriteFile(pb, b, 0o644)
	cmd := exec.Command("git", "diff", "--no-index", "--no-color", "-U3", "a", "b")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, _ := cmd.Output() // exit 1 when different
	i := bytes.Index(out, []byte("\n@@ "))
	if i < 0 {
		return ""
	}
	return string(out[i+1:])
}

// TestDiffMatchesGit compares our hunks with real git on random edits
// of C-like text (many repeated lines: blank lines, braces, returns),
// which exercises the record cleanup, the split heuristics and the
// indent heuristic.
func TestDiffMatchesGit(t *testing.T) {
	e2e.Tool(t, "git")
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	pool := []string{"", "", "{", "}", "\treturn 0;", "\treturn ret;", "\tint ret;", "\tif (ret)", "\t\tgoto out;",
		"out:", "#include <linux/sched.h>", "static int foo(void)", "\tfoo();", "\tbar();", "/*", " * comment", " */",
		"\tunsigned long flags;", "\tspin_lock(&lock);", "\tspin_unlock(&lock);"}
	line := func() string {
		if rng.Intn(4) == 0 {
			return fmt.Sprintf("\tx%d = %d;", rng.Intn(50), rng.Intn(5))
		}
		return pool[rng.Intn(len(pool))]
	}
	seed, _ := os.ReadFile("testdata/kernel/kernel/fork.c")
	for iter := 0; iter < 150; iter++ {
		var a []string
		if iter%3 == 0 {
			a = strings.Split(strings.TrimSuffix(string(seed), "\n"), "\n")
		} else {
			for n := 20 + rng.Intn(120); n > 0; n-- {
				a = append(a, line())
			}
		}
		b := append([]string(nil), a...)
		for e := 1 + rng.Intn(6); e > 0; e-- {
			pos := rng.Intn(len(b) + 1)
			switch rng.Intn(3) {
			case 0: // insert a block
				var blk []string
				for n := 1 + rng.Intn(6); n > 0; n-- {
					blk = append(blk, line())
				}
				b = append(b[:pos], append(blk, b[pos:]...)...)
			case 1: // delete
				if pos < len(b) {
					n := min(1+rng.Intn(5), len(b)-pos)
					b = append(b[:pos], b[pos+n:]...)
				}
			default: // replace
				if pos < len(b) {
					b[pos] = line()
				}
			}
		}
		ab := []byte(strings.Join(a, "\n") + "\n")
		bb := []byte(strings.Join(b, "\n") + "\n")
		var ours bytes.Buffer
		unified(&ours, ab, bb)
		theirs := gitDiffHunks(t, dir, ab, bb)
		if ours.String() != theirs {
			t.Fatalf("case %d differs from git:\n--- ours\n%s\n--- git\n%s", iter, ours.String(), theirs)
		}
	}
}

// RecordedBase reads the base-commit line of the one cover letter in a
// directory of format-patch files, numbered or not, and nothing else.
func TestRecordedBase(t *testing.T) {
	const h = "0123456789abcdef0123456789abcdef01234567"
	dir := t.TempDir()
	if _, ok := RecordedBase(dir); ok {
		t.Error("a base without a cover letter")
	}
	cover := filepath.Join(dir, "v2-0000-cover-letter.patch")
	if err := os.WriteFile(cover, []byte("Subject: [PATCH v2 00/14] x\n\nbase-commit: "+h+"\n-- \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := RecordedBase(dir); !ok || got.String() != h {
		t.Errorf("RecordedBase = %s, %v; want %s", got, ok, h)
	}
	os.WriteFile(cover, []byte("base-commit: 0123\n"), 0o644)
	if _, ok := RecordedBase(dir); ok {
		t.Error("a short base-commit taken for a commit id")
	}
}
