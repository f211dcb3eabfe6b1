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

Obtains Debian's linux-source package for VERSION with apt-get download:
a series (6.12, 7.3: its newest release), an exact release (6.12.95,
6.1.172), a release candidate (7.3-rc7) or a major version (7: the newest
7.x). Every suite is searched: the machine's apt sources and Debian
unstable, experimental, trixie, trixie-security, trixie-backports,
bookworm, bookworm-security and bookworm-backports ("kgen tree list
--available" shows what each offers). A final release wins over a release
candidate. The tree is extracted into the cache
(${XDG_CACHE_HOME:-~/.cache}/kdefer/trees/<release>) and prints the tree's
path as the last line of standard output; progress goes to standard error:

    T=$(kgen tree get 6.12 --git)

A cached tree is reused at once (--refresh asks the suites again). The
machine's apt configuration is never changed: each suite has a private
apt state under the cache (${XDG_CACHE_HOME:-~/.cache}/kdefer/apt/SUITE),
derived from the machine's Debian entries with the suite swapped.`,
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
	var available *bool
	app.Register(&cli.Command{
		Name:    "tree list",
		Summary: "list the cached kernel trees, or what Debian's suites offer",
		Usage: `tree list [--available]

Lists the cached trees. With --available, lists every linux-source
package version that Debian's suites offer (one private apt state per
suite under the cache, lists refreshed when older than a day), with the
suite, the Debian version, the upstream release to pass to "kgen tree get"
and whether it is cached.`,
		Flags: func(fs *flag.FlagSet) {
			available = fs.Bool("available", false, "list what Debian's suites offer instead of the cached trees")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if *available {
				return listAvailable(ctx)
			}
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

// listAvailable prints what every Debian suite offers.
func listAvailable(ctx context.Context) error {
	offers, serrs, err := kerneltree.Available(ctx, kerneltree.Options{Progress: cli.Progress})
	if err != nil {
		return err
	}
	cached := map[string]bool{}
	if ts, err := kerneltree.List(""); err == nil {
		for _, t := range ts {
			cached[t.Release] = true
		}
	}
	fmt.Printf("%-20s %-18s %-24s %-10s %s\n", "SUITE", "PACKAGE", "DEBIAN VERSION", "RELEASE", "CACHED")
	for _, o := range offers {
		c := "-"
		if cached[o.Release()] {
			c = "yes"
		}
		fmt.Printf("%-20s %-18s %-24s %-10s %s\n", o.Suite, o.Package, o.Version, o.Release(), c)
	}
	for _, e := range serrs {
		fmt.Fprintf(os.Stderr, "kgen: could not ask Debian %s: %v\n", e.Suite, e.Err)
	}
	if len(serrs) > 0 {
		return cli.Errorf(cli.ExitHarness, "%d of %d suites could not be asked (see above)", len(serrs), len(kerneltree.Suites))
	}
	return nil
}
