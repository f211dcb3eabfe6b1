package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/kdefer/kdefer/internal/apply"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
)

func init() {
	var keep *bool
	app.Register(&cli.Command{
		Name:    "recover",
		Summary: "finish or undo a kgen apply or drop that a crash interrupted",
		Usage: `recover TREE [--keep-changes]

A kgen apply or drop killed by SIGKILL or a power cut leaves its journal
in .git/kgen-journal (git then sees .git/index.lock, as after any
crashed git command). recover completes the transaction when HEAD had
already moved, and undoes it otherwise. kgen apply and kgen drop do the
same before they start; kgen status only reports it.

Recovery proves what it overwrites: undoing, a file is put back only
when it holds exactly what kgen wrote, and a file changed since (by you,
or by git reset --hard) that is neither what was there before nor what
kgen wrote makes recover refuse, naming the files, with nothing written.
Completing writes no work tree file. --keep-changes recovers everything
else and leaves those files (or index entries) as they are: kgen's
backups of them stay in .git/kgen-journal-kept-TIME.

Exit codes: 0 recovered, or nothing to recover; 2 usage or I/O error;
11 as for kgen apply; 12 files changed since the crash (named; nothing
written); 19 another kgen works on the tree, or .git/index.lock is not
kgen's.`,
		Flags: func(fs *flag.FlagSet) {
			keep = fs.Bool("keep-changes", false, "leave files changed since the crash as they are and recover the rest")
		},
		Run: func(ctx context.Context, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "give exactly one TREE")
			}
			return runRecover(args[0], *keep)
		},
	})
}

func runRecover(tree string, keep bool) error {
	r, err := apply.OpenRepo(tree)
	if err != nil {
		return err
	}
	lk, err := apply.LockRepo(r)
	if err != nil {
		return err
	}
	defer lk.Release()
	msg, err := gitapply.Recover(r, keep)
	if err != nil {
		return apply.RecoverErr(tree, err)
	}
	if msg == "" {
		msg = "no interrupted kgen transaction; nothing to do"
	}
	fmt.Printf("%s: %s\n", tree, msg)
	return nil
}
