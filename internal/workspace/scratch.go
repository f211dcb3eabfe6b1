package workspace

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/flock"
	"github.com/kdefer/kdefer/internal/proc"
)

// Scratch is a private work tree of a kernel tree, where the series is
// applied patch by patch. It is a "git clone --shared" of the tree (the
// objects are borrowed, nothing is copied), kept between runs so that
// only the files the series touches are rewritten: the user's tree and
// its branches are never modified.
type Scratch struct {
	Dir    string
	Base   string // commit id of the tree's HEAD
	unlock func()
	// commits maps a patch file to its commit, once CommitSeries has
	// committed the series here.
	commits map[string]string
}

// Close releases the scratch tree for other runs.
func (s *Scratch) Close() error {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return nil
}

// OpenScratch returns the scratch tree dir for tree, creating it on first
// use, checked out at tree's current HEAD with no local changes.
func OpenScratch(ctx context.Context, tree, dir string) (*Scratch, error) {
	return OpenScratchAt(ctx, tree, "", dir)
}

// OpenScratchAt is OpenScratch with base as the base commit ("" for
// tree's HEAD).
func OpenScratchAt(ctx context.Context, tree, base, dir string) (*Scratch, error) {
	tree, err := filepath.Abs(tree)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(tree, ".git")); err != nil {
		return nil, fmt.Errorf("%s is not a git work tree: the series is applied on its HEAD (get one with: kgen tree get VERSION --git)", tree)
	}
	if base == "" {
		base = "HEAD"
	}
	head, err := gitOut(ctx, tree, "rev-parse", "--verify", base+"^{commit}")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	// One run at a time per scratch tree (lint, build --each and ci all
	// apply patches in it).
	unlock, err := flock.Lock(ctx, dir+".lock", func() {
		fmt.Fprintf(os.Stderr, "waiting for another kcheck run using %s\n", dir)
	})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			unlock()
		}
	}()
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, err
		}
		os.RemoveAll(dir)
		if _, err := gitOut(ctx, "", "clone", "-q", "--shared", "--no-checkout", tree, dir); err != nil {
			return nil, err
		}
	} else if _, err := gitOut(ctx, dir, "cat-file", "-e", head); err != nil {
		if _, err := gitOut(ctx, dir, "fetch", "-q", "--no-tags", tree, head); err != nil {
			return nil, err
		}
	}
	s := &Scratch{Dir: dir, Base: head, unlock: unlock}
	if err := s.Reset(ctx); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// Reset puts the scratch tree back to the base commit: tracked files as
// committed, untracked files removed, except the kernel build
// directories kbuild keeps in the tree (kbuild.DefaultDir).
func (s *Scratch) Reset(ctx context.Context) error {
	if _, err := gitOut(ctx, s.Dir, "checkout", "-q", "-f", "--detach", s.Base); err != nil {
		return err
	}
	_, err := gitOut(ctx, s.Dir, "clean", "-fdxq", "-e", "/.kdefer-build-*/")
	return err
}

// Branches of the scratch clone: the base, and the series on top of it.
const (
	baseBranch   = "kcheck-base"
	seriesBranch = "kcheck-series"
)

// CommitSeries puts the series of templates on the scratch tree the way
// kgen apply puts it on a user's tree, through internal/apply (the one
// path by which the series reaches a tree), and remembers each patch's
// commit: from then on Apply(patch) checks out that commit. want is the
// same series as patch files (workspace.Render); the two must agree
// patch by patch. The tree is left at the base.
func (s *Scratch) CommitSeries(ctx context.Context, templates fs.FS, want *Series) error {
	if _, err := gitOut(ctx, s.Dir, "checkout", "-q", "-f", "-B", baseBranch, s.Base); err != nil {
		return err
	}
	gitOut(ctx, s.Dir, "branch", "-q", "-D", seriesBranch) // from an earlier run; none is fine
	who := object.Signature{Name: "kcheck", Email: "kcheck@localhost", When: time.Unix(0, 0).UTC()}
	res, err := apply.Run(ctx, apply.Options{Tree: s.Dir, Templates: templates, Branch: seriesBranch,
		Base: plumbing.NewHash(s.Base), Committer: &who})
	if err != nil {
		return fmt.Errorf("applying the series in %s (as kgen apply does): %w", s.Dir, err)
	}
	if len(res.Commits) != len(want.Patches) {
		return fmt.Errorf("apply committed %d patches, the rendered series has %d", len(res.Commits), len(want.Patches))
	}
	s.commits = map[string]string{}
	for i, p := range want.Patches {
		if got := res.Render.Patches[i].Subject; got != p.Subject {
			return fmt.Errorf("patch %d: apply committed %q, the rendered series has %q", p.Index, got, p.Subject)
		}
		abs, err := filepath.Abs(p.Path)
		if err != nil {
			return err
		}
		s.commits[abs] = res.Commits[i].String()
	}
	return s.Reset(ctx)
}

// Apply brings the work tree to the state after one patch: the patch's
// commit when CommitSeries committed the series, else the patch file
// applied with git apply (a series given as patch files, not rendered).
func (s *Scratch) Apply(ctx context.Context, patch string) error {
	abs, err := filepath.Abs(patch)
	if err != nil {
		return err
	}
	if c, ok := s.commits[abs]; ok {
		if _, err := gitOut(ctx, s.Dir, "checkout", "-q", "-f", "--detach", c); err != nil {
			return fmt.Errorf("checking out %s: %w", filepath.Base(patch), err)
		}
		return nil
	}
	if _, err := gitOut(ctx, s.Dir, "apply", "--whitespace=nowarn", abs); err != nil {
		return fmt.Errorf("apply %s: %w", filepath.Base(patch), err)
	}
	return nil
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := proc.Command(ctx, "git", args...)
	cmd.Dir = dir
	out, err := proc.Output(cmd)
	return strings.TrimSpace(string(out)), err
}
