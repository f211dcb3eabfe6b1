package render

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/kdefer/kdefer/internal/formatpatch"
)

// FileName is the format-patch file name of patch p: "0001-slug.patch".
// From version 2 on it starts with "vN-" ("v2-0001-slug.patch").
func (p *Patch) FileName() string { return formatpatch.FileName(p.Version, p.Index, p.Subject) }

// CoverName is the cover letter's file name: "0000-cover-letter.patch",
// "v2-0000-cover-letter.patch" from version 2 on.
func (r *Result) CoverName() string { return formatpatch.FileName(r.Version, 0, "cover-letter") }

// Mail returns patch p as "git format-patch" writes it (one mbox message).
func (r *Result) Mail(p *Patch) []byte { return r.series().Mail(p.Index) }

// CoverLetter returns "0000-cover-letter.patch" as "git format-patch
// --cover-letter --base=<Base>" writes it.
func (r *Result) CoverLetter() []byte { return r.series().CoverLetter() }

// series is the rendered series as package formatpatch reads it.
func (r *Result) series() *formatpatch.Series {
	s := &formatpatch.Series{Version: r.Version, Cover: r.Cover, Base: r.Base}
	for _, p := range r.Patches {
		s.Patches = append(s.Patches, formatpatch.Patch{Commit: p.Commit, Author: p.Author, Subject: p.Subject, Message: p.Message, Changes: p.Changes})
	}
	return s
}

// Files returns the whole series as file name -> bytes, cover letter
// included (CoverName). Empty when no patch is rendered.
func (r *Result) Files() map[string][]byte {
	m := map[string][]byte{}
	if len(r.Patches) == 0 {
		return m
	}
	s := r.series()
	m[r.CoverName()] = s.CoverLetter()
	for i := range r.Patches {
		m[r.Patches[i].FileName()] = s.Mail(r.Patches[i].Index)
	}
	return m
}

// WriteSeries writes Files() into dir atomically: everything is written
// to a temporary directory next to dir first; then stale *.patch files in
// dir are removed and the new ones renamed into place. dir is created if
// needed.
func (r *Result) WriteSeries(dir string) error { return writeSeries(dir, r.Files()) }

// Build writes the blobs, trees and commits of the series into s and
// returns the commit ids in order. s must already hold the base commit
// and its trees (for kgen apply: the repository's own storer). committer
// nil means committer = author (then the ids equal Patch.Commit);
// otherwise every commit gets that committer (name, email and When).
func (r *Result) Build(s storer.EncodedObjectStorer, committer *object.Signature) ([]plumbing.Hash, error) {
	return r.build(s, committer)
}

// TreeChange sets one path of a tree: a blob and its mode, or removal
// when Hash is zero.
type TreeChange struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

// UpdateTree writes into s the tree base (zero: empty) with changes
// applied (paths relative to it) and returns its id; only the trees on
// the changed paths are rewritten (kgen apply --upgrade replays commits
// with it).
func UpdateTree(s storer.EncodedObjectStorer, base plumbing.Hash, changes map[string]TreeChange) (plumbing.Hash, error) {
	m := make(map[string]entryChange, len(changes))
	for p, c := range changes {
		m[p] = entryChange{hash: c.Hash, mode: c.Mode}
	}
	return updateTree(s, base, m)
}
