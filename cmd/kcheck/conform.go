package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/conform"
	"github.com/kdefer/kdefer/internal/ktap"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

func init() {
	var (
		oursKTAP, upKTAP string
		timeout          time.Duration
	)
	app.Register(&cli.Command{
		Name:    "conform",
		Summary: "run the self-tests on our kernel and on upstream's, print case x kernel",
		Usage: `conform [flags] OURS_TREE UPSTREAM_TREE
conform --ours-ktap FILE --upstream-ktap FILE

Boots OURS_TREE (a tree carrying the series, e.g. Debian's 6.12 after
kgen apply) and UPSTREAM_TREE (a tree where the infrastructure is
upstream, e.g. kgen tree get 7) with kcheck boot, one after the other,
and prints one table: every self-test case (test module, user-space
driver, perf suite) with its result on each kernel, then the kernel
cost figures of both (ratios ours/upstream, goal at most 1.05, each
also divided by the ratio of its baseline, as kcheck bench --against
prints). A case whose result differs must be listed in qemu-tests/DEVIATIONS.md with the reason;
with --ours-ktap and --upstream-ktap, two KTAP documents of earlier runs
(kcheck boot --ktap FILE) are compared without booting.

Exit codes: 0 every difference is documented; 1 a difference is not; 2
a boot could not run.`,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&oursKTAP, "ours-ktap", "", "KTAP document of a run on our kernel")
			fs.StringVar(&upKTAP, "upstream-ktap", "", "KTAP document of a run on upstream's kernel")
			fs.DurationVar(&timeout, "timeout", 10*time.Minute, "hard limit for each guest run")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			devs, err := qemutests.Deviations()
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			var docs [2]*ktap.Document
			switch {
			case oursKTAP != "" && upKTAP != "" && len(args) == 0:
				for i, p := range []string{oursKTAP, upKTAP} {
					if docs[i], err = readKTAP(p); err != nil {
						return cli.Errorf(cli.ExitHarness, "%w", err)
					}
				}
			case oursKTAP == "" && upKTAP == "" && len(args) == 2:
				for i, tree := range args {
					cli.Progress("conform: kcheck boot %s", tree)
					res, err := boot.Run(ctx, boot.Options{Tree: tree, Timeout: timeout, Progress: cli.Progress})
					if err != nil && (res == nil || res.KTAPPath == "") {
						return cli.Errorf(cli.ExitHarness, "booting %s: %w", tree, err)
					}
					if docs[i], err = readKTAP(res.KTAPPath); err != nil {
						return cli.Errorf(cli.ExitHarness, "%w", err)
					}
				}
			default:
				fs.Usage()
				return cli.Errorf(cli.ExitHarness, "give two trees, or --ours-ktap and --upstream-ktap")
			}
			tab := conform.Compare(conform.Cases(docs[0]), conform.Cases(docs[1]), devs)
			tab.Write(os.Stdout, "ours", "upstream")
			fmt.Println()
			conform.WriteCosts(os.Stdout, conform.CompareCosts(conform.Costs(docs[0]), conform.Costs(docs[1])), "ours", "upstream")
			if !tab.OK() {
				return cli.Errorf(cli.ExitFail, "%d differences not documented in qemu-tests/DEVIATIONS.md", tab.Undocumented)
			}
			return nil
		},
	})
}

func readKTAP(path string) (*ktap.Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading KTAP: %w", err)
	}
	defer f.Close()
	d, err := ktap.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parsing KTAP %s: %w", path, err)
	}
	if !d.Found {
		return nil, fmt.Errorf("%s: no KTAP document in it", path)
	}
	return d, nil
}
