// Package gitapply moves a kernel work tree from one commit to another
// (kgen apply, kgen drop) touching only the paths that differ, and does it
// as one transaction that an interrupt or a crash cannot leave half done.
//
// # What is touched
//
// The set of changed paths is the difference between the tree of HEAD and
// the target tree, found by descending only into subtrees whose ids differ:
// for the deferred-unwind series that is about thirty files out of 87,000.
// The work tree is never walked, hashed or stat'ed beyond those paths, and
// go-git's Worktree (which walks) is not used. .git/index (version 2 or 3)
// is spliced: the entries of changed paths are replaced by entries encoded
// with go-git's plumbing/format/index, every other entry is copied byte for
// byte, so its stat data stay exactly as git wrote them and git status
// stays fast and clean (decoding and re-encoding all 87,000 entries with
// go-git would cost half a second). The optional extensions that would be
// stale (cache-tree, untracked cache, fsmonitor, offset tables) are
// dropped; git rebuilds them when it needs them. A version 4 index goes
// through go-git's decoder and encoder whole; split and sparse indexes
// are refused.
//
// # Dirty rule
//
// Every changed path must be clean: the index holds exactly the HEAD blob
// (and mode) at stage 0, and the work tree file has that content (hashed;
// the stat cache is not trusted) — or, for a path HEAD does not have,
// neither the index nor the work tree has anything there. A path the
// switch does not touch may carry local changes: they are kept, like
// "git checkout" keeps them. An index with unmerged entries (a merge or am
// in progress) is refused as a whole.
//
// # Transaction
//
// Holding .git/index.lock (so that git itself cannot write the index
// meanwhile), the objects are written first (they are harmless: nothing
// refers to them until a ref does), then:
//
//  1. a journal .git/kgen-journal/journal.json records HEAD before and
//     after, the ref to create or delete, every path and its backup name;
//  2. the new contents are staged in .git/kgen-journal/new/ and every file
//     that will be replaced or removed is hard-linked into
//     .git/kgen-journal/old/ (same inode: restoring it restores the stat
//     data the index knows);
//  3. staged files are renamed over the work tree paths (removed paths are
//     unlinked; missing directories created);
//  4. the new index is encoded into .git/index.lock; the branch ref is
//     written (lock file + rename); HEAD's new content is written to
//     HEAD.lock;
//  5. the point of no return is the single rename HEAD.lock -> HEAD;
//  6. index.lock is renamed to index, the reflogs are appended, a ref to
//     delete is deleted and the journal is removed.
//
// Any error before step 5 restores everything in process (backups renamed
// back, created files and directories removed, created ref deleted, lock
// files removed). SIGINT and SIGTERM do not interrupt the transaction: the
// caller checks its context before calling Execute, and the transaction
// (a few milliseconds) then runs to its end. After SIGKILL or a power cut,
// the journal is left behind: Recover (run by every kgen apply, status and
// drop before anything else) rolls back when HEAD still has its old
// content and rolls forward when the rename of step 5 happened. Until then
// git sees index.lock (as after any crashed git command) and the touched
// files may show as modified.
package gitapply

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
)

// Change is one path whose content differs between the two trees.
type Change struct {
	Path             string
	OldHash, NewHash plumbing.Hash // ZeroHash when absent
	OldMode, NewMode filemode.FileMode
}

