package gitobj

import (
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// git runs git in dir as a fixed committer and returns its output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return e2e.GitAs(t, dir, args...)
}

// newRepo makes a repository with one commit of a Makefile and two
// nested source files.
func newRepo(t *testing.T) string {
	t.Helper()
	return e2e.Repo(t, map[string]string{"Makefile": "VERSION = 6\n", "kernel/fork.c": "int fork;\n", "kernel/exit.c": "int exit;\n"})
}
