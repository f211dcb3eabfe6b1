package gitapply

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// PendingError: an interrupted transaction's journal exists. Read-only
// commands report it; kgen recover (or kgen apply and drop, which
// recover first) finishes it.
type PendingError struct {
	Dir, WorkTree, Command string
}

func (e *PendingError) Error() string {
	what := "a kgen transaction"
	if e.Command != "" {
		what = "a " + e.Command
	}
	return fmt.Sprintf("%s was interrupted in %s (journal %s); kgen recover %s finishes or undoes it (kgen apply and kgen drop do so first)", what, e.WorkTree, e.Dir, e.WorkTree)
}

// ConflictError: recovery would overwrite changes it did not make.
// Nothing was written.
type ConflictError struct {
	Paths   []string
	Forward bool // HEAD had moved: the index is what would be overwritten
	Dir     string
}

func (e *ConflictError) Error() string {
	if e.Forward {
		return fmt.Sprintf("an interrupted kgen transaction cannot be completed without overwriting index entries changed since (git add?) in: %s; nothing was written (journal %s)", listPaths(e.Paths), e.Dir)
	}
	return fmt.Sprintf("an interrupted kgen transaction cannot be undone without overwriting changes made since to: %s; nothing was written (journal %s)", listPaths(e.Paths), e.Dir)
}

// LockError: index.lock belongs to another process.
type LockError struct{ Path string }

func (e *LockError) Error() string {
	return fmt.Sprintf("%s exists and is not kgen's: another git process seems to be running (remove the file if none is)", e.Path)
}

// Is makes a LockError an ErrIndexLocked.
func (e *LockError) Is(target error) bool { return target == ErrIndexLocked }

// ErrIndexLocked: .git/index.lock is held by another process, so kgen
// cannot take it (IndexLockedError, LockError).
var ErrIndexLocked = errors.New("index.lock is held by another process")

// IndexLockedError: Execute found .git/index.lock already there.
type IndexLockedError struct{ Path, WorkTree string }

func (e *IndexLockedError) Error() string {
	return fmt.Sprintf("%s exists: another git process seems to be running in %s (remove the file if none is)", e.Path, e.WorkTree)
}

// Is makes an IndexLockedError an ErrIndexLocked.
func (e *IndexLockedError) Is(target error) bool { return target == ErrIndexLocked }

// Pending returns the journal of an interrupted transaction (nil when
// there is none) without changing anything.
func Pending(r *Repo) *PendingError {
	jdir := JournalDir(r.GitDir)
	if _, err := os.Stat(jdir); err != nil {
		return nil
	}
	pe := &PendingError{Dir: jdir, WorkTree: r.WorkTree}
	if data, err := os.ReadFile(filepath.Join(jdir, "journal.json")); err == nil {
		var j journal
		if json.Unmarshal(data, &j) == nil {
			pe.Command = j.Command
		}
	}
	return pe
}

// ownLock reports whether index.lock is the one the journal's
// transaction created (same file), and whether one exists at all.
func ownLock(r *Repo, j *journal) (own, exists bool) {
	fi, err := os.Lstat(filepath.Join(r.GitDir, "index.lock"))
	if err != nil {
		return false, false
	}
	dev, ino := fileID(fi)
	return dev == j.LockDev && ino == j.LockIno, true
}

// matchesBefore: the path holds the state the journal saw before, or
// content git considers clean against the old blob.
func matchesBefore(r *Repo, ck *checker, e jentry, st string, data []byte) bool {
	if st == e.Before {
		return true
	}
	if e.OldBlob == "" || st == "" || st == "d" {
		return false
	}
	mode := filemode.FileMode(e.OldMode)
	if (st[0] == 'l') != (mode == filemode.Symlink) {
		return false
	}
	if ck.fileMode && mode != filemode.Symlink && (st[0] == 'x') != (mode == filemode.Executable) {
		return false
	}
	old := plumbing.NewHash(e.OldBlob)
	if mode == filemode.Symlink {
		return plumbing.ComputeHash(plumbing.BlobObject, data) == old
	}
	clean, err := ck.attrs.convFor(e.Path).toGit(data, nil)
	return err == nil && plumbing.ComputeHash(plumbing.BlobObject, clean) == old
}