// Diff returns the paths that differ between trees a and b (either may be
// ZeroHash for the empty tree), descending only into subtrees whose ids
// differ. The result is sorted by path.
func Diff(s storer.EncodedObjectStorer, a, b plumbing.Hash) ([]Change, error) {
	var out []Change
	if err := diffTrees(s, a, b, "", &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func treeEntries(s storer.EncodedObjectStorer, h plumbing.Hash) (map[string]object.TreeEntry, error) {
	m := map[string]object.TreeEntry{}
	if h.IsZero() {
		return m, nil
	}
	t, err := object.GetTree(s, h)
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %v", h, err)
	}
	for _, e := range t.Entries {
		m[e.Name] = e
	}
	return m, nil
}

func diffTrees(s storer.EncodedObjectStorer, a, b plumbing.Hash, prefix string, out *[]Change) error {
	if a == b {
		return nil
	}
	ea, err := treeEntries(s, a)
	if err != nil {
		return err
	}
	eb, err := treeEntries(s, b)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for n := range ea {
		names[n] = true
	}
	for n := range eb {
		names[n] = true
	}
	for n := range names {
		x, inA := ea[n]
		y, inB := eb[n]
		if inA && inB && x.Hash == y.Hash && x.Mode == y.Mode {
			continue
		}
		p := prefix + n
		aDir := inA && x.Mode == filemode.Dir
		bDir := inB && y.Mode == filemode.Dir
		for _, e := range []struct {
			in  bool
			ent object.TreeEntry
		}{{inA, x}, {inB, y}} {
			if e.in && e.ent.Mode == filemode.Submodule {
				return fmt.Errorf("%s: submodules are not supported", p)
			}
		}
		switch {
		case aDir || bDir:
			var ta, tb plumbing.Hash
			if aDir {
				ta = x.Hash
			}
			if bDir {
				tb = y.Hash
			}
			if err := diffTrees(s, ta, tb, p+"/", out); err != nil {
				return err
			}
			// A file replaced by a directory or the reverse.
			if inA && !aDir {
				*out = append(*out, Change{Path: p, OldHash: x.Hash, OldMode: x.Mode})
			}
			if inB && !bDir {
				*out = append(*out, Change{Path: p, NewHash: y.Hash, NewMode: y.Mode})
			}
		default:
			c := Change{Path: p}
			if inA {
				c.OldHash, c.OldMode = x.Hash, x.Mode
			}
			if inB {
				c.NewHash, c.NewMode = y.Hash, y.Mode
			}
			*out = append(*out, c)
		}
	}
	return nil
}

// Repo is an open repository: its work tree, git directory and storage.
type Repo struct {
	WorkTree, GitDir string
	S                storage.Storer
}

// HeadState is what .git/HEAD says.
type HeadState struct {
	Raw    string                 // the file's content
	Branch plumbing.ReferenceName // "" when detached
	Commit plumbing.Hash          // ZeroHash on an unborn branch
}

// Head reads .git/HEAD and resolves it.
func (r *Repo) Head() (HeadState, error) {
	raw, err := os.ReadFile(filepath.Join(r.GitDir, "HEAD"))
	if err != nil {
		return HeadState{}, err
	}
	h := HeadState{Raw: string(raw)}
	line := strings.TrimSpace(string(raw))
	if rest, ok := strings.CutPrefix(line, "ref: "); ok {
		h.Branch = plumbing.ReferenceName(rest)
		if ref, err := r.S.Reference(h.Branch); err == nil {
			h.Commit = ref.Hash()
		}
		return h, nil
	}
	h.Commit = plumbing.NewHash(line)
	return h, nil
}

// Switch describes a move of HEAD, index and work tree.
type Switch struct {
	// From is HEAD's commit (checked against the repository).
	From plumbing.Hash
	// To is the commit to check out.
	To plumbing.Hash
	// Branch is the ref HEAD will name (refs/heads/...).
	Branch plumbing.ReferenceName
	// Create creates Branch at To (it must not exist).
	Create bool
	// Delete deletes this ref (which must point at DeleteAt) once HEAD
	// has moved away from it.
	Delete   plumbing.ReferenceName
	DeleteAt plumbing.Hash
	// Message is the reflog message ("checkout: moving from A to B").
	Message string
	// Committer is the identity of the reflog entries.
	Committer object.Signature
}

// DirtyError lists changed paths that are not clean.
type DirtyError struct{ Paths []string }

func (e *DirtyError) Error() string {
	n := len(e.Paths)
	list := e.Paths
	if n > 8 {
		list = list[:8]
	}
	s := strings.Join(list, ", ")
	if n > 8 {
		s += fmt.Sprintf(" and %d more", n-8)
	}
	return fmt.Sprintf("local changes in %d file(s) that would be overwritten: %s", n, s)
}

// ErrUnmerged is returned for an index with unmerged entries.
var ErrUnmerged = errors.New("the index has unmerged entries (a merge, am or rebase is in progress)")

// Plan is a checked Switch, ready to execute.
type Plan struct {
	r       *Repo
	objs    storer.EncodedObjectStorer
	sw      Switch
	head    HeadState
	Changes []Change
	idx     *rawIndex
	newIdx  []byte
}

// Prepare computes the changed paths and checks that they are clean. It
// writes nothing. objs holds the objects (an Overlay, or r.S).
func Prepare(r *Repo, objs storer.EncodedObjectStorer, sw Switch) (*Plan, error) {
	head, err := r.Head()
	if err != nil {
		return nil, fmt.Errorf("reading HEAD: %v", err)
	}
	if head.Commit != sw.From {
		return nil, fmt.Errorf("HEAD is %s, expected %s", head.Commit, sw.From)
	}
	if sw.Create {
		if _, err := r.S.Reference(sw.Branch); err == nil {
			return nil, fmt.Errorf("branch %s already exists", sw.Branch.Short())
		}
	}
	treeOf := func(c plumbing.Hash) (plumbing.Hash, error) {
		if c.IsZero() {
			return plumbing.ZeroHash, nil
		}
		co, err := object.GetCommit(objs, c)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("commit %s: %v", c, err)
		}
		return co.TreeHash, nil
	}
	ta, err := treeOf(sw.From)
	if err != nil {
		return nil, err
	}
	tb, err := treeOf(sw.To)
	if err != nil {
		return nil, err
	}
	changes, err := Diff(objs, ta, tb)
	if err != nil {
		return nil, err
	}
	idx, err := readRawIndex(r.GitDir)
	if err != nil {
		return nil, err
	}
	if idx.unmerged() {
		return nil, ErrUnmerged
	}
	var dirty []string
	for _, c := range changes {
		ok, err := clean(r.WorkTree, idx, c)
		if err != nil {
			return nil, err
		}
		if !ok {
			dirty = append(dirty, c.Path)
		}
	}
	if len(dirty) > 0 {
		return nil, &DirtyError{dirty}
	}
	return &Plan{r: r, objs: objs, sw: sw, head: head, Changes: changes, idx: idx}, nil
}

