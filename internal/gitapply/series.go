package gitapply

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// SeriesCommit is a commit found on a branch whose subject is one of the
// series' subjects.
type SeriesCommit struct {
	Commit  plumbing.Hash
	Parent  plumbing.Hash
	Subject string
	Depth   int // 0 = the tip
}

// Subject returns the first line of a commit message.
func Subject(msg string) string {
	s, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimSpace(s)
}

// FindSeries walks the first-parent history from tip (at most limit
// commits) and returns the commits whose subject is in subjects, tip
// first, and the walked commits (tip first).
func FindSeries(s storer.EncodedObjectStorer, tip plumbing.Hash, subjects map[string]bool, limit int) (found []SeriesCommit, walked []*object.Commit, err error) {
	h := tip
	for d := 0; d < limit && !h.IsZero(); d++ {
		c, err := object.GetCommit(s, h)
		if err != nil {
			return nil, nil, fmt.Errorf("commit %s: %w", h, err)
		}
		walked = append(walked, c)
		var parent plumbing.Hash
		if len(c.ParentHashes) > 0 {
			parent = c.ParentHashes[0]
		}
		if sub := Subject(c.Message); subjects[sub] {
			found = append(found, SeriesCommit{Commit: h, Parent: parent, Subject: sub, Depth: d})
		}
		h = parent
	}
	return found, walked, nil
}

// CommitChanges returns path -> new blob id (ZeroHash when deleted) of
// the difference between c and its first parent.
func CommitChanges(s storer.EncodedObjectStorer, c *object.Commit) (map[string]plumbing.Hash, error) {
	var pt plumbing.Hash
	if len(c.ParentHashes) > 0 {
		p, err := object.GetCommit(s, c.ParentHashes[0])
		if err != nil {
			return nil, err
		}
		pt = p.TreeHash
	}
	ch, err := Diff(s, pt, c.TreeHash)
	if err != nil {
		return nil, err
	}
	m := make(map[string]plumbing.Hash, len(ch))
	for _, x := range ch {
		m[x.Path] = x.NewHash
	}
	return m, nil
}

// CompareChanges lists the paths where two change sets differ.
func CompareChanges(have, want map[string]plumbing.Hash) []string {
	var out []string
	for p, h := range want {
		if g, ok := have[p]; !ok {
			out = append(out, p+" (not changed by the commit)")
		} else if g != h {
			out = append(out, p+" (different content)")
		}
	}
	for p := range have {
		if _, ok := want[p]; !ok {
			out = append(out, p+" (changed only by the commit)")
		}
	}
	sort.Strings(out)
	return out
}
