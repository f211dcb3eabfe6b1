package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/splat"
)

func init() {
	var jsonOut bool
	app.Register(&cli.Command{
		Name:    "scan",
		Summary: "find kernel reports (WARNING, BUG, Oops, lockdep, KASAN, stalls, leaks, panic ...) in console logs",
		Usage: `scan [--json] LOG...

Reads each console LOG ("-" for stdin) and lists every kernel report in
it: its kind (warning, bug, oops, gpf, lockdep, kasan, ubsan, rcu-stall,
soft-lockup, hard-lockup, hung-task, panic, atomic-sleep, memory-leak,
ref-leak), a title that names the crash the same way on every run and
machine ("WARNING in foo", "KASAN: use-after-free Read in foo",
"possible deadlock in foo", "kernel panic: ..."), the console line that
opened it and the quoted lines of the report. A report's consequences
(the "Fatal exception" panic after an Oops) are quoted with it, not
listed. Works on any console log, with or without printk time stamps or
caller ids, also when a report starts after other text on its line.

Exit codes: 0 no report; 1 at least one report; 2 a LOG could not be read.`,
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&jsonOut, "json", false, "print the findings as JSON")
		},
		Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				fs.Usage()
				return cli.Errorf(cli.ExitHarness, "no LOG given")
			}
			type fileFindings struct {
				File     string          `json:"file"`
				Findings []splat.Finding `json:"findings"`
			}
			var all []fileFindings
			total := 0
			for _, name := range args {
				var r io.Reader = os.Stdin
				if name != "-" {
					f, err := os.Open(name)
					if err != nil {
						return cli.Errorf(cli.ExitHarness, "%w", err)
					}
					defer f.Close()
					r = f
				}
				fs, err := splat.Scan(r)
				if err != nil {
					return cli.Errorf(cli.ExitHarness, "%s: %w", name, err)
				}
				if fs == nil {
					fs = []splat.Finding{}
				}
				all = append(all, fileFindings{name, fs})
				total += len(fs)
			}
			if jsonOut {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(all)
			} else {
				for _, ff := range all {
					for i, f := range ff.Findings {
						fmt.Printf("%s:%d: %s: %s", ff.File, f.Line, f.Kind, f.Title)
						if f.Count > 1 {
							fmt.Printf(" (seen %d times)", f.Count)
						}
						fmt.Println()
						for _, l := range f.Lines {
							fmt.Printf("  | %s\n", l)
						}
						if i < len(ff.Findings)-1 {
							fmt.Println()
						}
					}
					if len(ff.Findings) == 0 {
						fmt.Printf("%s: no splat\n", ff.File)
					}
				}
			}
			if total > 0 {
				return cli.Errorf(cli.ExitFail, "%d splat(s) found", total)
			}
			return nil
		},
	})
}
