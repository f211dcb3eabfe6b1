package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/apply"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
)

func init() {
	var to, tdir *string
	var dryRun *bool
	app.Register(&cli.Command{
		Name:    "drop",
		Summary: "leave the series branch: check out the branch it came from and delete it",
		Usage: `drop TREE [--to BRANCH] [--dry-run] [--templates DIR]

The current branch of TREE must end with commits of the series (found by
subject; a commit of yours on top makes drop refuse, so nothing is lost).
drop checks out the branch kgen apply came from (read from the reflog
entry "checkout: moving from X to BRANCH"; --to BRANCH overrides it),
updating only the files that differ, then deletes the series branch. It
is the same transaction as kgen apply: an interrupt changes nothing.

Exit codes: 0 dropped; 2 usage or I/O error; 10, 11, 12, 13, 19 as for
kgen apply; 14 the branch to go back to is checked out in another work
tree (git allows a branch in one work tree only); 20 the current branch
does not end with series commits, or there is no branch to go back to.`,
		Flags: func(fs *flag.FlagSet) {
			to = fs.String("to", "", "branch to check out (default: the one kgen apply came from)")
			dryRun = fs.Bool("dry-run", false, "print what would happen, write nothing")
			tdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
		},
		Run: func(ctx context.Context, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "give exactly one TREE")
			}
			return runDrop(ctx, args[0], *to, *tdir, *dryRun)
		},
	})
}

// previousBranch reads the reflog of HEAD for the newest entry
// "checkout: moving from X to cur" that left X at base (the entry kgen
// apply wrote) whose X still exists; failing that, the newest such entry
// with any start.
func previousBranch(gitDir, cur string, base plumbing.Hash, exists func(string) bool) string {
	f, err := os.Open(filepath.Join(gitDir, "logs", "HEAD"))
	if err != nil {
		return ""
	}
	defer f.Close()
	exact, any := "", ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		head, msg, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		rest, ok := strings.CutPrefix(msg, "checkout: moving from ")
		if !ok {
			continue
		}
		from, dst, ok := strings.Cut(rest, " to ")
		if !ok || dst != cur || from == cur || !exists(from) {
			continue
		}
		any = from
		if old, _, _ := strings.Cut(head, " "); old == base.String() {
			exact = from
		}
	}
	if exact != "" {
		return exact
	}
	return any
}

func runDrop(ctx context.Context, tree, to, tdir string, dryRun bool) error {
	start := time.Now()
	if err := apply.KernelTree(tree); err != nil {
		return err
	}
	r, lk, err := apply.OpenLocked(tree, cli.Progress)
	if err != nil {
		return err
	}
	defer lk.Release()
	head, err := r.Head()
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	if ip := r.InProgress(); ip != nil {
		return cli.Errorf(apply.ExitDirty, "%s: %v", tree, ip)
	}
	if head.Branch == "" {
		return cli.Errorf(apply.ExitDetached, "%s: HEAD is detached; check out the series branch to drop it", tree)
	}
	cur := head.Branch.Short()
	_, subjects, ser, err := loadSeries(tdir)
	if err != nil {
		return err
	}
	found, _, err := gitapply.FindSeries(r.Objects, head.Commit, subjects, len(ser.Patches)+1)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	n := 0
	for n < len(found) && found[n].Depth == n {
		n++
	}
	if n == 0 {
		return cli.Errorf(apply.ExitNothing, "%s: branch %s does not end with a commit of the series; nothing to drop", tree, cur)
	}
	base := found[n-1].Parent
	if to == "" {
		to = previousBranch(r.GitDir, cur, base, func(b string) bool {
			_, err := r.S.Reference(plumbing.NewBranchReferenceName(b))
			return err == nil
		})
	}
	if to == "" {
		return cli.WithHint(cli.Errorf(apply.ExitNothing, "%s: no branch to go back to (the reflog does not say where %s came from)", tree, cur), "give one: kgen drop "+tree+" --to BRANCH")
	}
	target := plumbing.NewBranchReferenceName(to)
	ref, err := r.S.Reference(target)
	if err != nil || to == cur {
		return cli.Errorf(apply.ExitNothing, "%s: cannot go back to branch %q: %w", tree, to, errors.Join(err))
	}
	committer, err := r.Committer()
	if err != nil {
		committer.Name, committer.Email = "kgen", "kgen@localhost"
	}
	committer.When = time.Now()
	plan, err := gitapply.Prepare(r, r.Objects, gitapply.Switch{
		From: head.Commit, To: ref.Hash(), Branch: target,
		Delete: head.Branch, DeleteAt: head.Commit,
		Message: "checkout: moving from " + cur + " to " + to, Committer: committer,
		Command: "kgen drop",
	})
	if err != nil {
		return apply.PrepareErr(tree, err)
	}
	note := ""
	if ref.Hash() != base {
		note = fmt.Sprintf(" (note: %s is at %s, the series was based on %s)", to, ref.Hash().String()[:12], base.String()[:12])
	}
	if dryRun {
		fmt.Printf("dry run: would check out %s (%d files) and delete branch %s with %d series commits%s\n", to, len(plan.Changes), cur, n, note)
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := plan.Execute(); err != nil {
		return apply.ExecuteErr(tree, err)
	}
	fmt.Printf("dropped %d series commits: on %s now, deleted branch %s (was %s); %d files updated in %v%s\n",
		n, to, cur, head.Commit.String()[:12], len(plan.Changes), time.Since(start).Round(time.Millisecond), note)
	return nil
}
