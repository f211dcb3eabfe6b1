// Package gitobj holds the git plumbing that render and gitapply share:
// opening a repository's object and reference storage the way git does
// (linked worktrees, alternates of "git clone --shared", repositories
// git.PlainOpen refuses), and an in-memory overlay in which the series'
// objects are built and checked before any is written.
package gitobj

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// ErrNotGit is returned (wrapped) for a tree that is not a git repository.
var ErrNotGit = errors.New("not a git repository")

// OpenStorage opens the object and reference storage of the git
// repository at dir (a work tree with a .git directory or file, a linked
// worktree, or a bare repository) without go-git's repository-level
// checks: it follows objects/info/alternates with absolute paths
// ("git clone --shared/--reference") and accepts repositories that use
// extensions.worktreeConfig ("git sparse-checkout"), which
// git.PlainOpen refuses. Rendering only reads objects and HEAD, so this
// is safe. The error wraps ErrNotGit when dir is not a repository.
func OpenStorage(dir string) (*filesystem.Storage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var gitDir string
	dotGit := filepath.Join(abs, ".git")
	if fi, err := os.Stat(dotGit); err == nil && fi.IsDir() {
		gitDir = dotGit
	} else if err == nil {
		data, err := os.ReadFile(dotGit)
		if err != nil {
			return nil, err
		}
		line, _, _ := strings.Cut(string(data), "\n")
		gd, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir: ")
		if !ok {
			return nil, fmt.Errorf("%s: no \"gitdir: \" line", dotGit)
		}
		if !filepath.IsAbs(gd) {
			gd = filepath.Join(abs, gd)
		}
		gitDir = gd
	} else if isGitDir(abs) {
		gitDir = abs // bare
	} else {
		return nil, fmt.Errorf("%s: %w (kgen needs a base commit; kgen probe works on plain trees)", dir, ErrNotGit)
	}
	var repoFS billy.Filesystem = osfs.New(gitDir)
	if data, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common := strings.TrimSpace(string(data))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
		repoFS = dotgit.NewRepositoryFilesystem(repoFS, osfs.New(common))
	}
	return filesystem.NewStorageWithOptions(repoFS, cache.NewObjectLRUDefault(),
		filesystem.Options{AlternatesFS: osfs.New("/", osfs.WithBoundOS())}), nil
}

func isGitDir(p string) bool {
	for _, n := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(p, n)); err != nil {
			return false
		}
	}
	return true
}
