package gitapply

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kdefer/kdefer/internal/render"
)

// ErrNotGit is returned (wrapped) by Open for a directory without .git.
var ErrNotGit = render.ErrNotGit

// Open opens the git work tree dir. Linked worktrees (a .git file) and
// bare repositories are refused: kgen writes .git/index, HEAD and refs
// itself and only knows the plain layout.
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	gd := filepath.Join(abs, ".git")
	fi, err := os.Stat(gd)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", abs, ErrNotGit)
	}
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: .git is a file (a linked worktree or submodule); run kgen in the main work tree", abs)
	}
	st, err := render.OpenStorage(abs)
	if err != nil {
		return nil, err
	}
	return &Repo{WorkTree: abs, GitDir: gd, S: st}, nil
}

// Committer returns the identity git would use as committer: the
// GIT_COMMITTER_NAME/EMAIL environment, else user.name/user.email from the
// repository's config, else from the global config. The time is now.
func (r *Repo) Committer() (object.Signature, error) {
	name, email := os.Getenv("GIT_COMMITTER_NAME"), os.Getenv("GIT_COMMITTER_EMAIL")
	var cfgs []*config.Config
	if c, err := r.S.Config(); err == nil {
		cfgs = append(cfgs, c)
	}
	if c, err := config.LoadConfig(config.GlobalScope); err == nil {
		cfgs = append(cfgs, c)
	}
	for _, c := range cfgs {
		if name == "" {
			name = c.User.Name
		}
		if email == "" {
			email = c.User.Email
		}
	}
	if name == "" || email == "" {
		return object.Signature{}, errors.New("no committer identity: set it with git config --global user.name \"Your Name\" and git config --global user.email you@example.com")
	}
	return object.Signature{Name: name, Email: email, When: time.Now()}, nil
}
