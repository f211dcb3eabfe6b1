package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kdefer/kdefer"
	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/conform"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/ktap"
)

func init() {
	var (
		cold         bool
		touch, accel string
		against      string
		icount       string
		rounds       int
		jobs         int
		timeout      time.Duration
	)
	app.Register(&cli.Command{
		Name:    "bench",
		Summary: "measure cold build, incremental rebuild and boot-to-verdict times",
		Usage: `bench [flags] TREE

Prints three figures for TREE with the kcheck boot configuration:
  cold build        a full build in a fresh directory (only with --cold;
                    otherwise the last measured cold build is shown)
  incremental       rebuild after touching one series file (--touch,
                    default kernel/unwind/deferred.c, else init/main.c)
  boot-to-verdict   initramfs, QEMU boot, self-tests, KTAP and splat scan
                    with the kernel already built
Touching changes only the file's modification time in TREE.

With --against UPSTREAM_TREE (a tree where the infrastructure is
upstream, e.g. kgen tree get 7), that tree is built and booted with the
same configuration too, and the kernel cost figures of both runs (the
cost_figures self-test: idle syscall round trip, task and NMI requests,
walk cost per frame) are printed side by side as ratios ours/upstream,
each marked when above 1.05. Beside each ratio: the ratio of its
baseline (the same work on the same kernel without the series' part:
the ioctl or self-NMI with an empty request, one get_user(), the
syscall of a task that never requested) and the ratio divided by it,
which leaves out how fast each base kernel's own paths are.

The perf record overhead comes from the perftool suite's defer_overhead
case: a read(2) of a deep-stack workload (200 frames, some 17 samples
a read) timed under perf record -e cpu-clock --call-graph fp,defer and
under --call-graph fp; perf_fp_defer_ns has perf_fp_ns as its baseline,
so its corrected ratio is the quotient fp,defer / fp of ours against
upstream's. Both kernels get the same perf tool (KDEFER_PERF_TREE, else
the first of the two trees whose perf knows fp,defer). A kernel that
refuses deferred callchains prints no such figure; the reason is shown
instead. Where a request's time goes: each request figure minus the
same empty request with task_work_add() of an empty work (the base
kernel's part: ioctl_twa_ns, nmi_twa_ns), per kernel; and each request
against the same work done by the test module's code (a walk with
get_user(), the SRCU read side, a ring record: ioctl_model_ns,
nmi_model_ns), as a quotient per kernel and ours/upstream.

With --rounds N (with --against), both kernels are booted N times in
turn (ours, upstream, ours, ...) and the medians are compared: a figure
and its baseline come from the round whose quotient of the two is the
median; each round's corrected ratio is printed too, to show the spread.

With --icount VALUE (e.g. shift=3,sleep=off; TCG only), the cost
figures come from boots of their own under QEMU's -icount with one vCPU
and only the cases that print cost figures ("cost" on the kernel
command line: cost_figures and the perftool suite's defer_overhead).
Guest time then advances with the instructions the guest executes, so a
nanosecond figure counts guest instructions (8 ns each at shift=3) and
does not move with the host's speed or load; without it the figures are
TCG wall-clock time, which moves by 10-30% between boots on a loaded
host. Instructions are what a hardware profile calls the cost of a path
too (perf stat -e instructions); caches, TLB misses and branch
mispredictions are not modelled by TCG either way.

With --against, a guest that hangs, panics or dies stops the run as
kcheck boot would, with the cause and the last console lines.

Exit codes: 0 measured; 1 with --against, a guest hung, panicked or
died; 2 a step could not run.`,
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&cold, "cold", false, "measure a cold build in a fresh build directory (slow)")
			fs.StringVar(&touch, "touch", "", "file (relative to TREE) to touch before the incremental rebuild")
			fs.StringVar(&accel, "accel", "tcg", "auto, kvm or tcg for the boot")
			fs.IntVar(&jobs, "j", 0, "make -j (default: number of CPUs)")
			fs.DurationVar(&timeout, "timeout", 5*time.Minute, guestLimitHelp)
			fs.StringVar(&against, "against", "", "upstream tree to compare the kernel cost figures with")
			fs.IntVar(&rounds, "rounds", 1, "with --against: boot both kernels this many times in turn and compare the medians")
			fs.StringVar(&icount, "icount", "", icountHelp)
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				fs.Usage()
				return cli.Errorf(cli.ExitHarness, "expected one TREE argument")
			}
			if icount != "" && accel != "tcg" {
				return cli.Errorf(cli.ExitHarness, "--icount needs --accel tcg (QEMU counts instructions only under TCG)")
			}
			tree, _ := filepath.Abs(args[0])
			bo := kbuild.Options{Src: tree, FragmentText: kdefer.FragmentFor(tree), Jobs: jobs,
				Targets: []string{"bzImage", "modules_prepare"}, Progress: cli.Progress}
			key, err := kbuild.Key(bo)
			if err != nil {
				return err
			}
			type figures struct {
				ColdBuild   time.Duration `json:"cold_build_ns"`
				ColdFiles   int           `json:"cold_files"`
				Incremental time.Duration `json:"incremental_ns"`
				IncrFiles   int           `json:"incremental_files"`
				Boot        time.Duration `json:"boot_to_verdict_ns"`
				QEMU        time.Duration `json:"qemu_ns"`
				Accel       string        `json:"accel"`
				Verdict     string        `json:"verdict"`
			}
			var f figures
			if cold {
				dir, err := os.MkdirTemp("", "kcheck-bench-cold-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				cb := bo
				cb.Dir = dir
				cb.NoCCache = true
				r, err := kbuild.Build(ctx, cb)
				if err != nil {
					return err
				}
				f.ColdBuild, f.ColdFiles = r.Duration, r.Compiled
			}
			// Make sure the cached build exists (this is a cold build the
			// first time, which is then recorded as such).
			r, err := kbuild.Build(ctx, bo)
			if err != nil {
				return err
			}
			stamp := filepath.Join(r.Dir, ".kdefer-bench.json")
			var last figures
			if b, err := os.ReadFile(stamp); err == nil {
				json.Unmarshal(b, &last)
			}
			if r.Reconfig && f.ColdBuild == 0 {
				f.ColdBuild, f.ColdFiles = r.Duration, r.Compiled
			}
			if f.ColdBuild == 0 {
				f.ColdBuild, f.ColdFiles = last.ColdBuild, last.ColdFiles
			}
			if b, err := os.ReadFile(filepath.Join(r.Dir, kbuild.ColdStamp)); err == nil && f.ColdBuild == 0 {
				var ms int64
				fmt.Sscan(string(b), &ms, &f.ColdFiles)
				f.ColdBuild = time.Duration(ms) * time.Millisecond
			}
			if touch == "" {
				touch = "kernel/unwind/deferred.c"
				if _, err := os.Stat(filepath.Join(tree, touch)); err != nil {
					touch = "init/main.c"
				}
			}
			now := time.Now()
			if err := os.Chtimes(filepath.Join(tree, touch), now, now); err != nil {
				return cli.Errorf(cli.ExitHarness, "touch: %w", err)
			}
			r, err = kbuild.Build(ctx, bo)
			if err != nil {
				return err
			}
			f.Incremental, f.IncrFiles = r.Duration, r.Compiled
			if against != "" {
				samePerfTool(tree, against)
			}
			start := time.Now()
			// The full run: plain TCG (or KVM) with two vCPUs. Never under
			// -icount: with two vCPUs the idle one then misses its timer
			// (soft lockups "stuck for 46s" in default_idle, measured).
			res, err := boot.Run(ctx, boot.Options{Tree: tree, BuildDir: r.Dir, SkipBuild: true, Accel: accel,
				Timeout: timeout, Progress: cli.Progress})
			if err != nil {
				return err
			}
			f.Boot = time.Since(start)
			f.QEMU = res.Boot.Duration
			f.Accel = string(res.Boot.Accel)
			f.Verdict = res.Report.Verdict
			b, _ := json.MarshalIndent(f, "", "  ")
			os.WriteFile(stamp, b, 0o644)
			s := func(d time.Duration) string {
				if d == 0 {
					return "not measured (run with --cold)"
				}
				return fmt.Sprintf("%.1f s", d.Seconds())
			}
			fmt.Printf("build dir        %s (key %s)\n", r.Dir, key)
			how := "fresh directory, no ccache"
			if !cold && f.ColdBuild != 0 {
				// The first build of the cached directory, or an earlier
				// figure: ccache may have served part of it.
				how = "first build of this directory, ccache allowed; --cold measures without"
			}
			fmt.Printf("cold build       %s (%d files; %s)\n", s(f.ColdBuild), f.ColdFiles, how)
			fmt.Printf("incremental      %s (touched %s, %d files recompiled)  goal < 60 s\n", s(f.Incremental), touch, f.IncrFiles)
			fmt.Printf("boot-to-verdict  %s (QEMU %s, %s, verdict %s)  goal < 10 s\n", s(f.Boot), s(f.QEMU), f.Accel, f.Verdict)
			if f.Verdict != "pass" {
				for _, p := range res.Report.Problems {
					fmt.Printf("  problem: %s\n", p)
				}
				fmt.Printf("  console: %s\n", res.Report.ConsoleLog)
			}
			if against == "" {
				return nil
			}
			// costBoot boots t for its cost figures: the full run above
			// for ours in the first round without --icount, else a boot of
			// its own.
			costBoot := func(t string) (*ktap.Document, error) {
				o := boot.Options{Tree: t, Accel: accel, Timeout: timeout, Progress: cli.Progress, RunName: "kcheck-cost"}
				if t == tree {
					o.BuildDir, o.SkipBuild = r.Dir, true
				}
				cli.Progress("bench: kcheck boot %s for its cost figures%s", t, icountCostMode(&o, icount))
				_, d, err := bootKTAP(ctx, o)
				return d, err
			}
			var oursRuns, upRuns []map[string]float64
			var oursDoc, upDoc *ktap.Document
			for round := 1; round <= max(rounds, 1); round++ {
				var d *ktap.Document
				if round == 1 && icount == "" {
					_, d, err = checkBoot(res, nil, tree)
				} else {
					d, err = costBoot(tree)
				}
				if err != nil {
					return err
				}
				oursDoc = cmp.Or(oursDoc, d)
				oursRuns = append(oursRuns, conform.Costs(d))
				if d, err = costBoot(against); err != nil {
					return err
				}
				upDoc = cmp.Or(upDoc, d)
				upRuns = append(upRuns, conform.Costs(d))
			}
			fmt.Println()
			rows := conform.CompareRuns(oursDoc, upDoc)
			if len(oursRuns) > 1 {
				rows = conform.WithSkips(conform.CompareCosts(conform.MedianCosts(oursRuns), conform.MedianCosts(upRuns)), oursDoc, upDoc)
				fmt.Printf("cost: the median of %d rounds on each kernel (a figure and its baseline from the round with the median quotient)\n", len(oursRuns))
				conform.WriteRounds(os.Stdout, oursRuns, upRuns)
			}
			printIcount(icount)
			conform.WriteCosts(os.Stdout, rows, "ours", "upstream")
			return nil
		},
	})
}

const icountHelp = "QEMU -icount value for cost boots of their own, e.g. shift=3,sleep=off (guest time counts instructions; TCG, one vCPU, the cost cases only)"

// icountCostMode puts o in boot's cost mode when icount is set, and
// returns a note for the progress line.
func icountCostMode(o *boot.Options, icount string) string {
	if icount == "" {
		return ""
	}
	o.CostMode(icount)
	return " (the cost cases only, under -icount " + icount + ", 1 vCPU)"
}

// printIcount says what the figures count, under -icount.
func printIcount(icount string) {
	if icount != "" {
		fmt.Printf("cost: guest time under QEMU -icount %s: a nanosecond figure counts guest instructions, not the host's speed or load\n", icount)
	}
}
