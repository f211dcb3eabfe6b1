package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/kdefer/kdefer/internal/cachedir"
	"github.com/kdefer/kdefer/internal/capi"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/lines"
)

// multiFlag collects a repeatable string flag (--off, --extra).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func init() {
	var off multiFlag
	var tree, build string
	app.Register(&cli.Command{
		Name:    "api",
		Summary: "check that C prototypes, their !CONFIG stubs and definitions agree (cc/v4)",
		Usage: `api [--tree DIR] [--build DIR] [--config-off OPTION]... FILE...

Preprocesses each FILE of the kernel tree with the kernel's own flags and
parses it with modernc.org/cc/v4. For a header, every function it declares
with OPTION on is compared with its stub with OPTION off (return type,
parameter types; parameter names as warnings). For a .c unit, every
function it defines is compared with the declaration its headers give,
and a non-static definition that no header declares is reported; with
--config-off, the tree headers it includes that mention OPTION are
checked as headers too. What cannot be checked is listed, never passed.

Example:
  kcheck api --tree ~/linux --config-off CONFIG_KCOV include/linux/kcov.h

Exit: 0 agree, 1 a disagreement (ERROR), 2 a file could not be checked.`,
		Flags: func(fs *flag.FlagSet) {
			fs.Var(&off, "config-off", "Kconfig option whose off view gives the stubs (repeatable)")
			fs.StringVar(&tree, "tree", ".", "kernel source tree")
			fs.StringVar(&build, "build", "", "out-of-tree build directory (default: the kdefer cache, builds/api-<tree hash>)")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return cli.Errorf(cli.ExitHarness, "name at least one header or .c file (see kcheck api -h)")
			}
			if build == "" {
				build = defaultBuildDir(tree, "api")
			}
			rep, err := capi.Check(ctx, capi.Options{Tree: tree, Build: build, ConfigOff: off, Progress: cli.Progress}, args)
			if err != nil {
				return err
			}
			return printAPI(rep)
		},
	})
}

func printAPI(rep *capi.Report) error {
	for _, f := range rep.Findings {
		fmt.Println(f)
	}
	fatal := 0
	for _, u := range rep.Unchecked {
		fmt.Printf("not checked: %s: %s\n", u.What, firstLine(u.Reason))
		if u.Fatal {
			fatal++
		}
	}
	fmt.Printf("kcheck api: %d files, %d declarations compared, %d errors, %d warnings, %d not checked (%.1fs)\n",
		len(rep.Files), rep.Compared, rep.Errors(), len(rep.Findings)-rep.Errors(), len(rep.Unchecked), rep.Elapsed.Seconds())
	switch {
	case rep.Errors() > 0:
		return cli.Errorf(cli.ExitFail, "%d API disagreements", rep.Errors())
	case fatal > 0:
		return cli.Errorf(cli.ExitHarness, "%d files or views could not be checked", fatal)
	}
	return nil
}

// firstLine is the first line of s, with " …" when more follow.
func firstLine(s string) string {
	if l := lines.First(s); l != strings.TrimSpace(s) {
		return l + " …"
	}
	return strings.TrimSpace(s)
}

// defaultBuildDir is the cache directory for a tool's builds of a tree:
// ${XDG_CACHE_HOME:-~/.cache}/kdefer/builds/<kind>-<hash of the tree path>.
func defaultBuildDir(tree, kind string) string { return cachedir.ForTree("builds", kind+"-", tree) }
