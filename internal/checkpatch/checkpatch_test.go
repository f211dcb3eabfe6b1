package checkpatch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

func TestParse(t *testing.T) {
	out, err := os.ReadFile("testdata/output.txt")
	if err != nil {
		t.Fatal(err)
	}
	fs := Parse(string(out))
	var got []string
	for _, f := range fs {
		got = append(got, string(f.Level)+":"+f.Type+"@"+f.File+":"+itoa(f.Line))
	}
	want := []string{
		"WARNING:FILE_PATH_CHANGES@:0",
		"ERROR:OPEN_BRACE@kernel/newfile.c:4",
		"WARNING:SUSPECT_CODE_INDENT@kernel/newfile.c:5",
		"ERROR:SPACING@kernel/newfile.c:5",
		"ERROR:CODE_INDENT@kernel/newfile.c:6",
		"WARNING:LEADING_SPACE@kernel/newfile.c:6",
		"ERROR:MISSING_SIGN_OFF@:0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fs[3].Message != "spaces required around that '==' (ctx:VxV)" || !strings.Contains(fs[3].Context, "if (x==1)") {
		t.Errorf("SPACING finding: %+v", fs[3])
	}
	if fs[0].PatchLine != 13 {
		t.Errorf("FILE_PATH_CHANGES patch line = %d, want 13", fs[0].PatchLine)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestMatchMaintainers(t *testing.T) {
	pats := []string{"kernel/unwind/", "include/linux/unwind*.h", "arch/x86/include/asm/unwind_user.h"}
	for file, want := range map[string]string{
		"kernel/unwind/deferred.c":           "kernel/unwind/",
		"kernel/unwind/sub/x.c":              "kernel/unwind/",
		"include/linux/unwind_user.h":        "include/linux/unwind*.h",
		"include/linux/sub/unwind_user.h":    "",
		"arch/x86/include/asm/unwind_user.h": "arch/x86/include/asm/unwind_user.h",
		"kernel/fork.c":                      "",
	} {
		if got := matchMaintainers(pats, file); got != want {
			t.Errorf("%s: got %q, want %q", file, got, want)
		}
	}
}

// gitSeries makes a two-patch series with real git: patch 1 adds a
// MAINTAINERS entry for kernel/unwind/ and a file there; patch 2 adds
// another file under it and one outside it with a style error.
func gitSeries(t *testing.T) []string {
	t.Helper()
	e2e.Tool(t, "git")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2025-01-01T00:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q")
	run("config", "user.name", "Jane Dev")
	run("config", "user.email", "jane@example.com")
	write("MAINTAINERS", "THE REST\nM:\tLinus Torvalds <torvalds@linux-foundation.org>\nF:\t*\n")
	run("add", ".")
	run("commit", "-qm", "base")
	write("MAINTAINERS", "UNWIND\nM:\tJane Dev <jane@example.com>\nS:\tMaintained\nF:\tkernel/unwind/\n\nTHE REST\nM:\tLinus Torvalds <torvalds@linux-foundation.org>\nF:\t*\n")
	write("kernel/unwind/a.c", "// SPDX-License-Identifier: GPL-2.0\nint unwind_a;\n")
	run("add", ".")
	run("commit", "-qm", "unwind: Add a\n\nAdd a.\n\nSigned-off-by: Jane Dev <jane@example.com>")
	write("kernel/unwind/b.c", "// SPDX-License-Identifier: GPL-2.0\nint unwind_b;\n")
	write("kernel/other.c", "// SPDX-License-Identifier: GPL-2.0\nint other(int x)\n{\n\treturn x==1;\n}\n")
	run("add", ".")
	run("commit", "-qm", "unwind: Add b\n\nAdd b and other.\n\nSigned-off-by: Jane Dev <jane@example.com>")
	write("kernel/unwind/c.c", "// SPDX-License-Identifier: GPL-2.0\nint unwind_c;\n")
	run("add", ".")
	run("commit", "-qm", "unwind: Add c\n\nAdd c.\n\nSigned-off-by: Jane Dev <jane@example.com>")
	run("format-patch", "-q", "-o", "out", "HEAD~3")
	ps, _ := filepath.Glob(filepath.Join(dir, "out", "*.patch"))
	if len(ps) != 3 {
		t.Fatalf("format-patch wrote %v", ps)
	}
	return ps
}

func TestRunRealCheckpatch(t *testing.T) {
	tree := e2e.Tree612(t)
	ps := gitSeries(t)
	var all []Finding
	for _, p := range ps {
		fs, err := Run(context.Background(), tree, p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, fs...)
	}
	if err := Tolerate(ps, all); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range all {
		s := filepath.Base(f.Patch)[:4] + " " + string(f.Level) + ":" + f.Type
		if f.Tolerated {
			s += " tolerated"
		}
		got = append(got, s)
	}
	// Patch 1 changes MAINTAINERS itself: checkpatch says nothing. Patch 2
	// adds kernel/other.c, not covered: the warning stands, next to the
	// style error. Patch 3's new file is covered by patch 1's entry.
	want := []string{
		"0002 WARNING:FILE_PATH_CHANGES",
		"0002 ERROR:SPACING",
		"0003 WARNING:FILE_PATH_CHANGES tolerated",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
