package gitobj

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// git runs git in dir with a fixed identity and returns its output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return e2e.Run(t, dir, []string{"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@x"}, "git", args...)
}

// newRepo makes a repository with one commit of a Makefile and
// two nested source files.
func newRepo(t *testing.T) string {
	t.Helper()
	e2e.Tool(t, "git")
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "master")
	for p, c := range map[string]string{"Makefile": "VERSION = 6\n", "kernel/fork.c": "int fork;\n", "kernel/exit.c": "int exit;\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "base")
	return dir
}
