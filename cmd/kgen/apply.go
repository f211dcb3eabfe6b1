package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/proc"
	"github.com/kdefer/kdefer/internal/render"
)

const applyCodes = `Exit codes:
  0   applied (or, with --dry-run, would apply)
  2   usage or I/O error
  10  not a kernel tree
  11  not a git repository (a plain extracted tarball): run
      "kgen tree get VERSION --git", or "kgen apply TREE --init"
  12  local changes in a file the series touches (index or work tree
      differ from HEAD there as git status decides it; an untracked file
      where the series creates one), unmerged entries in the index, a
      git operation in progress (am, rebase, merge, cherry-pick, revert,
      bisect: named, with how to finish it), or an interrupted kgen
      transaction that cannot be recovered without overwriting files
      changed since (named; see kgen recover)
  13  HEAD is detached (check out a branch first)
  14  the branch name is taken: it exists, or clashes with an existing
      ref as a directory or file (unwind-deferred vs unwind-deferred/v1,
      loose or packed); for drop, the branch to go back to is checked
      out in another work tree
  15  the series is already applied (a commit with a series subject on
      the base's history, or the tree already has the series' files)
  16  the tree already contains the infrastructure upstream (every patch
      skipped; each is listed with the probe that found it)
  17  the series does not support this kernel version: it lacks a
      prerequisite (series.yaml requires:, e.g. Debian 6.1), or no probe
      can place it
  18  a template or anchor failed for this tree (the renderer's error)
  19  another kgen works on this tree (.git/kgen.lock; kgen refuses
      rather than waits) or .git/index.lock exists; for kgen status, an
      interrupted kgen transaction waits for kgen recover
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
SIGKILL or a crash, kgen recover (or the next kgen apply or drop) rolls
the journal in .git/kgen-journal back (or forward, if HEAD had already
moved), refusing, with the files named, where that would overwrite a
change made since. Every move of HEAD and every new branch gets its
reflog entry, as git writes them. TREE may be a linked worktree.

Dirty rule (git's): every file the switch changes must equal HEAD in the
index and in the work tree (index stat data first, then the content after
git's clean conversion: core.autocrlf, core.eol, text/eol attributes,
filter drivers, core.fileMode), and a file the series creates must not
exist; other files may carry local changes, which are kept. Files are
written as git checkout writes them (CRLF where configured).

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
			tfs, err := templatesFS(*tdir)
			if err != nil {
				return err
			}
			return runApply(ctx, applyOpts{tree: args[0], branch: *branch, base: *baseRev, dryRun: *dryRun, init: *initTree, templates: tfs, maintainerOpts: mo})
		},
	})
}

type applyOpts struct {
	tree, branch, base string
	dryRun, init       bool
	templates          fs.FS
	maintainerOpts     // --signoff, --identity, --upgrade (upgrade.go)
}

// runApply is kgen apply: --init, then internal/apply.Run, then what it
// did, in git's words.
func runApply(ctx context.Context, o applyOpts) error {
	if o.upgrade {
		return runUpgrade(ctx, o)
	}
	fi, err := os.Stat(o.tree)
	if err != nil || !fi.IsDir() {
		return cli.Errorf(apply.ExitNotKernel, "%s is not a directory", o.tree)
	}
	if err := apply.KernelTree(o.tree); err != nil {
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
	var base plumbing.Hash
	if o.base != "" {
		if base, err = apply.ResolveRev(o.tree, o.base); err != nil {
			return cli.Errorf(cli.ExitHarness, "--base: %w", err)
		}
	}
	var ro render.Options
	if err := applyRenderOptions(ctx, o, &ro); err != nil {
		return err
	}
	res, err := apply.Run(ctx, apply.Options{Tree: o.tree, Templates: o.templates, Branch: o.branch, Base: base, DryRun: o.dryRun,
		Identity: ro.Identity, NoSignOff: ro.NoSignOff, Progress: cli.Progress})
	if res != nil && res.Render != nil {
		printSkipped(os.Stdout, res.Render.Skipped, len(res.Render.Patches)+len(res.Render.Skipped))
	}
	if err != nil {
		return err
	}
	verb := "commit"
	if o.dryRun {
		verb = "would commit"
	}
	for i, p := range res.Render.Patches {
		fmt.Printf("%s %s [%d/%d] %s (%d files)\n", verb, res.Commits[i].String()[:12], p.Index, p.Total, p.Subject, len(p.Changes))
	}
	if o.dryRun {
		fmt.Printf("dry run: would create branch %s at %s on %s and update %d files of the work tree; nothing written\n",
			o.branch, res.Tip.String()[:12], apply.DescribeBase(res.Head, res.Base), res.Changes)
		return nil
	}
	fmt.Printf("applied %d patches of the series on branch %s (base %s, Linux %s); %d files updated in %v\n",
		len(res.Render.Patches), o.branch, res.Base.String()[:12], res.Render.Probes.Version, res.Changes, res.Elapsed.Round(time.Millisecond))
	return nil
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
		return cli.Errorf(cli.ExitHarness, "%w", err)
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
		cmd := proc.Command(ctx, "git", append([]string{"--git-dir=" + gitTmp, "--work-tree=" + abs}, a...)...)
		cmd.Dir = abs
		if out, err := cmd.CombinedOutput(); err != nil {
			return cli.Errorf(cli.ExitHarness, "git %s in %s: %v: %s", strings.Join(a, " "), tree, err, out)
		}
	}
	if err := os.Rename(gitTmp, filepath.Join(abs, ".git")); err != nil {
		return cli.Errorf(cli.ExitHarness, "installing %s/.git: %w", tree, err)
	}
	return nil
}
