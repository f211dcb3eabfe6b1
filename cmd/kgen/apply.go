package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/series"
)

// Exit codes of kgen apply, status and drop (documented in their -h).
const (
	exitNotKernel   = 10 // not a kernel tree
	exitNotGit      = 11 // a plain tree without .git
	exitDirty       = 12 // local changes in files the series touches, or a merge in progress
	exitDetached    = 13 // HEAD is detached
	exitBranchTaken = 14 // the branch exists
	exitApplied     = 15 // the series is already applied
	exitUpstream    = 16 // the tree carries the infrastructure upstream
	exitNoProbe     = 17 // the series does not support this tree (requires:), or no probe can place it
	exitRender      = 18 // an anchor or template failed (the renderer's error)
	exitLocked      = 19 // another kgen (kgen.lock) or git (index.lock) is at work
	exitNothing     = 20 // drop: the branch carries no series commits
)

const applyCodes = `Exit codes:
  0   applied (or, with --dry-run, would apply)
  2   usage or I/O error
  10  not a kernel tree
  11  not a git repository (a plain extracted tarball): run
      "kgen tree get VERSION --git", or "kgen apply TREE --init"
  12  local changes in a file the series touches (index or work tree
      differ from HEAD there; an untracked file where the series creates
      one), or unmerged entries in the index
  13  HEAD is detached (check out a branch first)
  14  the branch name is taken (--branch NAME, or kgen drop)
  15  the series is already applied (a commit with a series subject on
      the base's history, or the tree already has the series' files)
  16  the tree already contains the infrastructure upstream (every patch
      skipped; each is listed with the probe that found it)
  17  the series does not support this kernel version: it lacks a
      prerequisite (series.yaml requires:, e.g. Debian 6.1), or no probe
      can place it
  18  a template or anchor failed for this tree (the renderer's error)
  19  another kgen works on this tree (.git/kgen.lock; kgen refuses
      rather than waits) or .git/index.lock exists
  130 interrupted before the point of no return: nothing changed`

func init() {
	var branch, baseRev, tdir *string
	var dryRun, initTree *bool
	var mo maintainerOpts
	app.Register(&cli.Command{
		Name:    "apply",
		Summary: "apply the series to a kernel tree as commits on a new branch",
		Usage: `apply TREE [--branch NAME] [--base REV] [--dry-run] [--init] [--signoff] [--identity "Name <email>"] [--upgrade [--keep-old] [--patches DIR]] [--templates DIR]

Probes TREE (a git work tree of a kernel), renders the series for its HEAD
(or --base), and creates one commit per patch (date and message from the
series; author and committer from git's user.name/user.email, see
Identity below, unless a patch names an author of its own) on a new
branch, which is checked out: HEAD, index and work tree end up exactly as
"git am" would leave them, but only the files the series touches are
read or written (the rest of the work tree is never walked).

Everything is rendered and checked before anything is written. The
switch is one transaction (see internal/gitapply): an error, SIGINT or
SIGTERM leaves HEAD, refs, index and work tree as they were; after a
SIGKILL or a crash the next kgen apply/status/drop rolls the journal in
.git/kgen-journal back (or forward, if HEAD had already moved).

Dirty rule: every file the switch changes must equal HEAD in the index
and in the work tree, and a file the series creates must not exist; other
files may carry local changes, which are kept.

` + upgradeHelp + `

` + identityHelp + `

` + applyCodes + `
  21  --upgrade: commits of yours between or on top of the series that
      cannot be carried over (named)`,
		Flags: func(fs *flag.FlagSet) {
			branch = fs.String("branch", "unwind-deferred", "name of the branch to create")
			baseRev = fs.String("base", "", "base commit (full id or branch/tag name; default HEAD)")
			dryRun = fs.Bool("dry-run", false, "render and check, print what would happen, write nothing")
			initTree = fs.Bool("init", false, "a plain tree without .git: make it a git baseline first (git init; git add -A; git commit)")
			tdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
			mo.register(fs)
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "give exactly one TREE")
			}
			mo.parsed(fs)
			return runApply(ctx, applyOpts{tree: args[0], branch: *branch, base: *baseRev, dryRun: *dryRun, init: *initTree, templates: templatesFS(*tdir), maintainerOpts: mo})
		},
	})
}

