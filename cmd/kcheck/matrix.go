package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/matrix"
)

// defaultBases are the Debian bases of the matrix: bookworm's 6.1,
// bookworm-backports' 6.12, the 6.12 of trixie and bookworm-security,
// unstable's 7.2 and trixie-backports' 7.3.
var defaultBases = []string{"6.1", "6.12.95", "6.12", "7.2", "7.3"}

func init() {
	var tdir, out, join string
	var st stageFlags
	app.Register(&cli.Command{
		Name:    "matrix",
		Summary: "kcheck ci on every Debian base: one table base x stage; JSON, JUnit, HTML",
		Usage: `matrix [flags] [BASE...]

Runs the CI job (fetch, probe, render, apply, lint, build-each, boot; see
kcheck ci) on each BASE, a version for kgen tree get (default: ` + strings.Join(defaultBases, " ") + `),
one after the other, and prints one table, base x stage. A base whose
kernel has the series upstream shows "upstream" with every patch and the
probe evidence; a base the series does not support shows "apply.Unsupported"
with what it lacks; an anchor that stops matching is named with its
patch, file and anchor and the nearest candidate lines.

--out DIR writes matrix.json, matrix.junit.xml and matrix.html there.
--join FILE,FILE,... joins matrix.json files of several runs (one runner
per base) into one table and the same three files, without running
anything:

  kcheck matrix --out out/6.12.95 6.12.95     # on each runner
  kcheck matrix --join out/*/matrix.json --out report

Exit: 0 every base passed (or has the series upstream), 1 a stage
failed, 2 a stage could not run or a base is apply.Unsupported.`,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&tdir, "templates", "", "template directory (default: the series built into kcheck)")
			fs.StringVar(&out, "out", "", "write matrix.json, matrix.junit.xml and matrix.html into this directory")
			fs.StringVar(&join, "join", "", "join these matrix.json files (comma-separated; a shell glob works too) instead of running")
			st.register(fs)
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			var m *matrix.Matrix
			var err error
			if join != "" {
				files := append(strings.Split(join, ","), args...)
				if m, err = matrix.Join(files); err != nil {
					return cli.Errorf(cli.ExitHarness, "%w", err)
				}
			} else {
				bases := args
				if len(bases) == 0 {
					bases = defaultBases
				}
				tfs, err := templatesFS(tdir)
				if err != nil {
					return err
				}
				mo := matrix.Options{Bases: bases, Templates: tfs, Quick: st.quick, NoBoot: st.noBoot, Full: st.full, Progress: cli.Progress}
				if out != "" && len(bases) > 1 {
					mo.Done = func(m *matrix.Matrix) {
						if err := writeMatrix(m, out); err != nil {
							cli.Progress("writing %s: %v", out, err)
						}
					}
				}
				if m, err = matrix.Run(ctx, mo); err != nil {
					return err
				}
			}
			m.WriteTable(os.Stdout)
			if out != "" {
				if err := writeMatrix(m, out); err != nil {
					return cli.Errorf(cli.ExitHarness, "%w", err)
				}
			}
			return jobExit(m.ExitCode(), "a stage failed on a base (see the table)", "a stage could not run on a base, or a base is apply.Unsupported (see the table)")
		},
	})
}

func writeMatrix(m *matrix.Matrix, dir string) error {
	j, err := m.JSON()
	if err != nil {
		return err
	}
	x, err := m.JUnit()
	if err != nil {
		return err
	}
	var h bytes.Buffer
	if err := m.HTML(&h); err != nil {
		return err
	}
	if err := writeFiles(dir, map[string][]byte{"matrix.json": append(j, '\n'), "matrix.junit.xml": x, "matrix.html": h.Bytes()}); err != nil {
		return err
	}
	fmt.Printf("results: %s/matrix.{json,junit.xml,html}\n", dir)
	return nil
}
