package main

import (
	"context"
	"flag"
	"os"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/stepbuild"
	"github.com/kdefer/kdefer/internal/workspace"
)

func init() {
	var sf seriesFlags
	var each, full bool
	var only string
	app.Register(&cli.Command{
		Name:    "build",
		Summary: "build the series after every patch (--each), feature on and off",
		Usage: `build --each [flags] [TREE]

Applies the series patch by patch in a private scratch clone of TREE
(default: the current directory; TREE is never modified) and builds after
every patch, incrementally in one build directory per configuration: "on"
(x86_64, the feature selected) and "off" (i386, the stubs compiled). After
each patch the objects of the files the series touches are remade with
W=1; after the last patch vmlinux is built in full (a failure there is
bisected to its first patch). Reports the first patch that breaks the
build or adds a W=1 warning in a file the series touches, with the
compiler's message. --full builds vmlinux after every patch.

Exit: 0 every patch builds cleanly, 1 a patch breaks or warns, 2 harness.`,
		Flags: func(fs *flag.FlagSet) {
			sf.register(fs)
			fs.BoolVar(&each, "each", false, "build after every patch (required: the only mode)")
			fs.BoolVar(&full, "full", false, "build vmlinux in full after every patch (exact, slow)")
			fs.StringVar(&only, "config", "", "only this configuration: on or off")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if !each {
				return cli.Errorf(cli.ExitHarness, "say --each (kcheck boot builds the whole series once)")
			}
			tree := "."
			if len(args) > 1 {
				return cli.Errorf(cli.ExitHarness, "at most one TREE")
			}
			if len(args) == 1 {
				tree = args[0]
			}
			s, err := sf.load(ctx, tree)
			if err != nil {
				return err
			}
			configs, err := pickConfigs(only)
			if err != nil {
				return err
			}
			r, err := runBuildEach(ctx, tree, &sf, s, configs, full)
			if err != nil {
				return err
			}
			r.WriteText(os.Stdout, s, configs)
			if r.Failed() {
				return cli.Errorf(cli.ExitFail, "a patch breaks the build or adds a warning")
			}
			return nil
		},
	})
}

func pickConfigs(only string) ([]stepbuild.Config, error) {
	all := stepbuild.DefaultConfigs()
	if only == "" {
		return all, nil
	}
	for _, c := range all {
		if c.Name == only {
			return []stepbuild.Config{c}, nil
		}
	}
	return nil, cli.Errorf(cli.ExitHarness, "--config %q: want on or off", only)
}

func runBuildEach(ctx context.Context, tree string, sf *seriesFlags, s *workspace.Series, configs []stepbuild.Config, full bool) (*stepbuild.Result, error) {
	sc, err := sf.openScratch(ctx, tree, s)
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	return stepbuild.Run(ctx, s, stepbuild.Options{Scratch: sc, Configs: configs, Full: full, Progress: cli.Progress})
}
