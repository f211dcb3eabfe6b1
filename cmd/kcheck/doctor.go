package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/kdefer/kdefer/internal/proc"
	"github.com/kdefer/kdefer/internal/toolchain"

	"github.com/kdefer/kdefer/internal/accel"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/hostcheck"
	"github.com/kdefer/kdefer/internal/kerneltree"
)

func init() {
	var install, asJSON, noKVM, recheck *bool
	var with *string
	app.Register(&cli.Command{
		Name:    "doctor",
		Summary: "check the host tools and whether KVM really works",
		Usage: `doctor [--install [--with splat-logs]] [--json] [--no-kvm] [--recheck-kvm]

Checks every host tool kgen and kcheck use (compilers, kernel build tools,
headers, QEMU, apt, git), prints the exact apt-get line for what is
missing, and tells whether a Linux kernel boots under KVM here, the same
way kcheck boot decides: "usable" only when a real kernel (the newest
kcheck boot kernel in the cache) printed its first console line under
KVM. Without a built kernel the answer is "not proven yet" unless QEMU
already fails in its KVM code. The verdict is kept in the cache
(accel/kvm.json) and used by kcheck boot; --recheck-kvm forgets it and
checks again. When KVM is unusable kcheck boot uses TCG: that is not a
failure. --install runs the apt-get line (root only). The cross compilers,
arm64/riscv QEMU and Rust tools that only regenerate the splat corpus
(internal/splat/testdata) are an opt-in set: --with splat-logs adds them
(installed after the default set: on bookworm gcc-multilib conflicts with
the cross compilers in one apt-get line).

Exit: 0 every required tool is present, 1 a required tool is missing,
2 the install could not run.`,
		Flags: func(fs *flag.FlagSet) {
			install = fs.Bool("install", false, "install the missing packages with apt-get (needs root)")
			asJSON = fs.Bool("json", false, "print the report as JSON on stdout")
			noKVM = fs.Bool("no-kvm", false, "skip the KVM check")
			recheck = fs.Bool("recheck-kvm", false, "forget the kept KVM verdict and check again")
			with = fs.String("with", "", "comma-separated opt-in tool sets to check and install too (splat-logs)")
		},
		NoArgs: true,
		Run: func(ctx context.Context, fs *flag.FlagSet, _ []string) error {
			extras, err := extraSets(*with)
			if err != nil {
				return err
			}
			r := hostcheck.Run(hostcheck.Options{})
			if *install {
				if line := r.InstallCommand(true, extras...); line != "" {
					if err := runInstall(ctx, r, extras); err != nil {
						return err
					}
				} else {
					fmt.Fprintln(os.Stderr, "doctor: every package is installed, nothing to do")
				}
				r = hostcheck.Run(hostcheck.Options{})
				// The guest programs of the sframe suite need an assembler
				// that writes SFrame v2 (binutils >= 2.41), which this
				// Debian may lack: a Debian root under the cache has one.
				if _, err := toolchain.Ensure(ctx, toolchain.Options{Progress: cli.Progress}); err != nil {
					fmt.Fprintln(os.Stderr, "doctor: no SFrame toolchain, the sframe suite will be skipped:", err)
				}
			}
			var kvm accel.Check
			if !*noKVM {
				cli.Progress("doctor: checking whether a kernel boots under KVM")
				kvm = accel.CheckHost(ctx, accel.CheckOptions{QEMU: r.Path("qemu-system-x86_64"),
					CacheDir: kerneltree.CacheDir(), Recheck: *recheck})
			}
			if *asJSON {
				out := struct {
					hostcheck.Report
					KVM     accel.Check `json:"kvm"`
					OK      bool        `json:"ok"`
					Install string      `json:"install,omitempty"`
				}{r, kvm, r.OK(), r.InstallCommand(true, extras...)}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(out)
			} else {
				printDoctor(r, kvm, extras)
			}
			if !r.OK() {
				var names []string
				for _, t := range r.Missing(true) {
					names = append(names, t.Name)
				}
				return &cli.Error{Code: cli.ExitFail,
					Err:  fmt.Errorf("missing required tools: %v", names),
					Hint: "run as root: " + r.InstallCommand(true)}
			}
			return nil
		},
	})
}

// extraSets parses --with: every name must be a known opt-in set.
func extraSets(with string) ([]string, error) {
	var sets []string
	for _, s := range strings.Split(with, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s != hostcheck.SplatLogs {
			return nil, cli.Errorf(cli.ExitHarness, "doctor --with %q: unknown tool set (known: %s)", s, hostcheck.SplatLogs)
		}
		sets = append(sets, s)
	}
	return sets, nil
}

func printDoctor(r hostcheck.Report, kvm accel.Check, extras []string) {
	w := os.Stdout
	for _, t := range r.Tools {
		state := "ok"
		where := t.Path
		if !t.Found {
			state = "MISSING"
			if !t.Required {
				state = "absent"
			}
			if t.Extra != "" && !slices.Contains(extras, t.Extra) {
				state = "opt-in"
			}
			where = "package " + t.Package
		}
		fmt.Fprintf(w, "%-8s %-19s %-48s %s\n", state, t.Name, where, t.Purpose)
	}
	if kvm.Checked {
		fmt.Fprintf(w, "kvm      %s\n", kvm.Summary())
		if !kvm.TCGOK {
			fmt.Fprintf(w, "tcg      the probe guest did not run under TCG either: kcheck boot cannot work\n")
		}
	}
	if line := r.InstallCommand(false); line != "" {
		fmt.Fprintf(w, "missing: %s\n", line)
	} else if opt := r.InstallCommand(true, extras...); opt != "" {
		fmt.Fprintf(w, "optional: %s\n", opt)
	} else {
		fmt.Fprintln(w, "all tools present")
	}
}

func runInstall(ctx context.Context, r hostcheck.Report, extras []string) error {
	line := r.InstallCommand(true, extras...)
	if os.Geteuid() != 0 {
		return &cli.Error{Code: cli.ExitHarness,
			Err:  fmt.Errorf("--install needs root to run %q (you are uid %d)", line, os.Geteuid()),
			Hint: "run it as root, or: sudo " + line}
	}
	run := func(args ...string) error {
		fmt.Fprintf(os.Stderr, "doctor: running %v\n", args)
		c := proc.Command(ctx, args[0], args[1:]...)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return c.Run()
	}
	// The default set first, each opt-in set on its own: on bookworm
	// gcc-multilib conflicts with the cross compilers in one apt-get
	// line, while installing them afterwards only drops the gcc-multilib
	// meta package and keeps gcc-12-multilib, which the compat self-test
	// uses.
	steps := [][]string{r.Packages(true)}
	for _, e := range extras {
		var only []string
		for _, t := range r.Missing(false, e) {
			if t.Extra == e && !slices.Contains(only, t.Package) {
				only = append(only, t.Package)
			}
		}
		steps = append(steps, only)
	}
	updated := false
	for _, pkgs := range steps {
		if len(pkgs) == 0 {
			continue
		}
		inst := append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, pkgs...)
		err := run(inst...)
		if err != nil && !updated {
			// Stale or missing package lists on a fresh machine: update once.
			if err := run("apt-get", "update"); err != nil {
				return cli.Errorf(cli.ExitHarness, "apt-get update failed: %w", err)
			}
			updated = true
			err = run(inst...)
		}
		if err != nil {
			return cli.Errorf(cli.ExitHarness, "apt-get install -y %s failed: %w", strings.Join(pkgs, " "), err)
		}
	}
	return nil
}
