package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/workspace"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return e2e.Run(t, dir, nil, "git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
}

// The indent check reports a column-1 line that a patch adds to a
// function body, with file and line, and nothing for the column-1 line
// that was there before the patch.
func TestIndentOnlyAddedLines(t *testing.T) {
	e2e.Tool(t, "git")
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	before := "void old(void)\n{\nold_col1();\n}\n\nvoid f(void)\n{\n\tint a;\n}\n"
	after := "void old(void)\n{\nold_col1();\n}\n\nvoid f(void)\n{\n\tint a;\n\nguard(srcu)(&s);\n\ta = 1;\n}\n"
	os.WriteFile(filepath.Join(dir, "a.c"), []byte(before), 0o644)
	os.WriteFile(filepath.Join(dir, "a.h"), []byte("struct s {\nint x;\n};\n"), 0o644)
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "base")
	os.WriteFile(filepath.Join(dir, "a.c"), []byte(after), 0o644)
	os.WriteFile(filepath.Join(dir, "a.h"), []byte("struct s {\nint x;\nint y;\n};\n"), 0o644)
	git(t, dir, "commit", "-q", "-a", "-m", "f: take the guard\n\nSigned-off-by: t <t@example.org>")
	out := t.TempDir()
	git(t, dir, "format-patch", "-q", "-1", "-o", out)
	s, err := workspace.ReadSeries(out)
	if err != nil {
		t.Fatal(err)
	}
	r := &Result{}
	r.indent(dir, s.Patches[0])
	if len(r.NotRun) != 0 {
		t.Fatalf("not run: %+v", r.NotRun)
	}
	if len(r.Findings) != 1 {
		t.Fatalf("findings %+v, want one", r.Findings)
	}
	f := r.Findings[0]
	if f.Check != CheckIndent || f.File != "a.c" || f.Line != 10 || !f.Fails() ||
		!strings.HasSuffix(f.Message, "indent it with tabs: guard(srcu)(&s);") {
		t.Fatalf("finding %+v", f)
	}
}