// ReadIndex decodes .git/index (an empty index when there is none).
func ReadIndex(gitDir string) (*index.Index, error) {
	idx := &index.Index{Version: 2}
	f, err := os.Open(filepath.Join(gitDir, "index"))
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := index.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(idx); err != nil {
		return nil, fmt.Errorf("reading %s: %v (split or sparse indexes are not supported)", f.Name(), err)
	}
	return idx, nil
}

// findEntry returns the position of the stage-0 entry named p, or -1.
// Entries as decoded are sorted by name.
func findEntry(idx *index.Index, p string) int {
	i := sort.Search(len(idx.Entries), func(i int) bool { return idx.Entries[i].Name >= p })
	if i < len(idx.Entries) && idx.Entries[i].Name == p {
		return i
	}
	return -1
}

// clean reports whether path c.Path has the old content in index and work
// tree.
func clean(wt string, idx *rawIndex, c Change) (bool, error) {
	ih, im, ok := idx.lookup(c.Path)
	full := filepath.Join(wt, filepath.FromSlash(c.Path))
	if c.OldHash.IsZero() {
		if ok {
			return false, nil
		}
		_, err := os.Lstat(full)
		return errors.Is(err, os.ErrNotExist), nil
	}
	if !ok || ih != c.OldHash || im != c.OldMode {
		return false, nil
	}
	h, mode, err := hashFile(full)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if mode == filemode.Executable && c.OldMode == filemode.Regular || mode == filemode.Regular && c.OldMode == filemode.Executable {
		return false, nil
	}
	return h == c.OldHash && (mode == filemode.Symlink) == (c.OldMode == filemode.Symlink), nil
}

func hashFile(p string) (plumbing.Hash, filemode.FileMode, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	var data []byte
	mode := filemode.Regular
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return plumbing.ZeroHash, 0, err
		}
		data, mode = []byte(t), filemode.Symlink
	case fi.Mode().IsRegular():
		if data, err = os.ReadFile(p); err != nil {
			return plumbing.ZeroHash, 0, err
		}
		if fi.Mode()&0o111 != 0 {
			mode = filemode.Executable
		}
	default:
		return plumbing.ZeroHash, 0, nil // a directory where a file should be: dirty
	}
	return plumbing.ComputeHash(plumbing.BlobObject, data), mode, nil
}

// journal is the on-disk record of a transaction.
type journal struct {
	HeadBefore string    `json:"head_before"`
	HeadAfter  string    `json:"head_after"`
	CreateRef  string    `json:"create_ref,omitempty"`
	CreateAt   string    `json:"create_at,omitempty"`
	DeleteRef  string    `json:"delete_ref,omitempty"`
	Entries    []jentry  `json:"entries"`
	Dirs       []string  `json:"dirs_created,omitempty"`
	Started    time.Time `json:"started"`
}

