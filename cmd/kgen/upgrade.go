package main

// kgen apply --upgrade and --signoff, and the version line of kgen status.
// Kept apart from apply.go, which only registers the flags and calls in.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/gitobj"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/series"
	"github.com/kdefer/kdefer/internal/versions"
)

// exitOwnCommits: kgen apply --upgrade found commits of the user's that it
// cannot carry over (interleaved with the series, merges, or changing a
// file the series changes); it names them.
const exitOwnCommits = 21

const upgradeHelp = `Upgrade (--upgrade): on a branch that carries an older rendering of the
series (found by subject and by patch id against the kept versions in
--patches DIR and the current rendering), renders the current version on
the same base and replaces the old commits with the new ones. Commits you
added on top are replayed onto the new series (same author, date and
message) when they change no file the series changes; otherwise, or when
they sit between series commits, nothing is done and they are named
(exit 21). The result goes on a new branch (--branch, default the old
name with -vN for the series' version N: unwind-deferred-v2), and the old
branch is deleted in the same transaction (--keep-old keeps it): the
drop and the apply both happen or neither does, also across SIGKILL
(journal, as for apply). A branch that already equals the current
rendering is left alone (exit 15).

Sign-off (--signoff): each commit's message ends with your
Signed-off-by (git config user.name/user.email in TREE, or --identity),
as "git am -s" adds it; the commits' author is that identity too.
Without it the messages carry no sign-off.`

// applyRenderOptions fills the identity and sign-off of a rendering for
// kgen apply: the tree's git identity (or --identity), a sign-off only
// with --signoff.
func applyRenderOptions(ctx context.Context, o applyOpts, ro *render.Options) error {
	id, err := identity(ctx, o.identity, o.tree)
	if err != nil {
		return err
	}
	ro.Identity, ro.NoSignOff = id, !o.signoff
	return nil
}

var versionSuffixRE = regexp.MustCompile(`-v\d+$`)

// upgradeBranch is the default name of the upgraded branch: the old name
// with "-vN" for version N ("unwind-deferred" -> "unwind-deferred-v2").
func upgradeBranch(old string, version int) string {
	return fmt.Sprintf("%s-v%d", versionSuffixRE.ReplaceAllString(old, ""), version)
}