type applyOpts struct {
	tree, branch, base string
	dryRun, init       bool
	templates          fs.FS
	maintainerOpts     // --signoff, --identity, --upgrade (upgrade.go)
}

// kernelTree checks the top-level Makefile of dir.
func kernelTree(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "Makefile"))
	if err != nil {
		return cli.Errorf(exitNotKernel, "%s is not a kernel tree: no readable top-level Makefile", dir)
	}
	head := string(data)
	if len(head) > 2000 {
		head = head[:2000]
	}
	if !strings.Contains(head, "\nVERSION =") && !strings.HasPrefix(head, "VERSION =") || !strings.Contains(head, "PATCHLEVEL =") {
		return cli.Errorf(exitNotKernel, "%s is not a kernel tree: its Makefile has no VERSION/PATCHLEVEL lines", dir)
	}
	if fi, err := os.Stat(filepath.Join(dir, "kernel")); err != nil || !fi.IsDir() {
		return cli.Errorf(exitNotKernel, "%s is not a kernel tree: no kernel/ directory", dir)
	}
	return nil
}

// openLocked opens the repository, takes the kgen lock and recovers an
// interrupted transaction.
func openLocked(tree string) (*gitapply.Repo, *gitapply.Lock, error) {
	r, err := gitapply.Open(tree)
	if err != nil {
		if errors.Is(err, gitapply.ErrNotGit) {
			return nil, nil, cli.WithHint(cli.Errorf(exitNotGit, "%s is not a git repository (a plain extracted tree)", tree),
				"make a git baseline: kgen tree get "+treeVersion(tree)+" --git (a fresh tree), or kgen apply "+tree+" --init (this tree, in place)")
		}
		return nil, nil, cli.Errorf(cli.ExitHarness, "%v", err)
	}
	lk, err := gitapply.Acquire(r.GitDir)
	if err != nil {
		if errors.Is(err, gitapply.ErrLocked) {
			return nil, nil, cli.Errorf(exitLocked, "%v", err)
		}
		return nil, nil, cli.Errorf(cli.ExitHarness, "%v", err)
	}
	msg, err := gitapply.Recover(r)
	if err != nil {
		lk.Release()
		return nil, nil, cli.Errorf(cli.ExitHarness, "recovering an interrupted transaction in %s: %v", tree, err)
	}
	if msg != "" {
		cli.Progress("%s: %s", tree, msg)
	}
	return r, lk, nil
}

func seriesSubjects(t fs.FS) (map[string]bool, *series.Series, error) {
	s, err := series.Load(t)
	if err != nil {
		return nil, nil, cli.Errorf(cli.ExitHarness, "%v", err)
	}
	m := map[string]bool{}
	for _, p := range s.Patches {
		m[p.Subject] = true
	}
	return m, s, nil
}

// renderErr maps a renderer error to an exit code.
func renderErr(err error) error {
	if e := unsupported(err); e != nil {
		return e
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a kernel tree"):
		return cli.Errorf(exitNotKernel, "%v", err)
	case strings.Contains(msg, "seems to carry the series"):
		return cli.WithHint(cli.Errorf(exitApplied, "the series is already applied: %v", err), "kgen status TREE")
	case errors.Is(err, render.ErrNotGit):
		return cli.Errorf(exitNotGit, "%v", err)
	}
	return cli.WithHint(cli.Errorf(exitRender, "rendering failed, nothing written: %v", err), "kgen render --tree TREE -o DIR shows the same error; fix the anchor in templates/edits")
}

// trace prints phase timings when KGEN_TRACE is set.
func trace(start time.Time, what string) {
	if os.Getenv("KGEN_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "trace %8.1fms %s\n", float64(time.Since(start).Microseconds())/1000, what)
	}
}