type jentry struct {
	Path    string `json:"path"`
	Existed bool   `json:"existed"` // the path exists in the work tree before
	Backup  string `json:"backup,omitempty"`
	Staged  string `json:"staged,omitempty"` // "" for a removal
}

// JournalDir is where a running or crashed transaction keeps its journal.
func JournalDir(gitDir string) string { return filepath.Join(gitDir, "kgen-journal") }

// Hook, when set, is called at named points of Execute (tests use it to
// inject failures); a non-nil error aborts the transaction there.
var Hook func(point string) error

func hook(p string) error {
	if Hook != nil {
		return Hook(p)
	}
	return nil
}

// Execute performs the plan as described in the package documentation.
// On error everything is restored before it returns.
func (p *Plan) Execute() (err error) {
	r := p.r
	jdir := JournalDir(r.GitDir)
	if _, err := os.Stat(jdir); err == nil {
		return fmt.Errorf("%s exists: an earlier transaction was not finished; run kgen status %s to recover", jdir, r.WorkTree)
	}
	if err := os.MkdirAll(filepath.Join(jdir, "new"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(jdir, "old"), 0o755); err != nil {
		os.RemoveAll(jdir)
		return err
	}
	idxLock := filepath.Join(r.GitDir, "index.lock")
	lf, err := os.OpenFile(idxLock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		os.RemoveAll(jdir)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: another git process seems to be running in %s (remove the file if none is)", idxLock, r.WorkTree)
		}
		return err
	}
	// Objects next: harmless, nothing refers to them yet.
	if o, ok := p.objs.(*Overlay); ok {
		if err := o.Flush(); err != nil {
			lf.Close()
			os.Remove(idxLock)
			os.RemoveAll(jdir)
			return fmt.Errorf("writing objects: %v", err)
		}
	}
	headAfter := "ref: " + string(p.sw.Branch) + "\n"
	j := &journal{HeadBefore: p.head.Raw, HeadAfter: headAfter, Started: time.Now()}
	if p.sw.Create {
		j.CreateRef, j.CreateAt = string(p.sw.Branch), p.sw.To.String()
	}
	if p.sw.Delete != "" {
		j.DeleteRef = string(p.sw.Delete)
	}
	for i, c := range p.Changes {
		e := jentry{Path: c.Path, Existed: !c.OldHash.IsZero()}
		if e.Existed {
			e.Backup = fmt.Sprintf("old/%d", i)
		}
		if !c.NewHash.IsZero() {
			e.Staged = fmt.Sprintf("new/%d", i)
		}
		j.Entries = append(j.Entries, e)
	}
	j.Dirs = p.missingDirs()
	committed := false
	defer func() {
		if err != nil && !committed {
			lf.Close()
			if rerr := rollback(r, j); rerr != nil {
				err = fmt.Errorf("%v; restoring failed too: %v (the journal in %s is kept; run kgen status %s)", err, rerr, jdir, r.WorkTree)
			}
		}
	}()
	if err = writeJournal(jdir, j); err != nil {
		return err
	}
	if err = hook("journal"); err != nil {
		return err
	}
	// Stage new contents and link backups.
	for i, c := range p.Changes {
		e := j.Entries[i]
		if e.Staged != "" {
			if err = stage(p.objs, filepath.Join(jdir, e.Staged), c.NewHash, c.NewMode); err != nil {
				return fmt.Errorf("staging %s: %v", c.Path, err)
			}
		}
		if e.Backup != "" {
			if err = os.Link(filepath.Join(r.WorkTree, c.Path), filepath.Join(jdir, e.Backup)); err != nil {
				return fmt.Errorf("backing up %s: %v", c.Path, err)
			}
		}
	}
	if err = hook("staged"); err != nil {
		return err
	}
	for _, d := range j.Dirs {
		if err = os.Mkdir(filepath.Join(r.WorkTree, d), 0o755); err != nil {
			return err
		}
	}
	for i, c := range p.Changes {
		e := j.Entries[i]
		dst := filepath.Join(r.WorkTree, filepath.FromSlash(c.Path))
		if e.Staged != "" {
			err = os.Rename(filepath.Join(jdir, e.Staged), dst)
		} else {
			err = os.Remove(dst)
		}
		if err != nil {
			return fmt.Errorf("updating %s: %v", c.Path, err)
		}
		if i == len(p.Changes)/2 {
			if err = hook("worktree"); err != nil {
				return err
			}
		}
	}
	// The new index.
	if err = p.updateIndex(); err != nil {
		return err
	}
	if _, err = lf.Write(p.newIdx); err != nil {
		return fmt.Errorf("writing index: %v", err)
	}
	if err = lf.Close(); err != nil {
		return err
	}
	if err = hook("index"); err != nil {
		return err
	}
	if p.sw.Create {
		if err = writeRef(r.GitDir, p.sw.Branch, p.sw.To); err != nil {
			return err
		}
	}
	if err = os.WriteFile(filepath.Join(r.GitDir, "HEAD.lock"), []byte(headAfter), 0o644); err != nil {
		return err
	}
	if err = hook("head"); err != nil {
		return err
	}
	// Point of no return.
	if err = os.Rename(filepath.Join(r.GitDir, "HEAD.lock"), filepath.Join(r.GitDir, "HEAD")); err != nil {
		return err
	}
	committed = true
	if err := hook("committed"); err != nil {
		return err
	}
	return finish(r, j, p.sw)
}

