package apply

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/gitobj"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/series"
)

// Exit codes of kgen apply, status and drop (documented in their -h).
const (
	ExitNotKernel   = 10 // not a kernel tree
	ExitNotGit      = 11 // a plain tree without .git
	ExitDirty       = 12 // local changes in files the series touches, or a merge in progress
	ExitDetached    = 13 // HEAD is detached
	ExitBranchTaken = 14 // the branch exists
	ExitApplied     = 15 // the series is already applied
	ExitUpstream    = 16 // the tree carries the infrastructure upstream
	ExitNoProbe     = 17 // the series does not support this tree (requires:), or no probe can place it
	ExitRender      = 18 // an anchor or template failed (the renderer's error)
	ExitLocked      = 19 // another kgen (kgen.lock) or git (index.lock) is at work
	ExitNothing     = 20 // drop: the branch carries no series commits
)

// KernelTree checks the top-level Makefile of dir.
func KernelTree(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "Makefile"))
	if err != nil {
		return cli.Errorf(ExitNotKernel, "%s is not a kernel tree: no readable top-level Makefile", dir)
	}
	head := string(data)
	if len(head) > 2000 {
		head = head[:2000]
	}
	if !strings.Contains(head, "\nVERSION =") && !strings.HasPrefix(head, "VERSION =") || !strings.Contains(head, "PATCHLEVEL =") {
		return cli.Errorf(ExitNotKernel, "%s is not a kernel tree: its Makefile has no VERSION/PATCHLEVEL lines", dir)
	}
	if fi, err := os.Stat(filepath.Join(dir, "kernel")); err != nil || !fi.IsDir() {
		return cli.Errorf(ExitNotKernel, "%s is not a kernel tree: no kernel/ directory", dir)
	}
	return nil
}

// OpenRepo opens the repository (main work tree or linked worktree).
func OpenRepo(tree string) (*gitapply.Repo, error) {
	r, err := gitapply.Open(tree)
	if err != nil {
		if errors.Is(err, gitapply.ErrNotGit) {
			return nil, cli.WithHint(cli.Errorf(ExitNotGit, "%s is not a git repository (a plain extracted tree)", tree),
				"make a git baseline: kgen tree get "+TreeVersion(tree)+" --git (a fresh tree), or kgen apply "+tree+" --init (this tree, in place)")
		}
		return nil, cli.Errorf(cli.ExitHarness, "%w", err)
	}
	return r, nil
}

// LockRepo takes kgen's lock on the repository (exit 19 when held).
func LockRepo(r *gitapply.Repo) (*gitapply.Lock, error) {
	lk, err := gitapply.Acquire(r.GitDir)
	if err != nil {
		if errors.Is(err, gitapply.ErrLocked) {
			return nil, cli.Errorf(ExitLocked, "%w", err)
		}
		return nil, cli.Errorf(cli.ExitHarness, "%w", err)
	}
	return lk, nil
}

// OpenLocked opens the repository, takes the kgen lock and recovers an
// interrupted transaction (proving what it overwrites; see
// gitapply.Recover), saying what it recovered through progress (nil: nothing).
func OpenLocked(tree string, progress func(format string, args ...any)) (*gitapply.Repo, *gitapply.Lock, error) {
	r, err := OpenRepo(tree)
	if err != nil {
		return nil, nil, err
	}
	lk, err := LockRepo(r)
	if err != nil {
		return nil, nil, err
	}
	msg, err := gitapply.Recover(r, false)
	if err != nil {
		lk.Release()
		return nil, nil, RecoverErr(tree, err)
	}
	if msg != "" && progress != nil {
		progress("%s: %s", tree, msg)
	}
	return r, lk, nil
}

// RecoverErr maps a recovery failure to an exit code.
func RecoverErr(tree string, err error) error {
	var ce *gitapply.ConflictError
	var le *gitapply.LockError
	switch {
	case errors.As(err, &ce):
		hint := "save your version of these files, then either put back what was there (git -C " + tree + " checkout HEAD -- FILE) and run kgen recover " + tree + " again, or keep your version and recover the rest: kgen recover " + tree + " --keep-changes"
		if ce.Forward {
			hint = "look at git -C " + tree + " diff --cached; kgen recover " + tree + " --keep-changes completes the transaction and keeps those entries"
		}
		return cli.WithHint(cli.Errorf(ExitDirty, "%s: %w", tree, err), hint)
	case errors.As(err, &le):
		return cli.Errorf(ExitLocked, "%s: %w", tree, err)
	}
	return cli.Errorf(cli.ExitHarness, "recovering an interrupted transaction in %s: %w", tree, err)
}