func runApply(ctx context.Context, o applyOpts) error {
	if o.upgrade {
		return runUpgrade(ctx, o)
	}
	start := time.Now()
	fi, err := os.Stat(o.tree)
	if err != nil || !fi.IsDir() {
		return cli.Errorf(exitNotKernel, "%s is not a directory", o.tree)
	}
	if err := kernelTree(o.tree); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.tree, ".git")); errors.Is(err, os.ErrNotExist) && o.init {
		if o.dryRun {
			return cli.Errorf(cli.ExitHarness, "--init and --dry-run: --init would write a baseline commit; run without --dry-run")
		}
		if err := initBaseline(ctx, o.tree); err != nil {
			return err
		}
	}
	r, lk, err := openLocked(o.tree)
	if err != nil {
		return err
	}
	defer lk.Release()

	trace(start, "open+lock+recover")
	head, err := r.Head()
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%s: reading HEAD: %v", o.tree, err)
	}
	if head.Branch == "" {
		return cli.WithHint(cli.Errorf(exitDetached, "%s: HEAD is detached at %s; kgen apply creates a branch and needs to know where you come from", o.tree, head.Commit.String()[:12]), "git -C "+o.tree+" switch -c NAME (or check out a branch) first")
	}
	if head.Commit.IsZero() {
		return cli.Errorf(cli.ExitHarness, "%s: %s has no commits", o.tree, head.Branch.Short())
	}
	newRef := plumbing.NewBranchReferenceName(o.branch)
	if err := newRef.Validate(); err != nil || o.branch == "" {
		return cli.Errorf(cli.ExitHarness, "--branch %q is not a valid branch name", o.branch)
	}
	if ref, err := r.S.Reference(newRef); err == nil {
		return cli.WithHint(cli.Errorf(exitBranchTaken, "%s: branch %s already exists (at %s)", o.tree, o.branch, ref.Hash().String()[:12]),
			"choose another name with --branch NAME, or remove the old one with kgen drop "+o.tree+" (when it is checked out) or git branch -D "+o.branch)
	}
	base := head.Commit
	if o.base != "" {
		if base, err = resolveRev(o.tree, o.base); err != nil {
			return cli.Errorf(cli.ExitHarness, "--base: %v", err)
		}
	}
	subjects, ser, err := seriesSubjects(o.templates)
	if err != nil {
		return err
	}
	found, _, err := gitapply.FindSeries(r.S, base, subjects, 2*len(ser.Patches)+50)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%v", err)
	}
	if len(found) > 0 {
		return cli.WithHint(cli.Errorf(exitApplied, "%s: the series is already applied: %d of its commits are on %s (newest %s %q)", o.tree, len(found), describeBase(head, base), found[0].Commit.String()[:12], found[0].Subject),
			"kgen status "+o.tree+" tells which patches and whether they match the templates; kgen drop "+o.tree+" removes them")
	}
	trace(start, "history walk")
	if err := ctx.Err(); err != nil {
		return err
	}
	ro := render.Options{Templates: o.templates, Tree: o.tree, Base: base}
	if err := applyRenderOptions(ctx, o, &ro); err != nil {
		return err
	}
	res, err := render.Render(ctx, ro)
	if err != nil {
		return renderErr(err)
	}
	trace(start, "render")
	if len(res.Patches) == 0 {
		printSkipped(os.Stdout, res.Skipped, len(res.Skipped))
		return cli.WithHint(cli.Errorf(exitUpstream, "%s (Linux %s) already contains the deferred unwind infrastructure upstream: all %d patches are skipped (listed above); nothing to apply, nothing changed", o.tree, res.Probes.Version, len(res.Skipped)),
			"kgen probe "+o.tree+" shows the probes; kgen render --tree "+o.tree+" -o DIR says the same")
	}
	committer, err := r.Committer()
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%v", err)
	}
	ov := gitapply.NewOverlay(r.S)
	commits, err := res.Build(ov, &committer)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "building the commits: %v", err)
	}
	trace(start, "build")
	tip := commits[len(commits)-1]
	plan, err := gitapply.Prepare(r, ov, gitapply.Switch{
		From: head.Commit, To: tip, Branch: newRef, Create: true,
		Message: "checkout: moving from " + head.Branch.Short() + " to " + o.branch, Committer: committer,
	})
	if err != nil {
		var de *gitapply.DirtyError
		if errors.As(err, &de) || errors.Is(err, gitapply.ErrUnmerged) {
			return cli.WithHint(cli.Errorf(exitDirty, "%s: %v", o.tree, err), "commit or stash those changes (git -C "+o.tree+" stash), then run kgen apply again")
		}
		if strings.Contains(err.Error(), "already exists") {
			return cli.Errorf(exitBranchTaken, "%s: %v", o.tree, err)
		}
		return cli.Errorf(cli.ExitHarness, "%s: %v", o.tree, err)
	}
	trace(start, "prepare (diff, index read, dirty check)")
	printSkipped(os.Stdout, res.Skipped, len(res.Patches)+len(res.Skipped))
	verb := "commit"
	if o.dryRun {
		verb = "would commit"
	}
	for i, p := range res.Patches {
		fmt.Printf("%s %s [%d/%d] %s (%d files)\n", verb, commits[i].String()[:12], p.Index, p.Total, p.Subject, len(p.Changes))
	}
	if o.dryRun {
		fmt.Printf("dry run: would create branch %s at %s on %s and update %d files of the work tree; nothing written\n", o.branch, tip.String()[:12], describeBase(head, base), len(plan.Changes))
		return nil
	}
	if ms := os.Getenv("KGEN_TEST_PAUSE_MS"); ms != "" {
		// Test only (the kill test): widen the windows between the
		// transaction's steps so that random kills land inside it.
		d, _ := time.ParseDuration(ms + "ms")
		gitapply.Hook = func(string) error { time.Sleep(d); return nil }
	}
	// Last chance for an interrupt to stop us: from here the transaction
	// runs to its end (a few milliseconds) and SIGINT/SIGTERM wait.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := plan.Execute(); err != nil {
		if strings.Contains(err.Error(), "index.lock exists") {
			return cli.Errorf(exitLocked, "%v", err)
		}
		return cli.Errorf(cli.ExitHarness, "%s: %v (nothing changed)", o.tree, err)
	}
	trace(start, "execute")
	fmt.Printf("applied %d patches of the series on branch %s (base %s, Linux %s); %d files updated in %v\n",
		len(res.Patches), o.branch, base.String()[:12], res.Probes.Version, len(plan.Changes), time.Since(start).Round(time.Millisecond))
	return nil
}

