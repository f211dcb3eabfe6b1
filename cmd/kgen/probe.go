package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/series"
	"github.com/kdefer/kdefer/templates"
)

// templatesFS returns the --templates directory dir, or the embedded
// series when dir is "".
func templatesFS(dir string) (fs.FS, error) {
	tfs, err := templates.Dir(dir)
	if err != nil {
		return nil, cli.Errorf(cli.ExitHarness, "--templates: %w", err)
	}
	return tfs, nil
}

// loadSeries loads the series of the --templates directory tdir: its
// templates, the set of its subjects and the series.
func loadSeries(tdir string) (fs.FS, map[string]bool, *series.Series, error) {
	tfs, err := templatesFS(tdir)
	if err != nil {
		return nil, nil, nil, err
	}
	subjects, ser, err := apply.SeriesSubjects(tfs)
	return tfs, subjects, ser, err
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

Then says what the series would do on TREE, from the probes alone: the
patches the tree already has (skip-if, with the probe's evidence), the
patches that would be applied, and whether the tree meets the series'
requirements (series.yaml requires:); kgen render and kgen apply refuse
a tree that does not. (JSON: the "series" object.)

Exit codes: 0 answered (also for a tree the series does not support);
2 not a kernel tree, or a probe cannot decide.`,
		Flags: func(fs *flag.FlagSet) {
			asJSON = fs.Bool("json", false, "print the results as JSON")
			tdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
		},
		Run: func(ctx context.Context, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "want exactly one TREE, got %d arguments", len(args))
			}
			tfs, err := templatesFS(*tdir)
			if err != nil {
				return err
			}
			data, err := fs.ReadFile(tfs, "probes.yaml")
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "templates: %w", err)
			}
			defs, err := probe.Parse("probes.yaml", data)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			if st, err := os.Stat(args[0]); err != nil || !st.IsDir() {
				return cli.Errorf(cli.ExitHarness, "%s: not a directory", args[0])
			}
			res, err := probe.Run(args[0], probe.Dir(args[0]), defs)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%s: %w", args[0], err)
			}
			// What the series would do here. A template tree that holds
			// only probes.yaml (or fails to load) gives no verdict.
			var verdict *seriesVerdict
			var loadErr error
			if ser, err := series.Load(tfs); err != nil {
				loadErr = err
			} else if plan, err := render.NewPlan(ser, res); err != nil {
				loadErr = err
			} else {
				verdict = newVerdict(ser, plan, args[0])
			}
			if *asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					*probe.Results
					Series *seriesVerdict `json:"series,omitempty"`
				}{res, verdict})
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
			if err := tw.Flush(); err != nil {
				return err
			}
			if verdict == nil {
				fmt.Printf("series: no verdict (%v)\n", loadErr)
				return nil
			}
			verdict.print(os.Stdout)
			return nil
		},
	})
}

// seriesVerdict is what the series would do on a probed tree.
type seriesVerdict struct {
	Patches   int              `json:"patches"`
	Skipped   []render.Skipped `json:"skipped"`
	Apply     []string         `json:"apply"` // names of the patches that would be rendered
	Supported bool             `json:"supported"`
	// Unsupported is the refusal kgen render and kgen apply would give
	// (a requires: does not hold); empty when supported.
	Unsupported string `json:"apply.Unsupported,omitempty"`
	Verdict     string `json:"verdict"`
}

func newVerdict(ser *series.Series, plan *render.Plan, tree string) *seriesVerdict {
	v := &seriesVerdict{Patches: len(ser.Patches), Skipped: plan.Skipped, Apply: []string{}, Supported: true}
	if v.Skipped == nil {
		v.Skipped = []render.Skipped{}
	}
	for _, p := range plan.Active {
		v.Apply = append(v.Apply, p.Name)
	}
	err := plan.Supported(tree)
	switch {
	case err != nil:
		v.Supported, v.Unsupported = false, err.Error()
		v.Verdict = "not supported: kgen render and kgen apply refuse this tree (exit 17)"
	case len(plan.Active) == 0:
		v.Verdict = fmt.Sprintf("nothing to apply: the tree already has everything the series adds (all %d patches skipped; kgen apply exits 16)", len(plan.Skipped))
	case len(plan.Skipped) == 0:
		v.Verdict = fmt.Sprintf("the whole series (%d patches) would be applied", len(plan.Active))
	default:
		v.Verdict = fmt.Sprintf("%d patches would be applied, %d are already present", len(plan.Active), len(plan.Skipped))
	}
	return v
}

func (v *seriesVerdict) print(w io.Writer) {
	fmt.Fprintf(w, "series (%d patches): %s\n", v.Patches, v.Verdict)
	if !v.Supported {
		for _, l := range strings.Split(v.Unsupported, "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
		return
	}
	printSkipped(w, v.Skipped, v.Patches)
	if len(v.Apply) > 0 {
		fmt.Fprintf(w, "would be applied (%d of %d patches): %s\n", len(v.Apply), v.Patches, strings.Join(v.Apply, " "))
	}
}
