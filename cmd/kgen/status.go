package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/kdefer/kdefer/internal/apply"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/render"
)

func init() {
	var tdir, pdir *string
	app.Register(&cli.Command{
		Name:    "status",
		Summary: "tell which patches of the series the current branch carries",
		Usage: `status TREE [--templates DIR]

Walks the first-parent history of TREE's HEAD (at most 2N+50 commits for
a series of N patches) and finds the series' commits by subject. The
series is then rendered for their base (the parent of the oldest one, or
HEAD when none is found) and every patch is reported as:

  same       a commit with its subject changes exactly the files and
             contents the templates render now
  differs    a commit with its subject exists, but its changes differ
             (the files that differ are listed)
  content    no commit has its subject, but one makes exactly its changes
  missing    neither

It also says which version of the series the branch carries, by content:
the patch ids ("git patch-id --stable") of its series commits against
those of every kept version (--patches DIR/vN/) and of the current
rendering.

status only reads: when a crash interrupted a kgen apply or drop
(.git/kgen-journal exists), it says so and exits 19 without touching
anything; kgen recover TREE finishes or undoes that transaction.

Exit codes: 0 the branch carries the whole series as rendered now;
1 some patch is missing or differs; 2 usage or I/O error; 10, 11, 17, 18,
19 as for kgen apply.`,
		Flags: func(fs *flag.FlagSet) {
			tdir = fs.String("templates", "", "template directory (default: the series built into kgen)")
			pdir = fs.String("patches", "patches", "directory whose vN subdirectories are the kept versions")
		},
		Run: func(ctx context.Context, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return cli.Errorf(cli.ExitHarness, "give exactly one TREE")
			}
			return runStatus(ctx, args[0], *tdir, *pdir)
		},
	})
}

func runStatus(ctx context.Context, tree, tdir, pdir string) error {
	if err := apply.KernelTree(tree); err != nil {
		return err
	}
	r, err := apply.OpenRepo(tree)
	if err != nil {
		return err
	}
	// Read-only: an interrupted transaction is reported, not recovered.
	if pe := gitapply.Pending(r); pe != nil {
		return cli.WithHint(cli.Errorf(apply.ExitLocked, "%v", pe), "kgen recover "+tree)
	}
	head, err := r.Head()
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	tfs, subjects, ser, err := loadSeries(tdir)
	if err != nil {
		return err
	}
	found, walked, err := gitapply.FindSeries(r.Objects, head.Commit, subjects, 2*len(ser.Patches)+50)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	base := head.Commit
	if len(found) > 0 {
		base = found[len(found)-1].Parent
	}
	res, err := render.Render(ctx, render.Options{Templates: tfs, Tree: tree, Base: base, Objects: r.Objects})
	if err != nil {
		return apply.RenderErr(ctx, err)
	}
	where := head.Branch.Short()
	if where == "" {
		where = "detached HEAD"
	}
	fmt.Printf("%s: %s at %s; base %s; Linux %s\n", tree, where, head.Commit.String()[:12], base.String()[:12], res.Probes.Version)
	if line, err := statusVersion(ctx, r, tree, head.Commit, ser, res, pdir); err != nil {
		cli.Progress("cannot tell the version: %v", err)
	} else {
		fmt.Printf("  version   %s\n", line)
	}
	for _, s := range res.Skipped {
		fmt.Printf("  upstream  %-18s %s (probe %s: %s)\n", s.Name, s.Subject, s.Probe, s.Evidence)
	}
	bySubject := map[string]gitapply.SeriesCommit{}
	for _, f := range found {
		if _, dup := bySubject[f.Subject]; !dup {
			bySubject[f.Subject] = f
		}
	}
	// Changes of the walked commits above the base, computed lazily.
	var above []*object.Commit
	for _, c := range walked {
		if c.Hash == base {
			break
		}
		above = append(above, c)
	}
	changesOf := map[plumbing.Hash]map[string]plumbing.Hash{}
	get := func(c *object.Commit) (map[string]plumbing.Hash, error) {
		if m, ok := changesOf[c.Hash]; ok {
			return m, nil
		}
		m, err := gitapply.CommitChanges(r.Objects, c)
		changesOf[c.Hash] = m
		return m, err
	}
	bad := 0
	for _, p := range res.Patches {
		want := map[string]plumbing.Hash{}
		for _, c := range p.Changes {
			want[c.Path] = c.Hash
		}
		if f, ok := bySubject[p.Subject]; ok {
			c, err := object.GetCommit(r.Objects, f.Commit)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			have, err := get(c)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			if d := gitapply.CompareChanges(have, want); len(d) > 0 {
				bad++
				fmt.Printf("  differs   %s [%d/%d] %s\n", f.Commit.String()[:12], p.Index, p.Total, p.Subject)
				for _, x := range d {
					fmt.Printf("              %s\n", x)
				}
			} else {
				fmt.Printf("  same      %s [%d/%d] %s\n", f.Commit.String()[:12], p.Index, p.Total, p.Subject)
			}
			continue
		}
		hit := plumbing.ZeroHash
		subj := ""
		for _, c := range above {
			have, err := get(c)
			if err != nil {
				return cli.Errorf(cli.ExitHarness, "%w", err)
			}
			if len(gitapply.CompareChanges(have, want)) == 0 {
				hit, subj = c.Hash, gitapply.Subject(c.Message)
				break
			}
		}
		if !hit.IsZero() {
			fmt.Printf("  content   %s [%d/%d] %s (as %q)\n", hit.String()[:12], p.Index, p.Total, p.Subject, subj)
			continue
		}
		bad++
		fmt.Printf("  missing   [%d/%d] %s\n", p.Index, p.Total, p.Subject)
	}
	switch {
	case len(res.Patches) == 0:
		fmt.Println("the tree carries the infrastructure upstream; nothing to apply")
		return nil
	case bad == 0:
		fmt.Printf("%s carries the whole series as the templates render it now (%d patches)\n", where, len(res.Patches))
		return nil
	case len(found) == 0 && bad == len(res.Patches):
		fmt.Printf("%s carries none of the series (kgen apply %s)\n", where, tree)
	}
	return &cli.Error{Code: cli.ExitFail, Err: fmt.Errorf("%d of %d patches missing or different", bad, len(res.Patches))}
}
