package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"

	"github.com/kdefer/kdefer/internal/ci"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/kerneltree"
)

var reVersion = regexp.MustCompile(`^\d+(\.\d+){0,2}$`)

func init() {
	var sf seriesFlags
	var junitOut, outDir string
	var jsonOut bool
	var st stageFlags
	app.Register(&cli.Command{
		Name:    "ci",
		Summary: "the whole CI job: probe, render, apply, lint, build --each, boot; summary, KCIDB JSON, JUnit",
		Usage: `ci [flags] TREE|VERSION

Runs what a maintainer's CI runs on every posting of the series, in one
command: probe the tree, render the series, apply it (in a private scratch
clone: TREE is never modified), lint every patch (checkpatch, kernel-doc,
commit metadata, C API), build after every patch with the feature on and
off, then build and boot the whole series in QEMU and run the self-tests.

TREE is a git kernel tree whose HEAD is the base. VERSION (e.g. 6.12) uses
the cached Debian baseline from the kdefer cache, fetching it first if
needed (the same as kgen tree get VERSION --git).

Prints one summary table (patch x check). --json prints the results
shaped as KernelCI KCIDB I/O (schema v5: checkouts, builds, tests) on
stdout instead, with the table on stderr (--json means "JSON on stdout"
in every kcheck and kgen command); --junit FILE writes JUnit XML for CI
test reporters; --results DIR keeps all three: DIR/summary.txt,
DIR/kcidb.json and DIR/junit.xml.

Example (the README's first command):
  ./scripts/setup && go run ./cmd/kcheck ci 6.12

Exit: 0 everything passed, 1 something failed, 2 something could not run
(a stage reported as "not run: <reason>" is never counted as passed).`,
		Flags: func(fs *flag.FlagSet) {
			sf.register(fs)
			fs.BoolVar(&jsonOut, "json", false, "print KCIDB-shaped JSON results on stdout (the summary goes to stderr)")
			fs.StringVar(&junitOut, "junit", "", "write JUnit XML results to FILE")
			fs.StringVar(&outDir, "results", "", "write summary.txt, kcidb.json and junit.xml into DIR")
			st.register(fs)
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "name one TREE or VERSION (see kcheck ci -h)")
			}
			tree, name, err := resolveTree(ctx, args[0])
			if err != nil {
				return err
			}
			tfs, err := sf.fs()
			if err != nil {
				return err
			}
			opt := ci.Options{Tree: tree, TreeName: name, Templates: tfs, Patches: sf.patches, Quick: st.quick, NoBoot: st.noBoot, Full: st.full, Upstream: kerneltree.Newest("", "7."), Progress: cli.Progress}
			r, err := ci.Run(ctx, opt)
			if err != nil {
				return err
			}
			if err := writeCIResults(r, jsonOut, junitOut, outDir); err != nil {
				return cli.Errorf(cli.ExitHarness, "writing the results: %w", err)
			}
			return jobExit(r.ExitCode(), "the series failed a check (see the summary)", "a stage did not run (see the summary)")
		},
	})
}

// stageFlags choose the stages of the CI job, for ci and matrix.
type stageFlags struct{ quick, noBoot, full bool }

func (st *stageFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&st.quick, "quick", false, "skip build --each (the boot still builds the whole series)")
	fs.BoolVar(&st.noBoot, "no-boot", false, "skip the QEMU boot and self-tests")
	fs.BoolVar(&st.full, "full", false, "build --each builds vmlinux in full after every patch")
}

// writeCIResults prints the summary (or, with asJSON, the KCIDB JSON
// with the summary on stderr) and writes the requested files.
func writeCIResults(r *ci.Result, asJSON bool, junitPath, dir string) error {
	var sum bytes.Buffer
	r.WriteSummary(&sum)
	kcidb, err := r.KCIDB()
	if err != nil {
		return err
	}
	junit, err := r.JUnit()
	if err != nil {
		return err
	}
	if asJSON {
		os.Stderr.Write(sum.Bytes())
		os.Stdout.Write(append(kcidb, '\n'))
	} else {
		os.Stdout.Write(sum.Bytes())
	}
	if junitPath != "" {
		if err := os.WriteFile(junitPath, junit, 0o644); err != nil {
			return err
		}
	}
	if dir != "" {
		return writeFiles(dir, map[string][]byte{"summary.txt": sum.Bytes(), "kcidb.json": append(kcidb, '\n'), "junit.xml": junit})
	}
	return nil
}

// writeFiles writes each of files (name: content) into dir, creating it.
func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// resolveTree turns TREE|VERSION into a git tree path and a KCIDB tree name.
func resolveTree(ctx context.Context, arg string) (string, string, error) {
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		abs, err := filepath.Abs(arg)
		return abs, filepath.Base(abs), err
	}
	if !reVersion.MatchString(arg) {
		return "", "", cli.Errorf(cli.ExitHarness, "%s is neither a directory nor a version like 6.12", arg)
	}
	cli.Progress("getting the Linux %s baseline from the kdefer cache", arg)
	tree, err := kerneltree.Get(ctx, kerneltree.Options{Version: arg, Git: true, Progress: cli.Progress})
	if err != nil {
		return "", "", cli.WithHint(err, "kgen tree get "+arg+" --git shows what failed")
	}
	return tree, "debian-" + filepath.Base(tree), nil
}

// jobExit maps the exit code of a ci or matrix job (0 passed, 1 a check
// failed, 2 a stage could not run) to kcheck's exit, with the message
// for each.
func jobExit(code int, failed, notRun string) error {
	switch code {
	case 1:
		return cli.Errorf(cli.ExitFail, "%s", failed)
	case 2:
		return cli.Errorf(cli.ExitHarness, "%s", notRun)
	}
	return nil
}
