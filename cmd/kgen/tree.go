package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/kerneltree"
)

func init() {
	var git, refresh *bool
	var deb *string
	app.Register(&cli.Command{
		Name:    "tree get",
		Summary: "fetch a Debian kernel source tree into the cache; prints its path",
		Usage: `tree get VERSION [--git] [--refresh] [--deb FILE]

Obtains Debian's linux-source package for VERSION (6.12, 6.1, 7 for the
newest 7.x in Debian unstable, 7.2, or a full 6.12.117) with apt-get
download, extracts it into the cache
(${XDG_CACHE_HOME:-~/.cache}/kdefer/trees/<release>) and prints the tree's
path as the last line of standard output; progress goes to standard error:

    T=$(kgen tree get 6.12 --git)

A cached tree is reused at once. The machine's apt configuration is never
changed: for a suite it lacks, a private apt state under the cache is used.`,
		Flags: func(fs *flag.FlagSet) {
			git = fs.Bool("git", false, "make the tree a git repository with one deterministic baseline commit")
			refresh = fs.Bool("refresh", false, "ask apt for the newest Debian version even when a tree of the series is cached")
			deb = fs.String("deb", "", "use this local linux-source .deb instead of downloading")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "want exactly one VERSION (for example 6.12, 6.1 or 7), got %d arguments", len(args))
			}
			p, err := kerneltree.Get(ctx, kerneltree.Options{
				Version: args[0], Git: *git, Refresh: *refresh, Deb: *deb,
				Progress: cli.Progress,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stdout, p)
			return nil
		},
	})
	app.Register(&cli.Command{
		Name:    "tree list",
		Summary: "list the cached kernel trees",
		Usage:   "tree list",
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			ts, err := kerneltree.List("")
			if err != nil {
				return err
			}
			if len(ts) == 0 {
				fmt.Fprintf(os.Stderr, "no cached trees in %s/trees (run: kgen tree get 6.12)\n", kerneltree.CacheDir())
				return nil
			}
			for _, t := range ts {
				g := "-"
				if t.Git {
					g = "git"
				}
				fmt.Printf("%-10s %-20s %-22s %6d files  %-3s  %s\n", t.Release, t.Package, t.DebianVersion, t.Files, g, t.Path)
			}
			return nil
		},
	})
}