// PrepareErr maps a refusal of gitapply.Prepare to an exit code.
func PrepareErr(tree string, err error) error {
	var de *gitapply.DirtyError
	var ip *gitapply.InProgressError
	var rc *gitapply.RefConflictError
	var co *gitapply.CheckedOutError
	switch {
	case errors.As(err, &ip):
		return cli.Errorf(ExitDirty, "%s: %w", tree, err)
	case errors.As(err, &de) || errors.Is(err, gitapply.ErrUnmerged):
		return cli.WithHint(cli.Errorf(ExitDirty, "%s: %w", tree, err), "commit or stash those changes (git -C "+tree+" stash), then run kgen again")
	case errors.As(err, &rc):
		return cli.WithHint(cli.Errorf(ExitBranchTaken, "%s: %w", tree, err), "choose another name with --branch NAME, or delete "+rc.Other+" (git branch -D)")
	case errors.As(err, &co):
		return cli.WithHint(cli.Errorf(ExitBranchTaken, "%s: %w", tree, err), "run kgen drop in that work tree, or check out another branch there first, or name another with --to BRANCH")
	}
	return cli.Errorf(cli.ExitHarness, "%s: %w", tree, err)
}

// ExecuteErr maps a failed transaction to an exit code.
func ExecuteErr(tree string, err error) error {
	if errors.Is(err, gitapply.ErrIndexLocked) {
		return cli.Errorf(ExitLocked, "%w", err)
	}
	return cli.Errorf(cli.ExitHarness, "%s: %w (nothing changed)", tree, err)
}

// SeriesSubjects returns the subjects of the series in t, and the series.
func SeriesSubjects(t fs.FS) (map[string]bool, *series.Series, error) {
	s, err := series.Load(t)
	if err != nil {
		return nil, nil, cli.Errorf(cli.ExitHarness, "%w", err)
	}
	return s.Subjects(), s, nil
}

// RenderErr maps a renderer error to an exit code.
func RenderErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		// An interrupt is an interrupt, whatever the step (exit 130).
		return ctx.Err()
	}
	if e := Unsupported(err); e != nil {
		return e
	}
	var carried *render.CarriedError
	switch {
	case errors.Is(err, probe.ErrNotKernel):
		return cli.Errorf(ExitNotKernel, "%w", err)
	case errors.As(err, &carried):
		return cli.WithHint(cli.Errorf(ExitApplied, "the series is already applied: %w", err), "kgen status TREE")
	case errors.Is(err, gitobj.ErrNotGit):
		return cli.Errorf(ExitNotGit, "%w", err)
	}
	return cli.WithHint(cli.Errorf(ExitRender, "rendering failed, nothing written: %w", err), "kgen render --tree TREE -o DIR shows the same error; fix the anchor in templates/edits")
}

// DescribeBase names base for messages: the branch when it is HEAD.
func DescribeBase(head gitapply.HeadState, base plumbing.Hash) string {
	if base == head.Commit {
		return head.Branch.Short()
	}
	return base.String()[:12]
}

// TreeVersion returns "MAJOR.MINOR" from the tree's Makefile ("VERSION"
// when unreadable).
func TreeVersion(tree string) string {
	data, err := os.ReadFile(filepath.Join(tree, "Makefile"))
	if err != nil {
		return "VERSION"
	}
	v := map[string]string{}
	for _, l := range strings.SplitN(string(data), "\n", 10) {
		if k, val, ok := strings.Cut(l, "="); ok {
			v[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
	}
	if v["VERSION"] == "" || v["PATCHLEVEL"] == "" {
		return "VERSION"
	}
	return v["VERSION"] + "." + v["PATCHLEVEL"]
}

// Unsupported maps the renderer's "this tree is not supported" errors (a
// requires: of the series does not hold, or a probe cannot decide) to
// exit 17; nil for other errors.
func Unsupported(err error) error {
	var ue *render.UnsupportedError
	var cd *probe.CannotDecide
	switch {
	case errors.As(err, &ue):
		return cli.WithHint(cli.Errorf(ExitNoProbe, "%w\nnothing written", err), "kgen probe TREE shows every probe and the series' requirements")
	case errors.As(err, &cd):
		return cli.WithHint(cli.Errorf(ExitNoProbe, "no probe can place this tree: %w", err), "kgen probe TREE shows every probe; a new kernel version needs a probe or anchor in templates/")
	}
	return nil
}

// ResolveRev resolves a full commit id or a branch/tag name in tree.
func ResolveRev(tree, rev string) (plumbing.Hash, error) {
	if len(rev) == 40 {
		if _, err := hex.DecodeString(rev); err == nil {
			return plumbing.NewHash(rev), nil
		}
	}
	st, err := gitobj.OpenStorage(tree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, name := range []string{rev, "refs/heads/" + rev, "refs/tags/" + rev, "refs/remotes/" + rev} {
		if ref, err := storer.ResolveReference(st, plumbing.ReferenceName(name)); err == nil {
			h := ref.Hash()
			if tag, err := object.GetTag(st, h); err == nil {
				h = tag.Target
			}
			return h, nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: no commit or ref %q (give a full 40-digit id or a branch/tag name)", tree, rev)
}