// knownVersions returns the patch ids of every kept version in dir
// (oldest first) and of the current rendering, and their names in order.
func knownVersions(ctx context.Context, dir string, res *render.Result) (map[string][]string, []string, error) {
	ids := map[string][]string{}
	var order []string
	kept, err := versions.List(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	for _, k := range kept {
		ki, err := versions.KeptIDs(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		name := fmt.Sprintf("v%d (kept in %s)", k.Version, k.Dir)
		ids[name] = ki
		order = append(order, name)
	}
	if res != nil && len(res.Patches) > 0 {
		ri, err := versions.RenderedIDs(ctx, res)
		if err != nil {
			return nil, nil, err
		}
		name := fmt.Sprintf("v%d (the current rendering)", res.Version)
		ids[name] = ri
		order = append(order, name)
	}
	return ids, order, nil
}

// carried finds the series' commits on the first-parent history of tip:
// by subject, or by patch id against the known versions. It returns them
// tip first, the walked commits, and the patch id of every walked commit.
func carried(ctx context.Context, r *gitapply.Repo, tree string, tip plumbing.Hash, ser *series.Series, known map[string][]string) ([]*object.Commit, []*object.Commit, map[string]string, error) {
	subjects := ser.Subjects()
	_, walked, err := gitapply.FindSeries(r.S, tip, subjects, 2*len(ser.Patches)+50)
	if err != nil {
		return nil, nil, nil, err
	}
	var hashes []string
	for _, c := range walked {
		if len(c.ParentHashes) == 1 {
			hashes = append(hashes, c.Hash.String())
		}
	}
	ids, err := versions.CommitIDs(ctx, tree, hashes)
	if err != nil {
		return nil, nil, nil, err
	}
	knownID := map[string]bool{}
	for _, v := range known {
		for _, id := range v {
			knownID[id] = true
		}
	}
	var found []*object.Commit
	for _, c := range walked {
		if subjects[gitapply.Subject(c.Message)] || knownID[ids[c.Hash.String()]] {
			found = append(found, c)
		}
	}
	return found, walked, ids, nil
}

// versionLine says which version the series commits are, by patch id.
func versionLine(found []*object.Commit, ids map[string]string, known map[string][]string, order []string) string {
	if len(found) == 0 {
		return "carries no rendering of the series"
	}
	have := map[string]bool{}
	for _, c := range found {
		if id := ids[c.Hash.String()]; id != "" {
			have[id] = true
		}
	}
	m, ok := versions.Best(have, known, order)
	switch {
	case !ok:
		return fmt.Sprintf("carries %d commits of the series (by subject) whose content matches no known version", len(found))
	case m.Matched == m.Total && m.Total == len(found):
		return fmt.Sprintf("carries %s: all %d patches, by patch id", m.Name, m.Total)
	}
	return fmt.Sprintf("carries %d commits of the series; closest is %s (%d of its %d patches by patch id)", len(found), m.Name, m.Matched, m.Total)
}

// runUpgrade replaces an older rendering on the current branch by the
// current one (see upgradeHelp).
func runUpgrade(ctx context.Context, o applyOpts) error {
	start := time.Now()
	if err := apply.KernelTree(o.tree); err != nil {
		return err
	}
	r, lk, err := apply.OpenLocked(o.tree, cli.Progress)
	if err != nil {
		return err
	}
	defer lk.Release()
	head, err := r.Head()
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%s: reading HEAD: %w", o.tree, err)
	}
	if head.Branch == "" {
		return cli.Errorf(apply.ExitDetached, "%s: HEAD is detached; check out the branch that carries the series", o.tree)
	}
	ser, err := series.Load(o.templates)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	kept, order, err := knownVersions(ctx, o.patches, nil)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	found, walked, ids, err := carried(ctx, r, o.tree, head.Commit, ser, kept)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	if len(found) == 0 {
		return cli.WithHint(cli.Errorf(apply.ExitNothing, "%s: branch %s carries no rendering of the series; nothing to upgrade", o.tree, head.Branch.Short()), "kgen apply "+o.tree+" applies it")
	}
	oldest := found[len(found)-1]
	if len(oldest.ParentHashes) != 1 {
		return cli.Errorf(exitOwnCommits, "%s: the oldest series commit %s has %d parents", o.tree, oldest.Hash.String()[:12], len(oldest.ParentHashes))
	}
	base := oldest.ParentHashes[0]
	isSeries := map[plumbing.Hash]bool{}
	for _, c := range found {
		isSeries[c.Hash] = true
	}
	var above []*object.Commit // the user's commits on top, tip first
	var between []string       // the user's commits inside the series
	seenSeries := false
	for _, c := range walked {
		if c.Hash == base {
			break
		}
		switch {
		case isSeries[c.Hash]:
			seenSeries = true
		case seenSeries:
			between = append(between, c.Hash.String()[:12]+" "+gitapply.Subject(c.Message))
		default:
			above = append(above, c)
		}
	}
	if len(between) > 0 {
		return cli.WithHint(cli.Errorf(exitOwnCommits, "%s: commits of yours sit between the series' commits; an upgrade cannot keep them in place, nothing changed:\n  %s", o.tree, strings.Join(between, "\n  ")),
			"move them on top (git rebase -i), or drop the series (kgen drop) and apply it again")
	}
	ro := render.Options{Templates: o.templates, Tree: o.tree, Base: base}
	if err := applyRenderOptions(ctx, o, &ro); err != nil {
		return err
	}
	res, err := render.Render(ctx, ro)
	if err != nil {
		return apply.RenderErr(ctx, err)
	}
	if len(res.Patches) == 0 {
		printSkipped(os.Stdout, res.Skipped, len(res.Skipped))
		return cli.Errorf(apply.ExitUpstream, "%s (Linux %s) carries the infrastructure upstream: the current version has no patch for it; nothing changed", o.tree, res.Probes.Version)
	}
	newIDs, err := versions.RenderedIDs(ctx, res)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	known := map[string][]string{}
	for k, v := range kept {
		known[k] = v
	}
	cur := fmt.Sprintf("v%d (the current rendering)", res.Version)
	known[cur] = newIDs
	was := versionLine(found, ids, known, append(order, cur))
	if sameIDs(found, ids, newIDs) {
		return cli.WithHint(cli.Errorf(apply.ExitApplied, "%s: branch %s %s; nothing to upgrade", o.tree, head.Branch.Short(), was), "kgen status "+o.tree)
	}
	committer, err := r.Committer()
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "%w", err)
	}
	ov := gitobj.NewOverlay(r.S)
	commits, err := res.Build(ov, &committer)
	if err != nil {
		return cli.Errorf(cli.ExitHarness, "building the commits: %w", err)
	}
	tip := commits[len(commits)-1]
	// The paths the old and the new series change: a commit of the
	// user's that touches one of them cannot be replayed blindly.
	seriesPaths := map[string]bool{}
	for _, c := range found {
		ch, err := gitapply.CommitChanges(r.S, c)
		if err != nil {
			return cli.Errorf(cli.ExitHarness, "%w", err)
		}
		for p := range ch {
			seriesPaths[p] = true
		}
	}
	for _, p := range res.Patches {
		for _, c := range p.Changes {
			seriesPaths[c.Path] = true
		}
	}
	var conflicts []string
	type replay struct {
		c  *object.Commit
		ch []gitapply.Change
	}
	var replays []replay
	for i := len(above) - 1; i >= 0; i-- {
		c := above[i]
		if len(c.ParentHashes) != 1 {
			conflicts = append(conflicts, c.Hash.String()[:12]+" "+gitapply.Subject(c.Message)+" (a merge)")
			continue
		}
		parent, err := object.GetCommit(r.S, c.ParentHashes[0])
		if err != nil {
			return cli.Errorf(cli.ExitHarness, "%w", err)
		}
		ch, err := gitapply.Diff(r.S, parent.TreeHash, c.TreeHash)
		if err != nil {
			return cli.Errorf(cli.ExitHarness, "%w", err)
		}
		var hit []string
		for _, x := range ch {
			if seriesPaths[x.Path] {
				hit = append(hit, x.Path)
			}
		}
		if len(hit) > 0 {
			conflicts = append(conflicts, c.Hash.String()[:12]+" "+gitapply.Subject(c.Message)+" (changes "+strings.Join(hit, ", ")+")")
			continue
		}
		replays = append(replays, replay{c, ch})
	}
	if len(conflicts) > 0 {
		return cli.WithHint(cli.Errorf(exitOwnCommits, "%s: commits of yours on top of the series cannot be carried over, nothing changed:\n  %s", o.tree, strings.Join(conflicts, "\n  ")),
			"move them out of the way (git rebase -i, or a branch of their own), then run kgen apply --upgrade again")
	}
	for _, rp := range replays {
		prev, err := object.GetCommit(ov, tip)
		if err != nil {
			return cli.Errorf(cli.ExitHarness, "%w", err)
		}
		set := map[string]render.TreeChange{}
		for _, x := range rp.ch {
			set[x.Path] = render.TreeChange{Hash: x.NewHash, Mode: x.NewMode}
		}
		nt, err := render.UpdateTree(ov, prev.TreeHash, set)
		if err != nil {
			return cli.Errorf(cli.ExitHarness, "replaying %s: %w", rp.c.Hash.String()[:12], err)
		}
		nc := &object.Commit{Author: rp.c.Author, Committer: committer, Message: rp.c.Message, TreeHash: nt, ParentHashes: []plumbing.Hash{tip}}
		obj := ov.NewEncodedObject()
		if err := nc.Encode(obj); err != nil {
			return cli.Errorf(cli.ExitHarness, "%w", err)
		}
		if tip, err = ov.SetEncodedObject(obj); err != nil {
			return cli.Errorf(cli.ExitHarness, "%w", err)
		}
	}
	name := o.branch
	if !o.branchSet {
		name = upgradeBranch(head.Branch.Short(), res.Version)
	}
	newRef := plumbing.NewBranchReferenceName(name)
	if err := newRef.Validate(); err != nil || name == head.Branch.Short() {
		return cli.Errorf(cli.ExitHarness, "--branch %q: not a valid new branch name (it must differ from %s)", name, head.Branch.Short())
	}
	if ref, err := r.S.Reference(newRef); err == nil {
		return cli.WithHint(cli.Errorf(apply.ExitBranchTaken, "%s: branch %s already exists (at %s)", o.tree, name, ref.Hash().String()[:12]), "choose another with --branch NAME")
	}
	sw := gitapply.Switch{From: head.Commit, To: tip, Branch: newRef, Create: true,
		Message: "checkout: moving from " + head.Branch.Short() + " to " + name + " (kgen apply --upgrade)", Committer: committer}
	if !o.keepOld {
		sw.Delete, sw.DeleteAt = head.Branch, head.Commit
	}
	plan, err := gitapply.Prepare(r, ov, sw)
	if err != nil {
		var de *gitapply.DirtyError
		if errors.As(err, &de) || errors.Is(err, gitapply.ErrUnmerged) {
			return cli.WithHint(cli.Errorf(apply.ExitDirty, "%s: %w", o.tree, err), "commit or stash those changes, then run kgen apply --upgrade again")
		}
		return cli.Errorf(cli.ExitHarness, "%s: %w", o.tree, err)
	}
	fmt.Printf("%s: branch %s %s\n", o.tree, head.Branch.Short(), was)
	verb := "commit"
	if o.dryRun {
		verb = "would commit"
	}
	for i, p := range res.Patches {
		fmt.Printf("%s %s [v%d %d/%d] %s\n", verb, commits[i].String()[:12], res.Version, p.Index, p.Total, p.Subject)
	}
	for _, rp := range replays {
		fmt.Printf("%s your %s %s on top\n", verb, rp.c.Hash.String()[:12], gitapply.Subject(rp.c.Message))
	}
	old := "delete branch " + head.Branch.Short() + " (was " + head.Commit.String()[:12] + ")"
	if o.keepOld {
		old = "keep branch " + head.Branch.Short()
	}
	if o.dryRun {
		fmt.Printf("dry run: would create branch %s at %s, %s and update %d files; nothing written\n", name, tip.String()[:12], old, len(plan.Changes))
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := plan.Execute(); err != nil {
		return apply.ExecuteErr(o.tree, err)
	}
	fmt.Printf("upgraded to v%d: %d patches and %d commits of yours on branch %s (base %s, Linux %s); %s; %d files updated in %v\n",
		res.Version, len(res.Patches), len(replays), name, base.String()[:12], res.Probes.Version, strings.Replace(old, "delete", "deleted", 1), len(plan.Changes), time.Since(start).Round(time.Millisecond))
	return nil
}

