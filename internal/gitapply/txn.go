package gitapply

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/kdefer/kdefer/internal/gitobj"
)

// Switch describes a move of HEAD, index and work tree.
type Switch struct {
	// From is HEAD's commit (checked against the repository).
	From plumbing.Hash
	// To is the commit to check out.
	To plumbing.Hash
	// Branch is the ref HEAD will name (refs/heads/...).
	Branch plumbing.ReferenceName
	// Create creates Branch at To (it must not exist, and must not
	// clash with an existing ref).
	Create bool
	// Delete deletes this ref (which must point at DeleteAt) once HEAD
	// has moved away from it.
	Delete   plumbing.ReferenceName
	DeleteAt plumbing.Hash
	// Message is HEAD's reflog message ("checkout: moving from A to B").
	Message string
	// CreateMessage is the reflog message of a created branch.
	CreateMessage string
	// Committer is the identity of the reflog entries.
	Committer object.Signature
	// Command is the kgen command that runs the switch (for messages
	// about an interrupted transaction).
	Command string
}

// DirtyError lists changed paths that are not clean.
type DirtyError struct{ Paths []string }

func listPaths(paths []string) string {
	n := len(paths)
	list := paths
	if n > 8 {
		list = list[:8]
	}
	s := strings.Join(list, ", ")
	if n > 8 {
		s += fmt.Sprintf(" and %d more", n-8)
	}
	return s
}

func (e *DirtyError) Error() string {
	return fmt.Sprintf("local changes in %d file(s) that would be overwritten: %s", len(e.Paths), listPaths(e.Paths))
}

// CheckedOutError: the branch to check out is checked out in another
// work tree (git: "'main' is already checked out at ...").
type CheckedOutError struct{ Branch, WorkTree string }

func (e *CheckedOutError) Error() string {
	return fmt.Sprintf("branch %s is already checked out at %s; git allows a branch in one work tree only", plumbing.ReferenceName(e.Branch).Short(), e.WorkTree)
}

// ErrUnmerged is returned for an index with unmerged entries.
var ErrUnmerged = errors.New("the index has unmerged entries (a merge, am or rebase is in progress)")

// pathPlan is what happens to one changed path.
type pathPlan struct {
	before   string // work tree state before (wtState)
	after    string // work tree state kgen writes
	content  []byte // what kgen writes (converted for the work tree)
	oldEntry bool
}

// Plan is a checked Switch, ready to execute.
type Plan struct {
	r       *Repo
	objs    storer.EncodedObjectStorer
	sw      Switch
	head    HeadState
	Changes []Change
	paths   []pathPlan
	idx     *rawIndex
	newIdx  []byte
}

// wtState describes a work tree path exactly: "" absent, "f:ID"
// (regular), "x:ID" (executable), "l:ID" (symlink), where ID is the
// blob id of the raw bytes (no conversion); "d" a directory or other.
func wtState(full string) (string, []byte, error) {
	fi, err := os.Lstat(full)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		t, err := os.Readlink(full)
		if err != nil {
			return "", nil, err
		}
		return "l:" + plumbing.ComputeHash(plumbing.BlobObject, []byte(t)).String(), []byte(t), nil
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(full)
		if err != nil {
			return "", nil, err
		}
		k := "f:"
		if fi.Mode()&0o111 != 0 {
			k = "x:"
		}
		return k + plumbing.ComputeHash(plumbing.BlobObject, data).String(), data, nil
	}
	return "d", nil, nil
}

func stateFor(mode filemode.FileMode, data []byte) string {
	k := "f:"
	switch mode {
	case filemode.Executable:
		k = "x:"
	case filemode.Symlink:
		k = "l:"
	}
	return k + plumbing.ComputeHash(plumbing.BlobObject, data).String()
}