// missingDirs lists the directories to create for new paths, parents first.
func (p *Plan) missingDirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Changes {
		if c.NewHash.IsZero() {
			continue
		}
		var chain []string
		for d := filepath.Dir(c.Path); d != "." && d != "/" && !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
			if _, err := os.Lstat(filepath.Join(p.r.WorkTree, d)); err == nil {
				break
			}
			chain = append(chain, d)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			out = append(out, chain[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Count(out[i], "/") < strings.Count(out[j], "/") })
	return out
}

func (p *Plan) updateIndex() error {
	var set []*index.Entry
	del := map[string]bool{}
	for _, c := range p.Changes {
		if c.NewHash.IsZero() {
			del[c.Path] = true
			continue
		}
		fi, err := os.Lstat(filepath.Join(p.r.WorkTree, filepath.FromSlash(c.Path)))
		if err != nil {
			return err
		}
		e := &index.Entry{Name: c.Path, Hash: c.NewHash, Mode: c.NewMode, Size: uint32(fi.Size()), ModifiedAt: fi.ModTime()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			e.CreatedAt = time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
			e.Dev, e.Inode = uint32(st.Dev), uint32(st.Ino)
			e.UID, e.GID = st.Uid, st.Gid
		}
		set = append(set, e)
	}
	b, err := p.idx.encode(set, del)
	if err != nil {
		return err
	}
	p.newIdx = b
	return nil
}

func stage(s storer.EncodedObjectStorer, dst string, h plumbing.Hash, mode filemode.FileMode) error {
	o, err := s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return fmt.Errorf("blob %s: %v", h, err)
	}
	rd, err := o.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	if mode == filemode.Symlink {
		t, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		return os.Symlink(string(t), dst)
	}
	perm := os.FileMode(0o644)
	if mode == filemode.Executable {
		perm = 0o755
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rd); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil { // the umask may have cut bits
		f.Close()
		return err
	}
	return f.Close()
}

func writeJournal(jdir string, j *journal) error {
	data, err := json.MarshalIndent(j, "", " ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(jdir, "journal.json.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(jdir, "journal.json"))
}

// writeRef writes a loose ref through a lock file.
func writeRef(gitDir string, name plumbing.ReferenceName, h plumbing.Hash) error {
	p := filepath.Join(gitDir, filepath.FromSlash(string(name)))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	lock := p + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("locking %s: %v", name, err)
	}
	_, err = f.WriteString(h.String() + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(lock, p)
	}
	if err != nil {
		os.Remove(lock)
	}
	return err
}

// finish completes a committed transaction (also after a crash).
func finish(r *Repo, j *journal, sw Switch) error {
	lock := filepath.Join(r.GitDir, "index.lock")
	if _, err := os.Stat(lock); err == nil {
		if err := os.Rename(lock, filepath.Join(r.GitDir, "index")); err != nil {
			return fmt.Errorf("installing the new index: %v", err)
		}
	}
	if j.DeleteRef != "" {
		name := plumbing.ReferenceName(j.DeleteRef)
		if err := r.S.RemoveReference(name); err != nil {
			return fmt.Errorf("deleting %s: %v", name, err)
		}
		os.Remove(filepath.Join(r.GitDir, "logs", filepath.FromSlash(j.DeleteRef)))
	}
	// Directories emptied by removals go, as with git checkout (empty
	// directories are invisible to git, so this is tidying, not state).
	for _, e := range j.Entries {
		if e.Staged != "" {
			continue
		}
		for d := filepath.Dir(e.Path); d != "." && d != "/"; d = filepath.Dir(d) {
			if os.Remove(filepath.Join(r.WorkTree, d)) != nil {
				break
			}
		}
	}
	if sw.Message != "" {
		writeReflogs(r.GitDir, j, sw)
	}
	return os.RemoveAll(JournalDir(r.GitDir))
}

