package gitapply

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
	"github.com/kdefer/kdefer/internal/gitobj"
)

// ErrNotGit is returned (wrapped) by Open for a directory without .git.
var ErrNotGit = gitobj.ErrNotGit

// Repo is an open repository: its work tree, its git directories and
// storage.
//
// A linked worktree (a .git file "gitdir: X") has its own GitDir
// (X = COMMON/worktrees/NAME: HEAD, index, logs/HEAD, the in-progress
// state files, kgen's journal and lock) and shares CommonDir (objects,
// refs, packed-refs, logs/refs, config) with the main work tree, where
// GitDir and CommonDir are the same directory.
type Repo struct {
	WorkTree, GitDir, CommonDir string
	// S is the repository's storage (gitobj.OpenStorage): references
	// through go-git, objects through Objects.
	S storage.Storer
	// Objects reads and writes objects by need.
	Objects *gitobj.ObjectStore
	Config  *Config
}

// Open opens the git work tree dir (the main one or a linked worktree).
// Bare repositories are refused: kgen checks files out.
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
		if gd, err = gitobj.ReadGitFile(gd); err != nil {
			return nil, err
		}
	}
	common, ok := gitobj.CommonDir(gd)
	if !ok && !fi.IsDir() {
		return nil, fmt.Errorf("%s: .git points to %s, which has no commondir file (a submodule?); kgen works on main and linked work trees only", abs, gd)
	}
	st, err := gitobj.OpenStorage(abs)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(gd, common)
	if err != nil {
		return nil, err
	}
	if cfg.Bool("core", "bare", false) {
		return nil, fmt.Errorf("%s: core.bare is true; kgen needs a work tree", abs)
	}
	return &Repo{WorkTree: abs, GitDir: gd, CommonDir: common, S: st, Objects: st.Objects, Config: cfg}, nil
}

// Linked reports whether r is a linked worktree.
func (r *Repo) Linked() bool { return r.GitDir != r.CommonDir }

// Config is git's configuration as git reads it: system, global,
// repository and (with extensions.worktreeConfig) worktree files, later
// files overriding earlier ones. Only the plain forms kgen needs are read
// (no includes).
type Config struct {
	files []*config.Config
}

// LoadConfig reads the configuration files of a repository.
func LoadConfig(gitDir, commonDir string) (*Config, error) {
	var paths []string
	if os.Getenv("GIT_CONFIG_NOSYSTEM") == "" {
		paths = append(paths, "/etc/gitconfig")
	}
	xdg := os.Getenv("XDG_CONFIG_HOME")
	home, _ := os.UserHomeDir()
	if xdg == "" && home != "" {
		xdg = filepath.Join(home, ".config")
	}
	if g := os.Getenv("GIT_CONFIG_GLOBAL"); g != "" {
		paths = append(paths, g)
	} else {
		if xdg != "" {
			paths = append(paths, filepath.Join(xdg, "git", "config"))
		}
		if home != "" {
			paths = append(paths, filepath.Join(home, ".gitconfig"))
		}
	}
	paths = append(paths, filepath.Join(commonDir, "config"))
	c := &Config{}
	for _, p := range paths {
		if err := c.add(p); err != nil {
			return nil, err
		}
	}
	if c.Bool("extensions", "worktreeConfig", false) {
		if err := c.add(filepath.Join(gitDir, "config.worktree")); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Config) add(p string) error {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return nil
		}
		return err
	}
	defer f.Close()
	cfg := config.New()
	if err := config.NewDecoder(f).Decode(cfg); err != nil {
		return fmt.Errorf("reading git config %s: %w", p, err)
	}
	c.files = append(c.files, cfg)
	return nil
}

// Get returns the last value of section[.subsection].key ("" and false
// when unset). Section and key names are case-insensitive, subsections
// are not.
func (c *Config) Get(section, subsection, key string) (string, bool) {
	val, found := "", false
	for _, f := range c.files {
		for _, s := range f.Sections {
			if !strings.EqualFold(s.Name, section) {
				continue
			}
			opts := s.Options
			if subsection != "" {
				opts = nil
				for _, ss := range s.Subsections {
					if ss.Name == subsection {
						opts = append(opts, ss.Options...)
					}
				}
			}
			for _, o := range opts {
				if strings.EqualFold(o.Key, key) {
					val, found = o.Value, true
				}
			}
		}
	}
	return val, found
}

// Bool returns a boolean value as git parses it.
func (c *Config) Bool(section, key string, def bool) bool {
	v, ok := c.Get(section, "", key)
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true", "yes", "on", "1":
		// An option without "= value" is true.
		return true
	case "false", "no", "off", "0":
		return false
	}
	return def
}

// Committer returns the identity git would use as committer: the
// GIT_COMMITTER_NAME/EMAIL environment, else user.name/user.email from
// git's configuration. The time is now.
func (r *Repo) Committer() (object.Signature, error) {
	name, email := os.Getenv("GIT_COMMITTER_NAME"), os.Getenv("GIT_COMMITTER_EMAIL")
	if name == "" {
		name, _ = r.Config.Get("user", "", "name")
	}
	if email == "" {
		email, _ = r.Config.Get("user", "", "email")
	}
	if name == "" || email == "" {
		return object.Signature{}, errors.New("no committer identity: set it with git config --global user.name \"Your Name\" and git config --global user.email you@example.com")
	}
	return object.Signature{Name: name, Email: email, When: time.Now()}, nil
}
