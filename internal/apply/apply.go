// Package apply commits the series, rendered for a kernel tree, onto
// that tree's git repository as one transaction (internal/gitapply):
// one commit per patch on a new branch, which is checked out. It is the
// one path by which the series reaches a tree: kgen apply, and the
// scratch clones of kcheck lint, build --each and ci (internal/workspace)
// all go through Run.
//
// Its refusals are *cli.Error values carrying kgen's documented exit
// codes (Exit* below), so every caller reports them the same way.
package apply

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/gitobj"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/series"
)

// Options of Run.
type Options struct {
	Tree      string // the kernel tree (a git work tree, main or linked)
	Templates fs.FS  // the series
	Branch    string // the branch to create (default "unwind-deferred")
	// Base is the commit to apply on (zero: HEAD).
	Base plumbing.Hash
	// DryRun renders, builds the commits in memory and checks the switch,
	// and writes nothing.
	DryRun bool
	// Committer of the commits (nil: the repository's user.name and
	// user.email, as git commit takes them).
	Committer *object.Signature
	// Identity and NoSignOff are passed to the renderer: who authors the
	// patches without an author of their own and signs them off
	// (zero: the series' maintainer), and whether to add that sign-off.
	Identity  series.Identity
	NoSignOff bool
	// Progress reports what happens on the way (nil: nothing), such as
	// the recovery of a transaction that an earlier run left unfinished.
	Progress func(format string, args ...any)
}

// Result says what Run did (or, with DryRun, would do).
type Result struct {
	Head    gitapply.HeadState // HEAD before
	Base    plumbing.Hash
	Tip     plumbing.Hash
	Commits []plumbing.Hash // one per rendered patch, in order
	Render  *render.Result
	Changes int // work-tree files written
	Branch  string
	Elapsed time.Duration
}

// trace prints phase timings when KGEN_TRACE is set.
func trace(start time.Time, what string) {
	if os.Getenv("KGEN_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "trace %8.1fms %s\n", float64(time.Since(start).Microseconds())/1000, what)
	}
}

// Run renders the series for o.Tree and commits it; see the package
// documentation.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Branch == "" {
		o.Branch = "unwind-deferred"
	}
	start := time.Now()
	fi, err := os.Stat(o.Tree)
	if err != nil || !fi.IsDir() {
		return nil, cli.Errorf(ExitNotKernel, "%s is not a directory", o.Tree)
	}
	if err := KernelTree(o.Tree); err != nil {
		return nil, err
	}
	r, lk, err := OpenLocked(o.Tree, o.Progress)
	if err != nil {
		return nil, err
	}
	defer lk.Release()

	trace(start, "open+lock+recover")
	if ip := r.InProgress(); ip != nil {
		return nil, cli.Errorf(ExitDirty, "%s: %v", o.Tree, ip)
	}
	head, err := r.Head()
	if err != nil {
		return nil, cli.Errorf(cli.ExitHarness, "%s: reading HEAD: %w", o.Tree, err)
	}
	if head.Branch == "" {
		return nil, cli.WithHint(cli.Errorf(ExitDetached, "%s: HEAD is detached at %s; kgen apply creates a branch and needs to know where you come from", o.Tree, head.Commit.String()[:12]), "git -C "+o.Tree+" switch -c NAME (or check out a branch) first")
	}
	if head.Commit.IsZero() {
		return nil, cli.Errorf(cli.ExitHarness, "%s: %s has no commits", o.Tree, head.Branch.Short())
	}
	newRef := plumbing.NewBranchReferenceName(o.Branch)
	if err := gitapply.CheckRefFormat(string(newRef)); err != nil || o.Branch == "" || strings.HasPrefix(o.Branch, "-") {
		return nil, cli.Errorf(cli.ExitHarness, "--branch %q is not a valid branch name (%w)", o.Branch, err)
	}
	if ref, err := r.S.Reference(newRef); err == nil {
		return nil, cli.WithHint(cli.Errorf(ExitBranchTaken, "%s: branch %s already exists (at %s)", o.Tree, o.Branch, ref.Hash().String()[:12]),
			"choose another name with --branch NAME, or remove the old one with kgen drop "+o.Tree+" (when it is checked out) or git branch -D "+o.Branch)
	}
	if err := r.CheckNewRef(newRef); err != nil {
		return nil, PrepareErr(o.Tree, err)
	}
	base := head.Commit
	if !o.Base.IsZero() {
		base = o.Base
	}
	subjects, ser, err := SeriesSubjects(o.Templates)
	if err != nil {
		return nil, err
	}
	found, _, err := gitapply.FindSeries(r.Objects, base, subjects, 2*len(ser.Patches)+50)
	if err != nil {
		return nil, cli.Errorf(cli.ExitHarness, "%w", err)
	}
	if len(found) > 0 {
		return nil, cli.WithHint(cli.Errorf(ExitApplied, "%s: the series is already applied: %d of its commits are on %s (newest %s %q)", o.Tree, len(found), DescribeBase(head, base), found[0].Commit.String()[:12], found[0].Subject),
			"kgen status "+o.Tree+" tells which patches and whether they match the templates; kgen drop "+o.Tree+" removes them")
	}
	trace(start, "history walk")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := render.Render(ctx, render.Options{Templates: o.Templates, Tree: o.Tree, Base: base, Objects: r.Objects, Identity: o.Identity, NoSignOff: o.NoSignOff})
	if err != nil {
		return nil, RenderErr(ctx, err)
	}
	trace(start, "render")
	if len(res.Patches) == 0 {
		return &Result{Head: head, Base: base, Render: res, Branch: o.Branch}, cli.WithHint(cli.Errorf(ExitUpstream, "%s (Linux %s) already contains the deferred unwind infrastructure upstream: all %d patches are skipped (listed above); nothing to apply, nothing changed", o.Tree, res.Probes.Version, len(res.Skipped)),
			"kgen probe "+o.Tree+" shows the probes; kgen render --tree "+o.Tree+" -o DIR says the same")
	}
	committer := o.Committer
	if committer == nil {
		c, err := r.Committer()
		if err != nil {
			return nil, cli.Errorf(cli.ExitHarness, "%w", err)
		}
		committer = &c
	}
	ov := gitobj.NewOverlay(r.Objects)
	commits, err := res.Build(ov, committer)
	if err != nil {
		return nil, cli.Errorf(cli.ExitHarness, "building the commits: %w", err)
	}
	trace(start, "build")
	tip := commits[len(commits)-1]
	plan, err := gitapply.Prepare(r, ov, gitapply.Switch{
		From: head.Commit, To: tip, Branch: newRef, Create: true,
		Message: "checkout: moving from " + head.Branch.Short() + " to " + o.Branch, Committer: *committer,
		CreateMessage: "branch: Created from " + base.String(), Command: "kgen apply",
	})
	if err != nil {
		return nil, PrepareErr(o.Tree, err)
	}
	trace(start, "prepare (diff, index read, dirty check)")
	out := &Result{Head: head, Base: base, Tip: tip, Commits: commits, Render: res, Changes: len(plan.Changes), Branch: o.Branch}
	if o.DryRun {
		return out, nil
	}
	// Last chance for an interrupt to stop us: from here the transaction
	// runs to its end (a few milliseconds) and SIGINT/SIGTERM wait.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := plan.Execute(); err != nil {
		return nil, ExecuteErr(o.Tree, err)
	}
	trace(start, "execute")
	out.Elapsed = time.Since(start)
	return out, nil
}