// sameIDs reports whether the series commits (tip first) are exactly the
// rendering's patches, in order, by patch id.
func sameIDs(found []*object.Commit, ids map[string]string, want []string) bool {
	if len(found) != len(want) {
		return false
	}
	for i, c := range found {
		if ids[c.Hash.String()] != want[len(want)-1-i] {
			return false
		}
	}
	return true
}

// maintainerOpts are kgen apply's flags for maintainers (--signoff,
// --identity, --upgrade, --keep-old, --patches).
type maintainerOpts struct {
	signoff, upgrade, keepOld bool
	identity, patches         string
	branchSet                 bool // --branch was given
}

func (m *maintainerOpts) register(fs *flag.FlagSet) {
	fs.BoolVar(&m.signoff, "signoff", false, "add your Signed-off-by (git config user.name/user.email, or --identity) to every commit, as git am -s")
	fs.StringVar(&m.identity, "identity", "", "author and sign-off as \"Name <email>\" instead of git config user.name/user.email")
	fs.BoolVar(&m.upgrade, "upgrade", false, "replace an older rendering of the series on the current branch by the current one")
	fs.BoolVar(&m.keepOld, "keep-old", false, "--upgrade: keep the old branch instead of deleting it")
	fs.StringVar(&m.patches, "patches", "patches", "--upgrade: directory whose vN subdirectories are the kept versions (to recognise them by patch id)")
}

// parsed records which flags were given explicitly.
func (m *maintainerOpts) parsed(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "branch" {
			m.branchSet = true
		}
	})
}

// statusVersion is kgen status's version line.
func statusVersion(ctx context.Context, r *gitapply.Repo, tree string, tip plumbing.Hash, ser *series.Series, res *render.Result, patches string) (string, error) {
	known, order, err := knownVersions(ctx, patches, res)
	if err != nil {
		return "", err
	}
	found, _, ids, err := carried(ctx, r, tree, tip, ser, known)
	if err != nil {
		return "", err
	}
	line := versionLine(found, ids, known, order)
	if len(res.Patches) > 0 && len(found) > 0 {
		if cur, err := versions.RenderedIDs(ctx, res); err == nil && sameIDs(found, ids, cur) {
			line += "; equal to the current rendering"
		} else {
			line += fmt.Sprintf("; not the current rendering (v%d): kgen apply --upgrade %s", res.Version, tree)
		}
	}
	return line, nil
}
