package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kdefer/kdefer/internal/gitobj"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrNotGit is returned (wrapped) for a tree that is not a git
// repository (internal/gitobj).
var ErrNotGit = gitobj.ErrNotGit

// openBase opens the repository at dir and returns its storage with the
// base commit (base, or HEAD when zero).
func openBase(dir string, base plumbing.Hash, objs storer.EncodedObjectStorer) (storer.EncodedObjectStorer, *object.Commit, error) {
	if objs != nil && !base.IsZero() {
		c, err := object.GetCommit(objs, base)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: base commit %s: %w", dir, base, err)
		}
		return objs, c, nil
	}
	st, err := gitobj.OpenStorage(dir)
	if err != nil {
		return nil, nil, err
	}
	if base.IsZero() {
		ref, err := storer.ResolveReference(st, plumbing.HEAD)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: reading HEAD: %w (a repository without commits cannot be a base)", dir, err)
		}
		base = ref.Hash()
	}
	c, err := object.GetCommit(st, base)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: base commit %s: %w", dir, base, err)
	}
	return st, c, nil
}

// treeSource reads files from a git tree; it implements probe.Source.
type treeSource struct {
	tree *object.Tree
	s    storer.EncodedObjectStorer
}

type blobInfo struct {
	data []byte
	mode filemode.FileMode
	hash plumbing.Hash
}

func (t treeSource) stat(p string) (*blobInfo, error) {
	e, err := t.tree.FindEntry(p)
	if err != nil {
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if !e.Mode.IsFile() {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	data, err := gitobj.BlobBytes(t.s, e.Hash)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &blobInfo{data, e.Mode, e.Hash}, nil
}

func (t treeSource) ReadFile(p string) ([]byte, error) {
	bi, err := t.stat(p)
	if err != nil {
		return nil, err
	}
	return bi.data, nil
}

// writeBlob stores data as a blob and returns its id.
func writeBlob(s storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

type entryChange struct {
	hash plumbing.Hash // zero: delete
	mode filemode.FileMode
}

// updateTree returns the id of tree base (zero: empty) with the changes
// (paths relative to it) applied; only the trees on the changed paths
// are read and rewritten.
func updateTree(s storer.EncodedObjectStorer, base plumbing.Hash, changes map[string]entryChange) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !base.IsZero() {
		t, err := object.GetTree(s, base)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading tree %s: %w", base, err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]entryChange{}
	for p, c := range changes {
		dir, rest, ok := strings.Cut(p, "/")
		if !ok {
			if c.hash.IsZero() {
				delete(entries, p)
			} else {
				entries[p] = object.TreeEntry{Name: p, Mode: c.mode, Hash: c.hash}
			}
			continue
		}
		if sub[dir] == nil {
			sub[dir] = map[string]entryChange{}
		}
		sub[dir][rest] = c
	}
	for dir, ch := range sub {
		var old plumbing.Hash
		if e, ok := entries[dir]; ok {
			if e.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is a file in the base tree, not a directory", dir)
			}
			old = e.Hash
		}
		h, err := updateTree(s, old, ch)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s/%w", dir, err)
		}
		if h.IsZero() {
			delete(entries, dir)
		} else {
			entries[dir] = object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h}
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	sort.Slice(t.Entries, func(i, j int) bool { return treeKey(t.Entries[i]) < treeKey(t.Entries[j]) })
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// treeKey is git's tree order: directories sort as if named "name/".
func treeKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

func (r *Result) build(s storer.EncodedObjectStorer, committer *object.Signature) ([]plumbing.Hash, error) {
	c, _, err := r.buildAll(s, committer)
	return c, err
}

func (r *Result) buildAll(s storer.EncodedObjectStorer, committer *object.Signature) ([]plumbing.Hash, []plumbing.Hash, error) {
	parent, tree := r.Base, r.BaseTree
	var out, trees []plumbing.Hash
	for i := range r.Patches {
		p := &r.Patches[i]
		ch := map[string]entryChange{}
		for _, c := range p.Changes {
			if c.After == nil {
				ch[c.Path] = entryChange{}
				continue
			}
			h, err := writeBlob(s, c.After)
			if err != nil {
				return nil, nil, fmt.Errorf("patch %s: writing blob for %s: %w", p.Name, c.Path, err)
			}
			ch[c.Path] = entryChange{h, c.Mode}
		}
		nt, err := updateTree(s, tree, ch)
		if err != nil {
			return nil, nil, fmt.Errorf("patch %s: building tree: %w", p.Name, err)
		}
		cm := p.Author
		if committer != nil {
			cm = *committer
		}
		c := &object.Commit{Author: p.Author, Committer: cm, Message: p.Message, TreeHash: nt, ParentHashes: []plumbing.Hash{parent}}
		obj := s.NewEncodedObject()
		if err := c.Encode(obj); err != nil {
			return nil, nil, err
		}
		h, err := s.SetEncodedObject(obj)
		if err != nil {
			return nil, nil, fmt.Errorf("patch %s: writing commit: %w", p.Name, err)
		}
		out = append(out, h)
		trees = append(trees, nt)
		parent, tree = h, nt
	}
	return out, trees, nil
}

// writeSeries writes files into dir through a temporary directory.
func writeSeries(dir string, files map[string][]byte) error {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("creating temporary directory next to %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.patch"))
	for _, o := range old {
		if _, keep := files[filepath.Base(o)]; !keep {
			if err := os.Remove(o); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.Rename(filepath.Join(tmp, n), filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}
