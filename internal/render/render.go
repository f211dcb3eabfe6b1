// Package render turns the series templates into real commits on top of
// a kernel tree's HEAD and into a "git format-patch --cover-letter"
// series.
//
// Render probes the tree, renders every file the series touches at every
// step (see templates/FORMAT.md), and builds one commit per patch whose
// parent is the tree's HEAD (or the previous patch). Only the files the
// series touches are read, from HEAD's tree through go-git; the 87k-file
// work tree is never walked. Blob, tree and commit ids are the real ones
// git computes, so WriteSeries produces the bytes "git format-patch
// --cover-letter --base=<HEAD>" would write for those commits, and Build
// can write the very same objects into a real repository (kgen apply).
// The mails themselves (headers, diffs, diffstat, cover letter) are
// package formatpatch's.
//
// The tree must be a git repository: rendering needs a base commit. A
// plain directory is refused with a hint to run "kgen tree get VERSION
// --git" (probing works on plain directories).
//
// Reproducibility: the committer of a rendered commit is its author (same
// name, email and date), and the mail signature is the fixed string
// GitVersion, so the same templates and tree always give the same bytes.
package render

import (
	"context"
	"io/fs"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/kdefer/kdefer/internal/formatpatch"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/series"
)

// GitVersion is the version string of the "-- " mail signature that
// closes every patch (see package formatpatch).
const GitVersion = formatpatch.GitVersion

// Options says what to render.
type Options struct {
	// Templates is the template tree (templates.FS, or os.DirFS(dir)).
	Templates fs.FS
	// Tree is the kernel tree: a git work tree (or bare repository)
	// whose HEAD is the base of the series.
	Tree string
	// Base optionally names the base commit instead of HEAD.
	Base plumbing.Hash
	// Objects optionally reads the objects (kgen apply passes its
	// by-need store, whose memory does not grow with the history);
	// default: go-git's storage of Tree.
	Objects storer.EncodedObjectStorer
	// Identity is who renders the series: the From: of every patch and
	// of the cover letter that has no author: of its own in the
	// templates, and the name of the Signed-off-by that SignOff adds.
	// Zero means the series' maintainer (series.yaml maintainer:), which
	// is what patches/ is rendered with; kgen takes git's user.name and
	// user.email for everything else (see Identity in cmd/kgen).
	Identity series.Identity
	// Every message and the cover letter end with "Signed-off-by:
	// Identity", as "git format-patch -s" / "git am -s" would add it (not
	// twice when it already closes the trailers). NoSignOff leaves it out
	// ("git am" without -s; kgen apply without --signoff).
	NoSignOff bool
}

// FileChange is one file changed by one patch.
type FileChange = formatpatch.FileChange

// Patch is one rendered commit.
type Patch struct {
	Index, Total int    // 1-based position and series length (rendered patches only)
	Version      int    // the series' version (Result.Version)
	Name         string // short name from series.yaml
	Subject      string
	Author       object.Signature
	// Message is the full commit message: subject, blank line, body,
	// trailers, ending in a newline.
	Message string
	Changes []FileChange // sorted by path
	// Commit and Tree are the ids of the commit built with committer =
	// author; Parent is its parent (Result.Base for the first patch).
	Commit, Tree, Parent plumbing.Hash
}

// Skipped is a patch that was not rendered.
type Skipped struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	// Probe is the patch's skip-if condition that holds, Evidence what
	// the probe found ("kernel/unwind/deferred.c: exists").
	Probe    string `json:"probe"`
	Evidence string `json:"evidence"`
}

// Cover is the cover letter. Its Body is the rendered body followed by
// the changelog of each version (newest first) and the sign-off.
type Cover = formatpatch.Cover

// Result is a rendered series.
type Result struct {
	// Version is the series' version: from 2 on, subjects read
	// "[PATCH vN NN/MM]" and file names start with "vN-", as with
	// "git format-patch -v N".
	Version  int
	Identity series.Identity
	Probes   probe.Results
	Base     plumbing.Hash // the parent of the first patch (the tree's HEAD)
	BaseTree plumbing.Hash
	Patches  []Patch
	Skipped  []Skipped
	Cover    Cover
}

// Render renders the series for opts.Tree. On error nothing has been
// written anywhere; the error names the patch, file, edit/anchor or probe
// at fault.
func Render(ctx context.Context, opts Options) (*Result, error) {
	return render(ctx, opts)
}
