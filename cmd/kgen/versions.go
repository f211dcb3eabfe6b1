package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/gitobj"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/series"
	"github.com/kdefer/kdefer/internal/versions"
)

func init() {
	var tdir, pdir *string
	var keep *bool
	app.Register(&cli.Command{
		Name:    "versions",
		Summary: "show the series' version, its changelog and the kept versions",
		Usage: `versions [--keep] [--patches DIR] [--templates DIR]

Prints the version of the series (series.yaml version:), the changelog
of every version, and the published versions kept as directories of their
patches (DIR/vN/, DIR defaults to patches).

--keep copies DIR/*.patch (the current rendering for the reference base,
"kgen render --update") into DIR/vN for the current version N, before
version: is bumped for the next one. A kept version is never overwritten
with different bytes.`,
		Flags: func(fs *flag.FlagSet) {
			tdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
			pdir = fs.String("patches", "patches", "directory of the current rendering; kept versions are its vN subdirectories")
			keep = fs.Bool("keep", false, "keep the current rendering as patches/vN")
		},
		NoArgs: true,
		Run: func(ctx context.Context, _ *flag.FlagSet, _ []string) error {
			tfs, err := templatesFS(*tdir)
			if err != nil {
				return err
			}
			s, err := series.Load(tfs)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			if *keep {
				dst, err := versions.Keep(*pdir, s.Version)
				if err != nil {
					return cli.Errorf(cli.ExitHarness, "%w", err)
				}
				fmt.Printf("kept version %d in %s\n", s.Version, dst)
			}
			who := "(none: the renderer's git identity)"
			if !s.Maintainer.IsZero() {
				who = s.Maintainer.String()
			}
			fmt.Printf("series version %d, %d patches; maintainer %s\n", s.Version, len(s.Patches), who)
			for _, c := range s.Changelog {
				fmt.Printf("  changes in v%d:\n", c.Version)
				for _, x := range c.Changes {
					fmt.Printf("    - %s\n", strings.Join(strings.Fields(x), " "))
				}
			}
			kept, err := versions.List(*pdir)
			if err != nil && !os.IsNotExist(err) {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			if len(kept) == 0 {
				fmt.Printf("no kept versions in %s (kgen versions --keep)\n", *pdir)
				return nil
			}
			fmt.Println("kept versions:")
			for _, k := range kept {
				base := "no base-commit"
				if !k.Base.IsZero() {
					base = "base " + k.Base.String()[:12]
				}
				fmt.Printf("  v%-3d %-16s %2d patches, %s: %s\n", k.Version, k.Dir, len(k.Patches), base, k.Subject)
			}
			return nil
		},
	})

	var tree, from, baseRev, rtdir, rpdir, ident *string
	var color *bool
	app.Register(&cli.Command{
		Name:    "range-diff",
		Summary: "compare a kept version of the series with the current rendering (git range-diff)",
		Usage: `range-diff [--tree TREE] [--from vN|DIR|A..B] [--base REV] [--color]

Renders the series for TREE and runs the real "git range-diff" between a
kept version and that rendering:

  --from vN     patches/vN (default: the newest kept version)
  --from DIR    any directory of format-patch files
  --from A..B   a commit range in TREE (a branch carrying an older
                rendering, for example)

A kept directory is committed onto its recorded base-commit when TREE has
it, else onto the rendering's base, with git mailinfo, git apply --cached
and git commit-tree, in a scratch bare repository that borrows TREE's
objects (objects/info/alternates): TREE is never written.

--tree defaults to the reference tree (as for kgen render --check); the
rendering is the published one (series.yaml maintainer:), unless
--identity says otherwise. --base: as for kgen render.

Exit codes: 0 done; 2 usage, I/O, or a kept patch that does not apply on
the base; 17, 18 as for kgen apply.`,
		Flags: func(fs *flag.FlagSet) {
			tree = fs.String("tree", "", "kernel tree (a git repository)")
			from = fs.String("from", "", "the kept version: vN, a directory, or A..B in TREE")
			baseRev = fs.String("base", "", "base commit of the rendering (default HEAD, or the base-commit recorded in --patches when the tree has it)")
			rtdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
			rpdir = fs.String("patches", "patches", "directory whose vN subdirectories are the kept versions")
			ident = fs.String("identity", "", "render as \"Name <email>\" (default: series.yaml maintainer:, as published)")
			color = fs.Bool("color", false, "colour git range-diff's output")
		},
		NoArgs: true,
		Run: func(ctx context.Context, _ *flag.FlagSet, _ []string) error {
			return runRangeDiff(ctx, rangeDiffOpts{tree: *tree, from: *from, base: *baseRev, templates: *rtdir, patches: *rpdir, identity: *ident, color: *color})
		},
	})
}

type rangeDiffOpts struct {
	tree, from, base, templates, patches, identity string
	color                                          bool
}

func runRangeDiff(ctx context.Context, o rangeDiffOpts) error {
	t := o.tree
	if t == "" {
		t = referenceTree()
	}
	if t == "" {
		return cli.WithHint(cli.Errorf(cli.ExitHarness, "no --tree given and no cached 6.12 git tree"), "T=$(kgen tree get 6.12 --git) && kgen range-diff --tree $T")
	}
	var base plumbing.Hash
	var err error
	switch {
	case o.base != "":
		if base, err = apply.ResolveRev(t, o.base); err != nil {
			return cli.Errorf(cli.ExitHarness, "--base: %w", err)
		}
	default:
		if h, ok := formatpatch.RecordedBase(o.patches); ok && gitobj.HasCommit(t, h) {
			base = h
		}
	}
	tfs, err := templatesFS(o.templates)
	if err != nil {
		return err
	}
	opts := render.Options{Templates: tfs, Tree: t, Base: base}
	if o.identity != "" {
		if opts.Identity, err = series.ParseIdentity(o.identity); err != nil {
			return cli.Errorf(cli.ExitHarness, "--identity: %w", err)
		}
	}
	res, err := render.Render(ctx, opts)
	if err != nil {
		return apply.RenderErr(ctx, err)
	}
	sc, err := versions.NewScratch(ctx, t)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	defer sc.Close()
	newTip, err := sc.AddRendering(res)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%s (Linux %s): %w", t, res.Probes.Version, err)
	}
	var oldBase, oldTip plumbing.Hash
	what := o.from
	if a, b, ok := strings.Cut(o.from, ".."); ok {
		if oldBase, err = sc.Resolve(ctx, a); err == nil {
			oldTip, err = sc.Resolve(ctx, b)
		}
		if err != nil {
			return cli.Errorf(cli.ExitHarness, "--from %s: %w", o.from, err)
		}
	} else {
		k, err := keptVersion(o.from, o.patches)
		if err != nil {
			return err
		}
		what = k.Dir
		oldBase = res.Base
		if !k.Base.IsZero() && gitobj.HasCommit(t, k.Base) {
			oldBase = k.Base
		}
		if oldTip, err = sc.ApplyKept(ctx, k, oldBase); err != nil {
			return cli.Errorf(cli.ExitHarness, "%w", err)
		}
	}
	extra := []string{"--no-color"}
	if o.color {
		extra = []string{"--color=always"}
	}
	out, err := sc.RangeDiff(ctx, oldBase, oldTip, res.Base, newTip, extra...)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	cli.Progress("git range-diff %s (base %s) against version %d rendered for %s (Linux %s, base %s)", what, oldBase.String()[:12], res.Version, t, res.Probes.Version, res.Base.String()[:12])
	fmt.Print(out)
	return nil
}

// keptVersion finds --from: "", "vN" (below patches) or a directory.
func keptVersion(from, patches string) (versions.Kept, error) {
	if from == "" {
		kept, err := versions.List(patches)
		if err != nil || len(kept) == 0 {
			return versions.Kept{}, cli.WithHint(cli.Errorf(cli.ExitHarness, "no kept version in %s", patches), "kgen versions --keep keeps the current rendering; or give --from DIR or --from A..B")
		}
		return kept[len(kept)-1], nil
	}
	dir := from
	if _, err := strconv.Atoi(strings.TrimPrefix(from, "v")); err == nil && strings.HasPrefix(from, "v") {
		if _, err := os.Stat(from); err != nil {
			dir = filepath.Join(patches, from)
		}
	}
	k, err := versions.Open(dir)
	if err != nil {
		return k, cli.Errorf(cli.ExitHarness, "--from %s: %w", from, err)
	}
	return k, nil
}