// rollback undoes an unfinished transaction. Every path is checked
// first: a path that holds neither the state before nor the state kgen
// wrote was changed by someone else, and rollback refuses (writing
// nothing) — unless keep is set, when such paths are left as they are
// and their backups are kept in a directory it returns.
func rollback(r *Repo, j *journal, keep bool) (kept string, conflicts []string, err error) {
	jdir := JournalDir(r.GitDir)
	ck := newChecker(r, r.Objects, &rawIndex{})
	own, exists := ownLock(r, j)
	if exists && !own {
		return "", nil, &LockError{filepath.Join(r.GitDir, "index.lock")}
	}
	type act int
	const (
		leave act = iota
		restore
		remove
	)
	acts := make([]act, len(j.Entries))
	for i, e := range j.Entries {
		dst := filepath.Join(r.WorkTree, filepath.FromSlash(e.Path))
		st, data, err := wtState(dst)
		if err != nil {
			return "", nil, err
		}
		switch {
		case matchesBefore(r, ck, e, st, data):
			acts[i] = leave
		case st == e.After && e.Before == "":
			acts[i] = remove
		case st == e.After:
			b := filepath.Join(jdir, e.Backup)
			bst, _, err := wtState(b)
			if err != nil || bst != e.Before {
				// The backup was changed through its hard link before
				// the rename: the user's edit lives there.
				conflicts = append(conflicts, e.Path)
				continue
			}
			acts[i] = restore
		default:
			conflicts = append(conflicts, e.Path)
			acts[i] = leave
		}
	}
	if len(conflicts) > 0 && !keep {
		return "", conflicts, &ConflictError{Paths: conflicts, Dir: jdir}
	}
	var errs []error
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		dst := filepath.Join(r.WorkTree, filepath.FromSlash(e.Path))
		switch acts[i] {
		case restore:
			if err := os.Rename(filepath.Join(jdir, e.Backup), dst); err != nil {
				errs = append(errs, err)
			}
		case remove:
			if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	for i := len(j.Dirs) - 1; i >= 0; i-- {
		os.Remove(filepath.Join(r.WorkTree, j.Dirs[i])) // only if empty
	}
	if j.CreateRef != "" {
		p := filepath.Join(r.CommonDir, filepath.FromSlash(j.CreateRef))
		if data, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(data)) == j.CreateAt {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
			}
		}
		if data, err := os.ReadFile(p + ".lock"); err == nil && strings.TrimSpace(string(data)) == j.CreateAt {
			os.Remove(p + ".lock")
		}
	}
	if cur, err := os.ReadFile(filepath.Join(r.GitDir, "HEAD")); err == nil && string(cur) != j.HeadBefore && string(cur) == j.HeadAfter {
		if err := os.WriteFile(filepath.Join(r.GitDir, "HEAD"), []byte(j.HeadBefore), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(r.GitDir, "HEAD.lock")); err == nil && string(data) == j.HeadAfter {
		os.Remove(filepath.Join(r.GitDir, "HEAD.lock"))
	}
	if err := errors.Join(errs...); err != nil {
		return "", conflicts, err
	}
	if own {
		os.Remove(filepath.Join(r.GitDir, "index.lock"))
	}
	if len(conflicts) > 0 {
		kept = fmt.Sprintf("%s-kept-%d", jdir, time.Now().Unix())
		if err := os.Rename(jdir, kept); err != nil {
			return "", conflicts, err
		}
		return kept, conflicts, nil
	}
	return "", nil, os.RemoveAll(jdir)
}

