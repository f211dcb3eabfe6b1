package versions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kdefer/kdefer/internal/proc"
	"github.com/kdefer/kdefer/internal/render"
)

// PatchID is the stable patch id of one patch ("git patch-id --stable":
// the diff without line numbers and whitespace) and the commit it came
// from.
type PatchID struct{ ID, Commit string }

// patchIDs runs git patch-id --stable on input: mbox text or "git log -p"
// output. The result is in input order.
func patchIDs(ctx context.Context, input []byte) ([]PatchID, error) {
	c := proc.Command(ctx, "git", "patch-id", "--stable")
	c.Stdin = bytes.NewReader(input)
	out, err := proc.Output(c)
	if err != nil {
		return nil, err
	}
	var ids []PatchID
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			ids = append(ids, PatchID{ID: f[0], Commit: f[1]})
		}
	}
	return ids, nil
}

// RenderedIDs returns the patch ids of a rendering, one per patch in
// order.
func RenderedIDs(ctx context.Context, res *render.Result) ([]string, error) {
	var in bytes.Buffer
	for i := range res.Patches {
		in.Write(res.Mail(&res.Patches[i]))
	}
	ids, err := patchIDs(ctx, in.Bytes())
	if err != nil {
		return nil, err
	}
	if len(ids) != len(res.Patches) {
		return nil, fmt.Errorf("git patch-id gave %d ids for %d rendered patches", len(ids), len(res.Patches))
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.ID
	}
	return out, nil
}

// KeptIDs returns the patch ids of a kept version, one per patch in order.
func KeptIDs(ctx context.Context, k Kept) ([]string, error) {
	var out []string
	for _, p := range k.Patches {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ids, err := patchIDs(ctx, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if len(ids) != 1 {
			return nil, fmt.Errorf("%s: git patch-id found %d patches, want 1", p, len(ids))
		}
		out = append(out, ids[0].ID)
	}
	return out, nil
}

// CommitIDs returns the patch id of each of the commits (against its
// first parent) in tree; commits without a diff have none. Root commits
// must not be passed (their diff is the whole tree).
func CommitIDs(ctx context.Context, tree string, commits []string) (map[string]string, error) {
	m := map[string]string{}
	if len(commits) == 0 {
		return m, nil
	}
	args := append([]string{"-C", tree, "log", "--no-walk=unsorted", "-p", "--no-renames", "--no-color", "--no-ext-diff", "--format=commit %H"}, commits...)
	out, err := proc.Output(proc.Command(ctx, "git", args...))
	var pe *proc.Error
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("git log -p in %s: %v: %s", tree, pe.Err, pe.Stderr)
	}
	ids, err := patchIDs(ctx, out)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		m[id.Commit] = id.ID
	}
	return m, nil
}

// Match says how much of a list of patch ids a version covers.
type Match struct {
	Name    string // "v1", "the current rendering (v2)"
	Matched int    // how many of its patches are in the set
	Total   int
}

// Best returns the version whose patches the set holds most of,
// preferring a complete match; ok is false when none matches at all.
func Best(have map[string]bool, versions map[string][]string, order []string) (Match, bool) {
	var best Match
	found := false
	for _, name := range order {
		ids := versions[name]
		n := 0
		for _, id := range ids {
			if have[id] {
				n++
			}
		}
		if n == 0 {
			continue
		}
		m := Match{Name: name, Matched: n, Total: len(ids)}
		full := n == len(ids) && n == len(have)
		bestFull := found && best.Matched == best.Total && best.Matched == len(have)
		if !found || full && !bestFull || (full == bestFull && n > best.Matched) {
			best, found = m, true
		}
	}
	return best, found
}
