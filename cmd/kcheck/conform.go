package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/conform"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/perftool"
	"github.com/kdefer/kdefer/internal/qemu"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

func init() {
	var (
		oursKTAP, upKTAP string
		icount           string
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
prints; with --icount VALUE, from boots of their own that count
instructions, see kcheck bench). A case whose result differs must be listed in qemu-tests/DEVIATIONS.md with the reason;
with --ours-ktap and --upstream-ktap, two KTAP documents of earlier runs
(kcheck boot --ktap FILE) are compared without booting.

A guest that hangs, panics or dies ends the comparison as kcheck boot
ends: exit 1 with the cause and the last console lines; a host that
kept a guest off the CPU past its limit, or a boot that could not run,
is exit 2. A kernel splat on either console fails the run (exit 1)
after the table.

Exit codes: 0 every difference is documented; 1 a difference is not, or
a guest hung, panicked or splatted; 2 a boot could not run.`,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&oursKTAP, "ours-ktap", "", "KTAP document of a run on our kernel")
			fs.StringVar(&upKTAP, "upstream-ktap", "", "KTAP document of a run on upstream's kernel")
			fs.DurationVar(&timeout, "timeout", 10*time.Minute, guestLimitHelp)
			fs.StringVar(&icount, "icount", "", icountHelp)
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) (err error) {
			devs, err := qemutests.Deviations()
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			var docs, costDocs [2]*ktap.Document
			switch {
			case oursKTAP != "" && upKTAP != "" && len(args) == 0:
				for i, p := range []string{oursKTAP, upKTAP} {
					if docs[i], err = readKTAP(p); err != nil {
						return cli.Errorf(cli.ExitHarness, "%w", err)
					}
				}
			case oursKTAP == "" && upKTAP == "" && len(args) == 2:
				var splats []string
				samePerfTool(args...)
				for i, tree := range args {
					cli.Progress("conform: kcheck boot %s", tree)
					var res *boot.Result
					res, docs[i], err = bootKTAP(ctx, boot.Options{Tree: tree, Timeout: timeout, Progress: cli.Progress})
					if err != nil {
						return err
					}
					if n := len(res.Report.Splats); n > 0 {
						splats = append(splats, fmt.Sprintf("%s: %d kernel splat(s), the first %s (console: %s)",
							tree, n, res.Report.Splats[0].Title, res.Report.ConsoleLog))
					}
				}
				for i, tree := range args {
					if icount == "" {
						break // the cost figures come from the boots above
					}
					o := boot.Options{Tree: tree, Timeout: timeout, Progress: cli.Progress}
					cli.Progress("conform: kcheck boot %s for its cost figures%s", tree, icountCostMode(&o, icount))
					if _, costDocs[i], err = bootKTAP(ctx, o); err != nil {
						return err
					}
				}
				defer func() {
					// A splat fails the run as it fails kcheck boot, after
					// the table.
					if len(splats) > 0 && err == nil {
						err = cli.Errorf(cli.ExitFail, "%s", strings.Join(splats, "; "))
					}
				}()
			default:
				fs.Usage()
				return cli.Errorf(cli.ExitHarness, "give two trees, or --ours-ktap and --upstream-ktap")
			}
			tab := conform.Compare(conform.Cases(docs[0]), conform.Cases(docs[1]), devs)
			tab.Write(os.Stdout, "ours", "upstream")
			fmt.Println()
			if costDocs[0] == nil {
				costDocs = docs
			}
			printIcount(icount)
			conform.WriteCosts(os.Stdout, conform.CompareRuns(costDocs[0], costDocs[1]), "ours", "upstream")
			if !tab.OK() {
				return cli.Errorf(cli.ExitFail, "%d differences not documented in qemu-tests/DEVIATIONS.md", tab.Undocumented)
			}
			return nil
		},
	})
}

// bootKTAP runs kcheck boot for conform and bench, which need the
// tree's KTAP document, and stops as kcheck boot would when the guest
// did not run the self-tests to their end: exit 2 when the harness
// failed (QEMU, the build, a host that starved the guest), exit 1 when
// the kernel hung, panicked or died, each with the cause and the last
// console lines. Failed self-tests are not an error here: comparing
// them is the caller's job. The document is the raw one the guest
// printed (results.ktap), without kcheck boot's TODO marks for
// upstream's documented behaviour, which the comparison judges itself.
func bootKTAP(ctx context.Context, o boot.Options) (*boot.Result, *ktap.Document, error) {
	res, err := boot.Run(ctx, o)
	if ctx.Err() != nil {
		return nil, nil, err
	}
	return checkBoot(res, err, o.Tree)
}

// checkBoot is bootKTAP's check of a kcheck boot run of tree that
// returned res and err.
func checkBoot(res *boot.Result, err error, tree string) (*boot.Result, *ktap.Document, error) {
	tail := func() string {
		if res == nil || res.Report == nil || res.Report.ConsoleTail == "" {
			return ""
		}
		return "\nlast console lines (" + res.Report.ConsoleLog + "):\n  | " +
			strings.ReplaceAll(res.Report.ConsoleTail, "\n", "\n  | ")
	}
	if err != nil {
		return nil, nil, cli.Errorf(cli.ExitHarness, "kcheck boot %s: %w%s", tree, err, tail())
	}
	rep := res.Report
	switch qemu.Outcome(rep.Outcome) {
	case qemu.PowerOff, qemu.Reboot:
	default:
		return nil, nil, cli.Errorf(rep.ExitCode(), "kcheck boot %s: the guest ended with %s, not a power-off: %s%s",
			tree, rep.Outcome, strings.Join(rep.Problems, "; "), tail())
	}
	if rep.KTAP == nil || !rep.KTAP.Found {
		return nil, nil, cli.Errorf(cli.ExitFail, "kcheck boot %s: the guest powered off without printing the self-tests' KTAP document%s",
			tree, tail())
	}
	doc, err := readKTAP(res.KTAPPath)
	if err != nil {
		return nil, nil, cli.Errorf(cli.ExitHarness, "kcheck boot %s: %w", tree, err)
	}
	return res, doc, nil
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

// samePerfTool has every boot of a comparison ship the same perf tool:
// unless KDEFER_PERF_TREE names one, the perf of the first of trees that
// has one that knows deferred callchains, else of the newest cached tree
// (perftool.FindTree). Each boot would otherwise pick its own (its tree's
// perf, or the newest cached), and the perf record overhead figures of
// the two kernels would come from two perf versions.
func samePerfTool(trees ...string) {
	if os.Getenv("KDEFER_PERF_TREE") != "" {
		return
	}
	t, err := perftool.FindTree("", trees...)
	if err != nil {
		return // each boot skips the perftool suite with the reason
	}
	cli.Progress("perf tool for both kernels: the one of %s", t)
	os.Setenv("KDEFER_PERF_TREE", t)
}
