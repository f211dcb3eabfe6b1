package main

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/lint"
	"github.com/kdefer/kdefer/internal/workspace"
	"github.com/kdefer/kdefer/templates"
)

// seriesFlags are the flags that say which series to check, shared by
// lint, build --each and ci.
type seriesFlags struct {
	templates string
	patches   string
	out       string
	base      string // resolved by load: the commit the series applies to
}

func (sf *seriesFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.templates, "templates", "", "render the series from this template directory instead of the embedded one")
	fs.StringVar(&sf.patches, "patches", "", "check these git format-patch files instead of rendering the series")
	fs.StringVar(&sf.out, "out", "", "where the rendered patch files go (default: the kdefer cache)")
	fs.StringVar(&sf.base, "base", "", "the commit the series applies to (default: HEAD, or below the series when kgen apply committed it)")
}

// fs returns the templates the series is rendered from.
func (sf *seriesFlags) fs() (fs.FS, error) {
	return templatesFS(sf.templates)
}

// templatesFS returns the --templates directory dir, or the embedded
// series when dir is "".
func templatesFS(dir string) (fs.FS, error) {
	tfs, err := templates.Dir(dir)
	if err != nil {
		return nil, cli.Errorf(cli.ExitHarness, "--templates: %w", err)
	}
	return tfs, nil
}

// openScratch opens tree's scratch clone at sf.base and, for a rendered
// series, commits it there through kgen apply's path (internal/apply), so
// that every check runs on what kgen apply produces.
func (sf *seriesFlags) openScratch(ctx context.Context, tree string, s *workspace.Series) (*workspace.Scratch, error) {
	work := workspace.WorkDir(tree)
	cli.Progress("preparing the scratch clone %s", filepath.Join(work, "src"))
	sc, err := workspace.OpenScratchAt(ctx, tree, sf.base, filepath.Join(work, "src"))
	if err != nil {
		return nil, err
	}
	if sf.patches == "" {
		tfs, err := sf.fs()
		if err == nil {
			err = sc.CommitSeries(ctx, tfs, s)
		}
		if err != nil {
			sc.Close()
			return nil, err
		}
	}
	return sc, nil
}

// load renders (or reads) the series for tree, and settles sf.base.
func (sf *seriesFlags) load(ctx context.Context, tree string) (*workspace.Series, error) {
	tfs, err := sf.fs()
	if err != nil {
		return nil, err
	}
	if sf.base == "" && sf.patches == "" {
		base, applied, err := workspace.FindBase(ctx, tree, tfs)
		if err != nil {
			return nil, err
		}
		if applied > 0 {
			cli.Progress("%s carries %d patches of the series: checking the series on %.12s below them", tree, applied, base)
			sf.base = base
		}
	}
	if sf.patches != "" {
		return workspace.ReadSeries(sf.patches)
	}
	out := sf.out
	if out == "" {
		out = filepath.Join(workspace.WorkDir(tree), "patches")
	}
	cli.Progress("rendering the series for %s into %s", tree, out)
	s, _, err := workspace.RenderAt(ctx, tree, sf.base, tfs, out)
	if err != nil {
		return nil, cli.WithHint(err, "render it by hand with kgen render, or pass --patches DIR")
	}
	return s, nil
}

func init() {
	var sf seriesFlags
	var strict bool
	var skip string
	var off multiFlag
	app.Register(&cli.Command{
		Name:    "lint",
		Summary: "per-patch static checks: checkpatch, indentation, kernel-doc, commit metadata, C API (cc/v4)",
		Usage: `lint [flags] [TREE]

Renders the series for TREE's HEAD (default: the current directory) and
checks every patch: the tree's own scripts/checkpatch.pl, lines added to a
function body in column 1 (which checkpatch lets through), scripts/kernel-doc
on the files the series adds, the commit metadata (subject, 75-column body,
author's Signed-off-by, duplicate trailers, cover letter with diffstat),
and C API consistency (prototype, !CONFIG stub and definition agree) with
modernc.org/cc/v4. The series is applied in a private scratch clone; TREE
is never modified.

Exit: 0 clean, 1 a finding, 2 a check could not run.`,
		Flags: func(fs *flag.FlagSet) {
			sf.register(fs)
			fs.BoolVar(&strict, "strict", false, "run checkpatch with --strict (CHECK findings are advice)")
			fs.StringVar(&skip, "skip", "", "comma-separated checks not to run: "+strings.Join(lint.Checks, ","))
			fs.Var(&off, "config-off", "Kconfig option whose off view gives the stubs, besides those the series defines (repeatable; default UNWIND_USER)")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			tree := "."
			if len(args) > 1 {
				return cli.Errorf(cli.ExitHarness, "at most one TREE")
			}
			if len(args) == 1 {
				tree = args[0]
			}
			r, err := runLint(ctx, tree, &sf, lint.Options{Strict: strict, Skip: splitList(skip), ConfigOff: off, Upstream: kerneltree.Newest("", "7.")})
			if err != nil {
				return err
			}
			r.WriteText(os.Stdout)
			return lintExit(r)
		},
	})
}

// runLint renders the series and lints it, using the per-tree cache for
// the scratch clone and the capi build directory.
func runLint(ctx context.Context, tree string, sf *seriesFlags, opt lint.Options) (*lint.Result, error) {
	s, err := sf.load(ctx, tree)
	if err != nil {
		return nil, err
	}
	work := workspace.WorkDir(tree)
	sc, err := sf.openScratch(ctx, tree, s)
	if err != nil {
		return nil, err
	}
	if len(opt.ConfigOff) == 0 {
		opt.ConfigOff = []string{"UNWIND_USER"} // the series' feature
	}
	opt.Tree = tree
	opt.Scratch = sc
	opt.APIBuild = filepath.Join(work, "build-api")
	opt.Progress = cli.Progress
	defer sc.Close()
	r, err := lint.Run(ctx, s, opt)
	if err != nil {
		return nil, err
	}
	cli.Progress("lint: %s", r.Timing())
	return r, nil
}

func lintExit(r *lint.Result) error {
	if r.Failed() {
		return cli.Errorf(cli.ExitFail, "the series has lint findings")
	}
	for _, n := range r.NotRun {
		if n.Reason != "skipped on request" {
			return cli.Errorf(cli.ExitHarness, "%d checks could not run", len(r.NotRun))
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