// writeReflogs appends the entries git would write; failures are ignored
// (reflogs are a convenience, not part of the repository's state).
func writeReflogs(gitDir string, j *journal, sw Switch) {
	sig := sw.Committer
	if sig.When.IsZero() {
		sig.When = time.Now()
	}
	_, off := sig.When.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	who := fmt.Sprintf("%s <%s> %d %c%02d%02d", sig.Name, sig.Email, sig.When.Unix(), sign, off/3600, off%3600/60)
	line := func(old, new plumbing.Hash, msg string) string {
		return fmt.Sprintf("%s %s %s\t%s\n", old, new, who, msg)
	}
	appendTo := func(name, s string) {
		p := filepath.Join(gitDir, "logs", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return
		}
		f.WriteString(s)
		f.Close()
	}
	if j.CreateRef != "" {
		appendTo(j.CreateRef, line(plumbing.ZeroHash, sw.To, "branch: Created from "+sw.From.String()))
	}
	appendTo("HEAD", line(sw.From, sw.To, sw.Message))
}

// rollback undoes an unfinished transaction.
func rollback(r *Repo, j *journal) error {
	jdir := JournalDir(r.GitDir)
	var errs []error
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		dst := filepath.Join(r.WorkTree, filepath.FromSlash(e.Path))
		if e.Backup != "" {
			b := filepath.Join(jdir, e.Backup)
			if _, err := os.Lstat(b); err == nil {
				if err := os.Rename(b, dst); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		// The path did not exist before: remove what we put there.
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for i := len(j.Dirs) - 1; i >= 0; i-- {
		os.Remove(filepath.Join(r.WorkTree, j.Dirs[i])) // only if empty
	}
	if j.CreateRef != "" {
		p := filepath.Join(r.GitDir, filepath.FromSlash(j.CreateRef))
		if data, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(data)) == j.CreateAt {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
			}
		}
		os.Remove(p + ".lock")
	}
	if cur, err := os.ReadFile(filepath.Join(r.GitDir, "HEAD")); err == nil && string(cur) != j.HeadBefore {
		if err := os.WriteFile(filepath.Join(r.GitDir, "HEAD"), []byte(j.HeadBefore), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	os.Remove(filepath.Join(r.GitDir, "HEAD.lock"))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	os.Remove(filepath.Join(r.GitDir, "index.lock"))
	return os.RemoveAll(jdir)
}

// Recover finishes or undoes a transaction that a crash interrupted. It
// returns a description of what it did ("" when there was nothing to do).
// The caller must hold the kgen lock.
func Recover(r *Repo) (string, error) {
	jdir := JournalDir(r.GitDir)
	data, err := os.ReadFile(filepath.Join(jdir, "journal.json"))
	if errors.Is(err, os.ErrNotExist) {
		fi, err := os.Stat(jdir)
		if err != nil {
			return "", nil
		}
		// Killed before the journal was written: nothing was touched.
		// An empty index.lock no older than the journal directory is
		// ours (kgen writes it only after the journal exists).
		lock := filepath.Join(r.GitDir, "index.lock")
		if li, err := os.Stat(lock); err == nil && li.Size() == 0 && !li.ModTime().Before(fi.ModTime().Add(-time.Second)) {
			os.Remove(lock)
		}
		return "removed an incomplete journal (nothing had been changed)", os.RemoveAll(jdir)
	}
	if err != nil {
		return "", err
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return "", fmt.Errorf("%s: %v", jdir, err)
	}
	cur, err := os.ReadFile(filepath.Join(r.GitDir, "HEAD"))
	if err != nil {
		return "", err
	}
	if string(cur) == j.HeadAfter && j.HeadAfter != j.HeadBefore {
		sw := Switch{}
		if err := finish(r, &j, sw); err != nil {
			return "", err
		}
		return "completed an interrupted kgen transaction (HEAD had already moved)", nil
	}
	if err := rollback(r, &j); err != nil {
		return "", err
	}
	return "rolled back an interrupted kgen transaction (HEAD, index and work tree are as before it)", nil
}