// Prepare computes the changed paths and checks, as git checkout and git
// am would, that the switch may run: no git operation in progress, the
// branch name free and clean of directory/file conflicts, the branch
// not checked out in another work tree, and every changed path clean.
// It writes nothing. objs holds the objects (a gitobj.Overlay, or r.Objects).
func Prepare(r *Repo, objs storer.EncodedObjectStorer, sw Switch) (*Plan, error) {
	if ip := r.InProgress(); ip != nil {
		return nil, ip
	}
	head, err := r.Head()
	if err != nil {
		return nil, fmt.Errorf("reading HEAD: %w", err)
	}
	if head.Commit != sw.From {
		return nil, fmt.Errorf("HEAD is %s, expected %s", head.Commit, sw.From)
	}
	if sw.Create {
		if err := r.CheckNewRef(sw.Branch); err != nil {
			return nil, err
		}
	} else if wt := r.CheckedOutElsewhere(sw.Branch); wt != "" {
		return nil, &CheckedOutError{string(sw.Branch), wt}
	}
	treeOf := func(c plumbing.Hash) (plumbing.Hash, error) {
		if c.IsZero() {
			return plumbing.ZeroHash, nil
		}
		co, err := object.GetCommit(objs, c)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("commit %s: %w", c, err)
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
	p := &Plan{r: r, objs: objs, sw: sw, head: head, Changes: changes, idx: idx}
	ck := newChecker(r, objs, idx)
	var dirty []string
	for _, c := range changes {
		ok, before, err := ck.clean(c)
		if err != nil {
			return nil, err
		}
		if !ok {
			dirty = append(dirty, c.Path)
			continue
		}
		pp := pathPlan{before: before, oldEntry: !c.OldHash.IsZero()}
		if !c.NewHash.IsZero() {
			blob, err := gitobj.BlobBytes(objs, c.NewHash)
			if err != nil {
				return nil, err
			}
			if c.NewMode == filemode.Symlink {
				pp.content = blob
			} else if pp.content, err = ck.attrs.convFor(c.Path).toWorkTree(blob); err != nil {
				return nil, err
			}
			pp.after = stateFor(c.NewMode, pp.content)
		}
		p.paths = append(p.paths, pp)
	}
	if len(dirty) > 0 {
		return nil, &DirtyError{dirty}
	}
	return p, nil
}

// checker decides whether a path is clean the way git does: the index
// entry first (its blob and mode must be HEAD's), then its stat data
// (a match that is not racy means clean, as for git), then the work
// tree content after the clean conversion (filters, end of line), with
// core.fileMode and core.trustctime honoured.
type checker struct {
	r         *Repo
	objs      storer.EncodedObjectStorer
	idx       *rawIndex
	attrs     *attrReader
	fileMode  bool
	trustCtim bool
}

func newChecker(r *Repo, objs storer.EncodedObjectStorer, idx *rawIndex) *checker {
	return &checker{r: r, objs: objs, idx: idx, attrs: newAttrReader(r),
		fileMode: r.Config.Bool("core", "fileMode", true), trustCtim: r.Config.Bool("core", "trustctime", true)}
}

// clean reports whether c.Path holds c's old content in index and work
// tree, and the path's work tree state.
func (ck *checker) clean(c Change) (bool, string, error) {
	full := filepath.Join(ck.r.WorkTree, filepath.FromSlash(c.Path))
	st, data, err := wtState(full)
	if err != nil {
		return false, "", err
	}
	if c.OldHash.IsZero() {
		// git checkout: an untracked file there would be overwritten.
		return !ck.idx.hasAny(c.Path) && st == "", st, nil
	}
	ih, im, ok := ck.idx.lookup(c.Path)
	if !ok || ih != c.OldHash || im != c.OldMode {
		return false, st, nil
	}
	if st == "" || st == "d" {
		return false, st, nil
	}
	if (st[0] == 'l') != (c.OldMode == filemode.Symlink) {
		return false, st, nil
	}
	is, _ := ck.idx.stat(c.Path)
	if is.assumeValid || is.skipWorktree {
		return true, st, nil
	}
	if ck.fileMode && c.OldMode != filemode.Symlink && (st[0] == 'x') != (c.OldMode == filemode.Executable) {
		return false, st, nil
	}
	if fi, err := os.Lstat(full); err == nil && ck.statMatches(is, fi) {
		return true, st, nil
	}
	if c.OldMode == filemode.Symlink {
		return plumbing.ComputeHash(plumbing.BlobObject, data) == c.OldHash, st, nil
	}
	cv := ck.attrs.convFor(c.Path)
	var indexBlob []byte
	if cv.auto() && bytes.Contains(data, []byte("\r\n")) {
		if indexBlob, err = gitobj.BlobBytes(ck.objs, c.OldHash); err != nil {
			return false, st, err
		}
	}
	clean, err := cv.toGit(data, indexBlob)
	if err != nil {
		return false, st, err
	}
	return plumbing.ComputeHash(plumbing.BlobObject, clean) == c.OldHash, st, nil
}

// statMatches is git's ie_match_stat fast path: the entry's stat data
// equal the file's, and the entry is not racily clean (written in the
// same second as, or after, the index).
func (ck *checker) statMatches(is idxStat, fi os.FileInfo) bool {
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	if is.size != uint32(fi.Size()) || is.mtimeS != uint32(sys.Mtim.Sec) || is.mtimeNS != uint32(sys.Mtim.Nsec) ||
		is.ino != uint32(sys.Ino) || is.uid != sys.Uid || is.gid != sys.Gid {
		return false
	}
	if ck.trustCtim && (is.ctimeS != uint32(sys.Ctim.Sec) || is.ctimeNS != uint32(sys.Ctim.Nsec)) {
		return false
	}
	if ck.idx.mtime.IsZero() {
		return false
	}
	im := ck.idx.mtime
	if int64(is.mtimeS) > im.Unix() || int64(is.mtimeS) == im.Unix() && int64(is.mtimeNS) >= int64(im.Nanosecond()) {
		return false // racy
	}
	return true
}

// ReadIndex decodes .git/index (an empty index when there is none).
func ReadIndex(gitDir string) (*index.Index, error) {
	return readIndexFile(filepath.Join(gitDir, "index"))
}

func readIndexFile(p string) (*index.Index, error) {
	idx := &index.Index{Version: 2}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := index.NewDecoder(bytes.NewReader(data)).Decode(idx); err != nil {
		return nil, fmt.Errorf("reading %s: %w (split or sparse indexes are not supported)", p, err)
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

// journal is the on-disk record of a transaction: enough to prove, path
// by path, what recovery may overwrite.
type journal struct {
	Command    string    `json:"command"`
	HeadBefore string    `json:"head_before"`
	HeadAfter  string    `json:"head_after"`
	CreateRef  string    `json:"create_ref,omitempty"`
	CreateAt   string    `json:"create_at,omitempty"`
	DeleteRef  string    `json:"delete_ref,omitempty"`
	DeleteAt   string    `json:"delete_at,omitempty"`
	LockDev    uint64    `json:"index_lock_dev"`
	LockIno    uint64    `json:"index_lock_ino"`
	Entries    []jentry  `json:"entries"`
	Dirs       []string  `json:"dirs_created,omitempty"`
	Reflogs    []Reflog  `json:"reflogs,omitempty"`
	Started    time.Time `json:"started"`
}

// jentry is one path: the blobs and modes of its index entry before and
// after, and the exact work tree state before and after (see wtState).
type jentry struct {
	Path    string `json:"path"`
	OldBlob string `json:"old_blob,omitempty"`
	OldMode uint32 `json:"old_mode,omitempty"`
	NewBlob string `json:"new_blob,omitempty"`
	NewMode uint32 `json:"new_mode,omitempty"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Backup  string `json:"backup,omitempty"`
	Staged  string `json:"staged,omitempty"` // "" for a removal
}

// JournalDir is where a running or crashed transaction keeps its journal.
func JournalDir(gitDir string) string { return filepath.Join(gitDir, "kgen-journal") }

// Hook, when set, is called at named points of Execute (tests use it to
// inject failures); a non-nil error aborts the transaction there. The
// points: locked, journal, staged, worktree, index, ref, head,
// committed, installed.
var Hook func(point string) error

func hook(p string) error {
	if Hook != nil {
		return Hook(p)
	}
	return nil
}

func fileID(fi os.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// Execute performs the plan as described in the package documentation.
// On error everything is restored before it returns.
func (p *Plan) Execute() (err error) {
	r := p.r
	jdir := JournalDir(r.GitDir)
	if _, err := os.Stat(jdir); err == nil {
		return &PendingError{Dir: jdir, WorkTree: r.WorkTree}
	}
	if err := os.MkdirAll(jdir, 0o755); err != nil {
		return err
	}
	idxLock := filepath.Join(r.GitDir, "index.lock")
	lf, err := os.OpenFile(idxLock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		os.RemoveAll(jdir)
		if errors.Is(err, os.ErrExist) {
			return &IndexLockedError{Path: idxLock, WorkTree: r.WorkTree}
		}
		return err
	}
	lfi, err := lf.Stat()
	if err != nil {
		lf.Close()
		os.Remove(idxLock)
		os.RemoveAll(jdir)
		return err
	}
	if err := hook("locked"); err != nil {
		lf.Close()
		os.Remove(idxLock)
		os.RemoveAll(jdir)
		return err
	}
	// Objects next: harmless, nothing refers to them yet.
	if o, ok := p.objs.(*gitobj.Overlay); ok {
		if err := o.Flush(); err != nil {
			lf.Close()
			os.Remove(idxLock)
			os.RemoveAll(jdir)
			return fmt.Errorf("writing objects: %w", err)
		}
	}
	j := &journal{Command: p.sw.Command, HeadBefore: p.head.Raw, HeadAfter: "ref: " + string(p.sw.Branch) + "\n", Started: time.Now()}
	j.LockDev, j.LockIno = fileID(lfi)
	if p.sw.Create {
		j.CreateRef, j.CreateAt = string(p.sw.Branch), p.sw.To.String()
		msg := p.sw.CreateMessage
		if msg == "" {
			msg = "branch: Created from " + p.sw.To.String()
		}
		j.Reflogs = append(j.Reflogs, Reflog{Ref: j.CreateRef, Line: ReflogLine(plumbing.ZeroHash, p.sw.To, p.sw.Committer, msg)})
	}
	if p.sw.Delete != "" {
		j.DeleteRef, j.DeleteAt = string(p.sw.Delete), p.sw.DeleteAt.String()
	}
	if p.sw.Message != "" {
		j.Reflogs = append(j.Reflogs, Reflog{Ref: "HEAD", Line: ReflogLine(p.sw.From, p.sw.To, p.sw.Committer, p.sw.Message)})
	}
	for i, c := range p.Changes {
		e := jentry{Path: c.Path, Before: p.paths[i].before, After: p.paths[i].after}
		if !c.OldHash.IsZero() {
			e.OldBlob, e.OldMode = c.OldHash.String(), uint32(c.OldMode)
		}
		if !c.NewHash.IsZero() {
			e.NewBlob, e.NewMode = c.NewHash.String(), uint32(c.NewMode)
			e.Staged = fmt.Sprintf("new/%d", i)
		}
		if e.Before != "" {
			e.Backup = fmt.Sprintf("old/%d", i)
		}
		j.Entries = append(j.Entries, e)
	}
	j.Dirs = p.missingDirs()
	committed := false
	defer func() {
		if err != nil && !committed {
			lf.Close()
			if _, _, rerr := rollback(r, j, false); rerr != nil {
				err = fmt.Errorf("%v; restoring failed too: %v (the journal in %s is kept; run kgen recover %s)", err, rerr, jdir, r.WorkTree)
			}
		}
	}()
	if err = writeJournal(jdir, j); err != nil {
		return err
	}
	if err = hook("journal"); err != nil {
		return err
	}
	for _, d := range []string{"new", "old"} {
		if err = os.MkdirAll(filepath.Join(jdir, d), 0o755); err != nil {
			return err
		}
	}
	// Stage new contents and link backups.
	for i, c := range p.Changes {
		e := j.Entries[i]
		if e.Staged != "" {
			if err = stage(filepath.Join(jdir, e.Staged), p.paths[i].content, c.NewMode); err != nil {
				return fmt.Errorf("staging %s: %w", c.Path, err)
			}
		}
		if e.Backup != "" {
			if err = os.Link(filepath.Join(r.WorkTree, c.Path), filepath.Join(jdir, e.Backup)); err != nil {
				return fmt.Errorf("backing up %s: %w", c.Path, err)
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
			return fmt.Errorf("updating %s: %w", c.Path, err)
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
		return fmt.Errorf("writing index: %w", err)
	}
	if err = lf.Close(); err != nil {
		return err
	}
	if err = hook("index"); err != nil {
		return err
	}
	if p.sw.Create {
		if err = r.writeRef(p.sw.Branch, p.sw.To); err != nil {
			return err
		}
	}
	if err = hook("ref"); err != nil {
		return err
	}
	hl, err := lockFile(filepath.Join(r.GitDir, "HEAD"))
	if err != nil {
		return fmt.Errorf("locking HEAD: %w", err)
	}
	_, err = hl.WriteString(j.HeadAfter)
	if cerr := hl.Close(); err == nil {
		err = cerr
	}
	if err != nil {
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
	_, err = finish(r, j, false)
	return err
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

// indexEntry makes the index entry of a path from its work tree file
// (stat data zeroed, so that git re-reads the file, when it is not
// what kgen wrote).
func indexEntry(workTree, p string, h plumbing.Hash, mode filemode.FileMode, statOK bool) *index.Entry {
	e := &index.Entry{Name: p, Hash: h, Mode: mode}
	if !statOK {
		return e
	}
	fi, err := os.Lstat(filepath.Join(workTree, filepath.FromSlash(p)))
	if err != nil {
		return e
	}
	e.Size, e.ModifiedAt = uint32(fi.Size()), fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.CreatedAt = time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
		e.Dev, e.Inode = uint32(st.Dev), uint32(st.Ino)
		e.UID, e.GID = st.Uid, st.Gid
	}
	return e
}

func (p *Plan) updateIndex() error {
	var set []*index.Entry
	del := map[string]bool{}
	for _, c := range p.Changes {
		if c.NewHash.IsZero() {
			del[c.Path] = true
			continue
		}
		set = append(set, indexEntry(p.r.WorkTree, c.Path, c.NewHash, c.NewMode, true))
	}
	b, err := p.idx.encode(set, del)
	if err != nil {
		return err
	}
	p.newIdx = b
	return nil
}

// stage writes content to dst as git checkout would write the file.
func stage(dst string, content []byte, mode filemode.FileMode) error {
	if mode == filemode.Symlink {
		return os.Symlink(string(content), dst)
	}
	perm := os.FileMode(0o644)
	if mode == filemode.Executable {
		perm = 0o755
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
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