func describeBase(head gitapply.HeadState, base plumbing.Hash) string {
	if base == head.Commit {
		return head.Branch.Short()
	}
	return base.String()[:12]
}

// treeVersion returns "MAJOR.MINOR" from the tree's Makefile ("VERSION"
// when unreadable).
func treeVersion(tree string) string {
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

// initBaseline turns a plain tree into a git repository with one commit
// holding every file (the same thing "kgen tree get --git" does for the
// cached trees, here in place).
func initBaseline(ctx context.Context, tree string) error {
	rel := "unknown"
	if data, err := os.ReadFile(filepath.Join(tree, "Makefile")); err == nil {
		v := map[string]string{}
		for _, l := range strings.SplitN(string(data), "\n", 10) {
			if k, val, ok := strings.Cut(l, "="); ok {
				v[strings.TrimSpace(k)] = strings.TrimSpace(val)
			}
		}
		rel = v["VERSION"] + "." + v["PATCHLEVEL"] + "." + v["SUBLEVEL"]
	}
	abs, err := filepath.Abs(tree)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%v", err)
	}
	// The repository is made next to the tree and renamed to TREE/.git
	// when complete, so that an interrupted --init leaves no half .git.
	gitTmp := filepath.Join(filepath.Dir(abs), fmt.Sprintf(".kgen-init-%s-%d.git", filepath.Base(abs), os.Getpid()))
	defer os.RemoveAll(gitTmp)
	cli.Progress("--init: making %s a git baseline (git init, add -f -A, commit; this reads the whole tree once)", tree)
	// -f: Debian's top-level .gitignore ends with "/*", so a plain
	// "git add -A" would add nothing. bigFileThreshold=1 streams the blobs
	// into one pack instead of 87,000 loose objects.
	steps := [][]string{
		{"init", "-q", "--template=", "-b", "main"},
		{"-c", "core.bigFileThreshold=1", "-c", "core.compression=1", "add", "-f", "-A"},
		{"-c", "user.name=kgen", "-c", "user.email=kgen@localhost", "commit", "-q", "--no-verify", "-m", "Linux " + rel + " (baseline made by kgen apply --init)"},
		{"config", "core.bare", "false"},
	}
	for _, a := range steps {
		cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + gitTmp, "--work-tree=" + abs}, a...)...)
		cmd.Dir = abs
		if out, err := cmd.CombinedOutput(); err != nil {
			return cli.Errorf(cli.ExitHarness, "git %s in %s: %v: %s", strings.Join(a, " "), tree, err, out)
		}
	}
	if err := os.Rename(gitTmp, filepath.Join(abs, ".git")); err != nil {
		return cli.Errorf(cli.ExitHarness, "installing %s/.git: %v", tree, err)
	}
	return nil
}
