package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/templates"
)

// templatesFS returns the --templates directory or the embedded series.
func templatesFS(dir string) fs.FS {
	if dir != "" {
		return os.DirFS(dir)
	}
	return templates.FS
}

func init() {
	var asJSON *bool
	var tdir *string
	app.Register(&cli.Command{
		Name:    "probe",
		Summary: "report what a kernel tree offers (version and the probes of templates/probes.yaml)",
		Usage: `probe TREE [--json] [--templates DIR]

Reads the version from TREE's top-level Makefile and evaluates every probe
of probes.yaml (each reads one or two named files; the tree is never
walked). TREE may be a plain directory or a git work tree (the work tree
files are read). Prints one line per probe with its evidence, or JSON.

Exit codes: 0 answered; 2 not a kernel tree, or a probe cannot decide.`,
		Flags: func(fs *flag.FlagSet) {
			asJSON = fs.Bool("json", false, "print the results as JSON")
			tdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
		},
		Run: func(ctx context.Context, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "want exactly one TREE, got %d arguments", len(args))
			}
			data, err := fs.ReadFile(templatesFS(*tdir), "probes.yaml")
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "templates: %v", err)
			}
			defs, err := probe.Parse("probes.yaml", data)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%v", err)
			}
			if st, err := os.Stat(args[0]); err != nil || !st.IsDir() {
				return cli.Errorf(cli.ExitHarness, "%s: not a directory", args[0])
			}
			res, err := probe.Run(args[0], probe.Dir(args[0]), defs)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%s: %v", args[0], err)
			}
			if *asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			fmt.Printf("tree %s: Linux %s\n", args[0], res.Version)
			tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
			for _, p := range res.Probes[1:] {
				v := p.Value
				if p.Kind == "bool" {
					v = map[bool]string{true: "yes", false: "no"}[p.Bool]
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Name, v, p.Evidence)
			}
			return tw.Flush()
		},
	})
}
