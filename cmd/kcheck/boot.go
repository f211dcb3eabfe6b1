package main

import (
	"context"
	"flag"
	"os"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/cli"
)

func init() {
	var (
		o                   boot.Options
		jsonOut, live       bool
		junitPath, ktapPath string
		extra               multiFlag
	)
	app.Register(&cli.Command{
		Name:    "boot",
		Summary: "build the kernel, boot it in QEMU and run the self-tests (KTAP, splats)",
		Usage: `boot [flags] TREE

Builds TREE out of tree (a tinyconfig base plus Kconfig.frag, cached and
incremental in TREE/.kdefer-build-<key>, or in ~/.cache/kdefer/builds/
when TREE cannot be written), builds the self-tests in
qemu-tests/ against it, packs them into an initramfs, boots
qemu-system-x86_64 (KVM when it really works, TCG otherwise; 2 vCPUs,
serial console to a log file, hard timeout), reads the KTAP document the
tests print and scans the console for kernel splats (WARNING, BUG, Oops,
lockdep, KASAN, RCU stalls, hung tasks, panics).

Outputs: a summary on stdout (or --json), --junit FILE, --ktap FILE; the
console log, results.ktap and initrd.cpio stay in --out (default
BUILD_DIR/kcheck-run).

A tree without the series still builds and boots; the self-tests then
report SKIP with the reason and only the boot and the console count.

Exit codes: 0 every test passed and no splat; 1 a test failed or never
reported, a splat, a kernel panic or a guest hang (timeout); 2 the
harness could not run (missing QEMU/gcc/make, build failure, QEMU did
not start).`,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.BuildDir, "build-dir", "", "kernel build directory (default: cache, keyed by tree and config)")
			fs.StringVar(&o.OutDir, "out", "", "directory for the console log, KTAP and initrd (default BUILD_DIR/kcheck-run)")
			fs.StringVar(&o.Fragment, "fragment", "", "Kconfig fragment instead of the built-in Kconfig.frag")
			fs.Var(&extra, "config", "extra CONFIG_X=y line (repeatable)")
			fs.IntVar(&o.Jobs, "j", 0, "make -j (default: number of CPUs)")
			fs.StringVar(&o.Accel, "accel", "auto", "auto, kvm or tcg")
			fs.DurationVar(&o.Timeout, "timeout", 5*time.Minute, guestLimitHelp)
			fs.StringVar(&o.Memory, "m", "512M", "guest memory")
			fs.IntVar(&o.SMP, "smp", 2, "guest vCPUs")
			fs.StringVar(&o.Append, "append", "", "extra kernel command line")
			fs.BoolVar(&jsonOut, "json", false, "print the report as JSON on stdout")
			fs.StringVar(&junitPath, "junit", "", "write JUnit XML to FILE")
			fs.StringVar(&ktapPath, "ktap", "", "copy the raw KTAP document to FILE")
			fs.BoolVar(&live, "console", false, "show the guest console while it runs (on stderr)")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				fs.Usage()
				return cli.Errorf(cli.ExitHarness, "expected one TREE argument, got %d", len(args))
			}
			switch o.Accel {
			case "auto", "kvm", "tcg":
			default:
				return cli.Errorf(cli.ExitHarness, "--accel must be auto, kvm or tcg, not %q", o.Accel)
			}
			o.Tree = args[0]
			o.ExtraConfig = extra
			o.Progress = cli.Progress
			if live {
				o.Live = os.Stderr
			}
			res, err := boot.Run(ctx, o)
			rep := res.Report
			if ctx.Err() != nil {
				return err
			}
			if jsonOut {
				rep.JSON(os.Stdout)
			} else {
				rep.Human(os.Stdout)
			}
			if junitPath != "" {
				f, ferr := os.Create(junitPath)
				if ferr != nil {
					return cli.Errorf(cli.ExitHarness, "--junit: %w", ferr)
				}
				rep.JUnit(f)
				if ferr := f.Close(); ferr != nil {
					return cli.Errorf(cli.ExitHarness, "--junit: %w", ferr)
				}
			}
			if ktapPath != "" && res.KTAPPath != "" {
				data, _ := os.ReadFile(res.KTAPPath)
				if werr := os.WriteFile(ktapPath, data, 0o644); werr != nil {
					return cli.Errorf(cli.ExitHarness, "--ktap: %w", werr)
				}
			}
			if err != nil {
				return &cli.Error{Code: cli.ExitHarness, Err: err}
			}
			if code := rep.ExitCode(); code != 0 {
				return cli.Errorf(code, "%s", strings.Join(rep.Problems, "; "))
			}
			return nil
		},
	})
}

// guestLimitHelp describes --timeout of the commands that boot guests
// (internal/qemu).
const guestLimitHelp = "limit of each guest run: the time it could run (time the host keeps it off the CPU is given back while it keeps printing, up to 3 times the limit in wall time); a guest silent for the limit in wall time is ended then"
