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
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// ErrNotGit is returned (wrapped) for a tree that is not a git repository.
var ErrNotGit = errors.New("not a git repository")

// Storage is a repository's storage as OpenStorage opens it: go-git's
// filesystem storage for references, configuration and the index, and
// ObjectStore for the objects, which follows every alternate as git
// does (go-git's storage follows one level only, and its HasEncodedObject
// and EncodedObjectSize none: an object of a "git clone --shared" of a
// shared clone was "object not found").
type Storage struct {
	*filesystem.Storage
	Objects *ObjectStore
}

// The object methods are ObjectStore's.

func (s *Storage) NewEncodedObject() plumbing.EncodedObject { return s.Objects.NewEncodedObject() }

func (s *Storage) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	return s.Objects.SetEncodedObject(o)
}

func (s *Storage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	return s.Objects.EncodedObject(t, h)
}

func (s *Storage) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return s.Objects.IterEncodedObjects(t)
}

func (s *Storage) HasEncodedObject(h plumbing.Hash) error { return s.Objects.HasEncodedObject(h) }

func (s *Storage) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	return s.Objects.EncodedObjectSize(h)
}

func (s *Storage) AddAlternate(remote string) error { return s.Objects.AddAlternate(remote) }

// OpenStorage opens the storage of the git repository at dir (a work
// tree with a .git directory or file, a linked worktree, or a bare
// repository) without go-git's repository-level checks: it accepts
// repositories that use extensions.worktreeConfig ("git
// sparse-checkout"), which git.PlainOpen refuses, and reads objects
// through ObjectStore, which follows objects/info/alternates as git
// does: absolute and relative paths, and alternates of alternates ("git
// clone --shared" of a shared clone). Every open of a repository in
// kdefer goes through here. The error wraps ErrNotGit when dir is not a
// repository.
func OpenStorage(dir string) (*Storage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var gitDir string
	dotGit := filepath.Join(abs, ".git")
	if fi, err := os.Stat(dotGit); err == nil && fi.IsDir() {
		gitDir = dotGit
	} else if err == nil {
		if gitDir, err = ReadGitFile(dotGit); err != nil {
			return nil, err
		}
	} else if isGitDir(abs) {
		gitDir = abs // bare
	} else {
		return nil, fmt.Errorf("%s: %w (kgen needs a base commit; kgen probe works on plain trees)", dir, ErrNotGit)
	}
	var repoFS billy.Filesystem = osfs.New(gitDir)
	common, ok := CommonDir(gitDir)
	if ok {
		repoFS = dotgit.NewRepositoryFilesystem(repoFS, osfs.New(common))
	}
	objs, err := OpenObjectStore(common)
	if err != nil {
		return nil, fmt.Errorf("%s: opening the object store: %w", dir, err)
	}
	return &Storage{Storage: filesystem.NewStorage(repoFS, cache.NewObjectLRUDefault()), Objects: objs}, nil
}

// ReadGitFile returns the git directory that the .git file at path (a
// linked worktree's or a submodule's "gitdir: X") points to, absolute.
func ReadGitFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	gd, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir: ")
	if !ok {
		return "", fmt.Errorf("%s: no \"gitdir: \" line", path)
	}
	if !filepath.IsAbs(gd) {
		gd = filepath.Join(filepath.Dir(path), gd)
	}
	return filepath.Clean(gd), nil
}

// CommonDir returns the directory a linked worktree's gitDir shares with
// the main work tree (objects, refs, config), from its commondir file;
// ok is false when gitDir has none (it is its own common directory).
func CommonDir(gitDir string) (common string, ok bool) {
	data, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return gitDir, false
	}
	c := strings.TrimSpace(string(data))
	if !filepath.IsAbs(c) {
		c = filepath.Join(gitDir, c)
	}
	return filepath.Clean(c), true
}

func isGitDir(p string) bool {
	for _, n := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(p, n)); err != nil {
			return false
		}
	}
	return true
}

// HasCommit reports whether the repository at tree holds commit h.
func HasCommit(tree string, h plumbing.Hash) bool {
	st, err := OpenStorage(tree)
	if err != nil {
		return false
	}
	_, err = object.GetCommit(st, h)
	return err == nil
}