// finish completes a committed transaction (also after a crash). The
// work tree is not written: HEAD has moved and the files are the new
// ones, or ones the user changed since, which stay. The index is the
// one kgen wrote (index.lock, when still there) or, when the user
// removed that lock, the current index with the journal's entries set
// — refused, unless keep, for an entry the user changed since.
func finish(r *Repo, j *journal, keep bool) ([]string, error) {
	lock := filepath.Join(r.GitDir, "index.lock")
	own, exists := ownLock(r, j)
	var changed []string
	switch {
	case own:
		if err := os.Rename(lock, filepath.Join(r.GitDir, "index")); err != nil {
			return nil, fmt.Errorf("installing the new index: %w", err)
		}
	case exists:
		return nil, &LockError{lock}
	default:
		if err := resplice(r, j, keep); err != nil {
			return nil, err
		}
	}
	if err := hook("installed"); err != nil {
		return nil, err
	}
	if j.DeleteRef != "" {
		name := plumbing.ReferenceName(j.DeleteRef)
		if err := r.deleteRef(name, plumbing.NewHash(j.DeleteAt)); err != nil {
			return nil, fmt.Errorf("deleting %s: %w", name, err)
		}
		lp := r.reflogPath(j.DeleteRef)
		os.Remove(lp)
		for d := filepath.Dir(lp); d != filepath.Join(r.CommonDir, "logs", "refs", "heads"); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
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
	for _, l := range j.Reflogs {
		if err := r.appendReflog(l); err != nil {
			return nil, fmt.Errorf("writing the reflog of %s: %w", l.Ref, err)
		}
	}
	for _, e := range j.Entries {
		if st, _, err := wtState(filepath.Join(r.WorkTree, filepath.FromSlash(e.Path))); err == nil && st != e.After {
			changed = append(changed, e.Path)
		}
	}
	return changed, os.RemoveAll(JournalDir(r.GitDir))
}

// resplice sets the journal's new entries in the current index (the
// user removed index.lock after the crash).
func resplice(r *Repo, j *journal, keep bool) error {
	idx, err := readRawIndex(r.GitDir)
	if err != nil {
		return err
	}
	var set []*index.Entry
	del := map[string]bool{}
	var conflicts []string
	for _, e := range j.Entries {
		h, m, ok := idx.lookup(e.Path)
		isNew := e.NewBlob == "" && !ok || ok && h.String() == e.NewBlob && uint32(m) == e.NewMode
		isOld := e.OldBlob == "" && !ok || ok && h.String() == e.OldBlob && uint32(m) == e.OldMode
		switch {
		case isNew:
		case isOld && e.NewBlob == "":
			del[e.Path] = true
		case isOld:
			st, _, _ := wtState(filepath.Join(r.WorkTree, filepath.FromSlash(e.Path)))
			set = append(set, indexEntry(r.WorkTree, e.Path, plumbing.NewHash(e.NewBlob), filemode.FileMode(e.NewMode), st == e.After))
		default:
			conflicts = append(conflicts, e.Path)
		}
	}
	if len(conflicts) > 0 && !keep {
		return &ConflictError{Paths: conflicts, Forward: true, Dir: JournalDir(r.GitDir)}
	}
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	b, err := idx.encode(set, del)
	if err != nil {
		return err
	}
	p := filepath.Join(r.GitDir, "index")
	locked, err := writeLocked(p, b, nil)
	if !locked {
		return &LockError{p + ".lock"}
	}
	return err
}

// Recover finishes or undoes a transaction that a crash interrupted. It
// returns a description of what it did ("" when there was nothing to
// do). It never writes over a change it did not make: see rollback and
// finish; with keep, such changes are kept and the rest is recovered.
// The caller must hold the kgen lock.
func Recover(r *Repo, keep bool) (string, error) {
	jdir := JournalDir(r.GitDir)
	data, err := os.ReadFile(filepath.Join(jdir, "journal.json"))
	if errors.Is(err, os.ErrNotExist) {
		fi, err := os.Stat(jdir)
		if err != nil {
			return "", nil
		}
		// Killed before the journal was written: nothing was touched.
		// An empty index.lock no older than the journal directory is
		// ours (kgen creates it right after the directory).
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
		return "", fmt.Errorf("%s: %w", jdir, err)
	}
	cur, err := os.ReadFile(filepath.Join(r.GitDir, "HEAD"))
	if err != nil {
		return "", err
	}
	what := "an interrupted kgen transaction"
	if j.Command != "" {
		what = "an interrupted " + j.Command
	}
	switch string(cur) {
	case j.HeadAfter:
		changed, err := finish(r, &j, keep)
		if err != nil {
			return "", err
		}
		msg := "completed " + what + " (HEAD had already moved)"
		if len(changed) > 0 {
			msg += "; your changes made since to " + listPaths(changed) + " are kept"
		}
		return msg, nil
	case j.HeadBefore:
		kept, conflicts, err := rollback(r, &j, keep)
		if err != nil {
			return "", err
		}
		msg := "rolled back " + what + " (HEAD, index and work tree are as before it)"
		if kept != "" {
			msg = "rolled back " + what + " except for the files you changed since, which are kept as they are: " + listPaths(conflicts) + "; kgen's backups are in " + kept
		}
		return msg, nil
	}
	return "", fmt.Errorf("%s left a journal in %s, but HEAD (%s) is now neither what it was before (%s) nor after (%s): something moved it since; look at the journal and remove it", what, jdir, strings.TrimSpace(string(cur)), strings.TrimSpace(j.HeadBefore), strings.TrimSpace(j.HeadAfter))
}
