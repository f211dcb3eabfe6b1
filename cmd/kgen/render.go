package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/gitobj"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/render"
)

func init() {
	var out, tree, tdir, pdir, baseRev, ident *string
	var check, update *bool
	app.Register(&cli.Command{
		Name:    "render",
		Summary: "render the series for a kernel tree as git format-patch files",
		Usage: `render --tree TREE (-o DIR | --check | --update) [--identity "Name <email>"] [--templates DIR] [--patches DIR]

Probes TREE (a git repository; its HEAD is the base), renders every patch
of the series as a commit on top of HEAD, and writes the series exactly as
"git -c core.abbrev=12 format-patch --cover-letter --base=HEAD" would:
0000-cover-letter.patch and NNNN-<slug>.patch (from version 2 of the
series on, "format-patch -v N": vN-0000-cover-letter.patch, subjects
[PATCH vN NN/MM], and the changelog of every version in the cover
letter). Only the files the series touches are read. Nothing is written
unless the whole series renders.

  -o DIR     write the series into DIR (stale *.patch files there are removed)
  --check    compare with --patches (default: patches) instead; exit 1 on a
             difference, naming each file and its first differing line
  --update   refresh --patches with the rendered series

--tree defaults to $KDEFER_TREE_612, else the cached 6.12 git tree of
"kgen tree get 6.12 --git", for --check and --update (patches/ is rendered
for Debian's linux-source-6.12); the base is then the base-commit that
--patches records, when the tree has it.

Patches whose skip-if probe is true are reported as already present. When
nothing remains (a tree carrying the whole series, e.g. Linux 7.x), kgen
says so and exits 0 without writing.

A tree that lacks a prerequisite of the series (series.yaml requires:,
checked against the probes before anything is rendered; e.g. Debian's
6.1) is refused with what it lacks and the probes' evidence.

` + identityHelp + `

Exit codes: 0 done (or nothing to do); 1 --check found a difference;
2 bad input (templates, anchors, tree) — nothing written; 17 the series
does not support this tree (a requires: does not hold) or no probe can
place it — nothing written.`,
		Flags: func(fs *flag.FlagSet) {
			out = fs.String("o", "", "output directory")
			tree = fs.String("tree", "", "kernel tree (a git repository)")
			tdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
			pdir = fs.String("patches", "patches", "reference patch directory for --check and --update")
			check = fs.Bool("check", false, "compare the rendered series with --patches; exit 1 on a difference")
			update = fs.Bool("update", false, "write the rendered series into --patches")
			ident = fs.String("identity", "", "render as \"Name <email>\" (default: git config user.name/user.email; --check/--update: series.yaml maintainer:)")
			baseRev = fs.String("base", "", "base commit (full id or branch/tag name; default HEAD, or for --check/--update the base-commit recorded in --patches when the tree has it)")
		},
		Run: func(ctx context.Context, _ *flag.FlagSet, args []string) (err error) {
			if len(args) > 0 {
				return cli.Errorf(cli.ExitHarness, "unexpected arguments %q (the tree goes in --tree)", args)
			}
			modes := 0
			for _, b := range []bool{*out != "", *check, *update} {
				if b {
					modes++
				}
			}
			if modes != 1 {
				return cli.Errorf(cli.ExitHarness, "choose exactly one of -o DIR, --check, --update")
			}
			t := *tree
			if t == "" && (*check || *update) {
				t = referenceTree()
			}
			if t == "" {
				return cli.WithHint(cli.Errorf(cli.ExitHarness, "no --tree given"), "T=$(kgen tree get 6.12 --git) && kgen render --tree $T ...")
			}
			var base plumbing.Hash
			switch {
			case *baseRev != "":
				if base, err = apply.ResolveRev(t, *baseRev); err != nil {
					return cli.Errorf(cli.ExitHarness, "--base: %w", err)
				}
			case *check || *update:
				if h, ok := formatpatch.RecordedBase(*pdir); ok && gitobj.HasCommit(t, h) {
					base = h
				}
			}
			tfs, err := templatesFS(*tdir)
			if err != nil {
				return err
			}
			opts := render.Options{Templates: tfs, Tree: t, Base: base}
			if !*check && !*update || *ident != "" {
				if opts.Identity, err = identity(ctx, *ident, t); err != nil {
					return err
				}
			}
			start := time.Now()
			res, err := render.Render(ctx, opts)
			if err != nil {
				if errors.Is(err, gitobj.ErrNotGit) {
					return cli.WithHint(cli.Errorf(cli.ExitHarness, "%w", err), "kgen tree get VERSION --git  (or run: git init && git add -A && git commit -m base, in the tree)")
				}
				if e := apply.Unsupported(err); e != nil {
					return e
				}
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			printSkipped(os.Stdout, res.Skipped, len(res.Patches)+len(res.Skipped))
			if len(res.Patches) == 0 {
				fmt.Fprintf(os.Stdout, "nothing to do: %s (Linux %s) already has everything the series adds (all %d patches skipped); nothing written\n", t, res.Probes.Version, len(res.Skipped))
				return nil
			}
			cli.Progress("rendered %d patches (%d already present) for %s (Linux %s, base %s) in %v", len(res.Patches), len(res.Skipped), t, res.Probes.Version, res.Base.String()[:12], time.Since(start).Round(time.Millisecond))
			switch {
			case *check:
				if err := res.Check(*pdir); err != nil {
					return cli.WithHint(&cli.Error{Code: cli.ExitFail, Err: err}, "run 'kgen render --update' after changing templates/")
				}
				fmt.Fprintf(os.Stdout, "%s matches the templates (%d patches + cover letter)\n", *pdir, len(res.Patches))
				return nil
			case *update:
				*out = *pdir
			}
			if err := res.WriteSeries(*out); err != nil {
				return cli.Errorf(cli.ExitHarness, "writing %s: %w", *out, err)
			}
			for i := range res.Patches {
				fmt.Fprintln(os.Stdout, filepath.Join(*out, res.Patches[i].FileName()))
			}
			return nil
		},
	})
}

// printSkipped lists the patches that the tree already has (skip-if),
// each with the probe that says so and what the probe found.
func printSkipped(w io.Writer, skipped []render.Skipped, total int) {
	if len(skipped) == 0 {
		return
	}
	fmt.Fprintf(w, "already present, skipped (%d of %d patches):\n", len(skipped), total)
	for _, s := range skipped {
		fmt.Fprintf(w, "  %-18s %s\n  %-18s probe %s found %s\n", s.Name, s.Subject, "", s.Probe, s.Evidence)
	}
}

// referenceTree is the tree patches/ is rendered for: $KDEFER_TREE_612 or
// the newest cached 6.12 git tree.
func referenceTree() string {
	if t := os.Getenv("KDEFER_TREE_612"); t != "" {
		return t
	}
	return kerneltree.NewestWhere("", func(tr kerneltree.Tree) bool { return tr.Git && strings.HasPrefix(tr.Release, "6.12.") })
}
