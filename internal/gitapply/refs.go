package gitapply

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// RefConflictError says why a branch cannot be created.
type RefConflictError struct {
	Name   string // the branch asked for
	Other  string // the existing ref it clashes with
	Packed bool   // Other is in packed-refs
}

func (e *RefConflictError) Error() string {
	where := "a loose ref"
	if e.Packed {
		where = "in packed-refs"
	}
	if e.Other == e.Name {
		return fmt.Sprintf("%s already exists (%s)", e.Name, where)
	}
	return fmt.Sprintf("%s cannot be created: it clashes with the existing %s (%s); git keeps refs as files, so one ref name cannot also be a directory of others", e.Name, e.Other, where)
}

// CheckRefFormat applies git's check-ref-format rules to a full ref
// name (git-check-ref-format(1)), without --allow-onelevel or
// --refspec-pattern.
func CheckRefFormat(name string) error {
	bad := func(why string) error { return fmt.Errorf("%q is not a valid ref name: %s", name, why) }
	if name == "" {
		return bad("empty")
	}
	if name == "@" {
		return bad(`"@" alone`)
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return bad("empty path component")
	}
	if strings.HasSuffix(name, ".") {
		return bad(`ends with "."`)
	}
	if strings.Contains(name, "..") {
		return bad(`contains ".."`)
	}
	if strings.Contains(name, "@{") {
		return bad(`contains "@{"`)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return bad(fmt.Sprintf("contains %q", r))
		}
	}
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return bad("one level only")
	}
	for _, c := range parts {
		if strings.HasPrefix(c, ".") {
			return bad(`a component starts with "."`)
		}
		if strings.HasSuffix(c, ".lock") {
			return bad(`a component ends with ".lock"`)
		}
	}
	return nil
}

// packedRefs returns the names in CommonDir/packed-refs.
func (r *Repo) packedRefs() (map[string]plumbing.Hash, error) {
	data, err := os.ReadFile(filepath.Join(r.CommonDir, "packed-refs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]plumbing.Hash{}
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || l[0] == '#' || l[0] == '^' {
			continue
		}
		h, n, ok := strings.Cut(l, " ")
		if ok {
			m[n] = plumbing.NewHash(h)
		}
	}
	return m, nil
}

// CheckNewRef checks that the ref name can be created the way git
// would: a valid name, no ref of that name, and no directory/file
// conflict with an existing ref, loose or packed (refs/heads/a when
// refs/heads/a/b exists, or the reverse). It writes nothing.
func (r *Repo) CheckNewRef(name plumbing.ReferenceName) error {
	n := string(name)
	if err := CheckRefFormat(n); err != nil {
		return err
	}
	packed, err := r.packedRefs()
	if err != nil {
		return err
	}
	clash := func(other string) bool {
		return other == n || strings.HasPrefix(other, n+"/") || strings.HasPrefix(n, other+"/")
	}
	var found []*RefConflictError
	for p := range packed {
		if clash(p) {
			found = append(found, &RefConflictError{Name: n, Other: p, Packed: true})
		}
	}
	// Loose refs: every proper prefix of n as a file, and n itself as
	// a file or as a directory holding refs.
	parts := strings.Split(n, "/")
	for i := 2; i <= len(parts); i++ {
		pre := strings.Join(parts[:i], "/")
		fi, err := os.Lstat(filepath.Join(r.CommonDir, filepath.FromSlash(pre)))
		if err != nil {
			break
		}
		if !fi.IsDir() {
			found = append(found, &RefConflictError{Name: n, Other: pre})
			break
		}
		if i == len(parts) {
			filepath.WalkDir(filepath.Join(r.CommonDir, filepath.FromSlash(n)), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") {
					rel, _ := filepath.Rel(r.CommonDir, p)
					found = append(found, &RefConflictError{Name: n, Other: filepath.ToSlash(rel)})
					return filepath.SkipAll
				}
				return nil
			})
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Other < found[j].Other })
	return found[0]
}

// CheckedOutElsewhere returns the work tree (other than r's) that has
// branch checked out, or is rebasing or bisecting on it, as git's
// "is already checked out at" check does; "" when none.
func (r *Repo) CheckedOutElsewhere(branch plumbing.ReferenceName) string {
	type wt struct{ gitDir, workTree string }
	var all []wt
	mainWT := filepath.Dir(r.CommonDir)
	if filepath.Base(r.CommonDir) != ".git" {
		mainWT = r.CommonDir // bare main repository
	}
	all = append(all, wt{r.CommonDir, mainWT})
	ents, _ := os.ReadDir(filepath.Join(r.CommonDir, "worktrees"))
	for _, e := range ents {
		gd := filepath.Join(r.CommonDir, "worktrees", e.Name())
		w := gd
		if data, err := os.ReadFile(filepath.Join(gd, "gitdir")); err == nil {
			w = filepath.Dir(strings.TrimSpace(string(data)))
		}
		all = append(all, wt{gd, w})
	}
	for _, w := range all {
		if filepath.Clean(w.gitDir) == filepath.Clean(r.GitDir) {
			continue
		}
		for _, f := range []string{"HEAD", "rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START"} {
			data, err := os.ReadFile(filepath.Join(w.gitDir, f))
			if err != nil {
				continue
			}
			s := strings.TrimSpace(string(data))
			s = strings.TrimPrefix(s, "ref: ")
			if s == string(branch) || f == "BISECT_START" && "refs/heads/"+s == string(branch) {
				return w.workTree
			}
		}
	}
	return ""
}

// lockFile creates path.lock exclusively, as git does.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path+".lock", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// writeLocked writes data to path as git does: into path.lock, created
// exclusively, then renamed over path. check, when not nil, runs with the
// lock held before the rename; its error leaves path as it was. On any
// error the lock file is removed. locked is false when path.lock could
// not be created (another git holds it, or the directory is not
// writable): err then says why.
func writeLocked(path string, data []byte, check func() error) (locked bool, err error) {
	f, err := lockFile(path)
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check()
	}
	if err == nil {
		err = os.Rename(path+".lock", path)
	}
	if err != nil {
		os.Remove(path + ".lock")
	}
	return true, err
}

// removeEmptyDirs removes dir and the empty directories below it, as
// git does before it writes a ref where an empty directory was left.
func removeEmptyDirs(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			removeEmptyDirs(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir)
}

// writeRef creates the loose ref name at h through a lock file. It fails
// when the ref exists.
func (r *Repo) writeRef(name plumbing.ReferenceName, h plumbing.Hash) error {
	p := filepath.Join(r.CommonDir, filepath.FromSlash(string(name)))
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		removeEmptyDirs(p)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	locked, err := writeLocked(p, []byte(h.String()+"\n"), func() error {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s appeared meanwhile", name)
		}
		return nil
	})
	if !locked {
		return fmt.Errorf("locking %s: %w", name, err)
	}
	return err
}

// deleteRef deletes ref name (loose and packed) if it points at h, as
// "git update-ref -d name h" does: packed-refs is rewritten through
// packed-refs.lock. It is not an error when the ref is already gone.
func (r *Repo) deleteRef(name plumbing.ReferenceName, h plumbing.Hash) error {
	p := filepath.Join(r.CommonDir, filepath.FromSlash(string(name)))
	if data, err := os.ReadFile(p); err == nil {
		if got := strings.TrimSpace(string(data)); got != h.String() {
			return fmt.Errorf("%s is at %s, not %s: not deleting it", name, got, h)
		}
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	pr := filepath.Join(r.CommonDir, "packed-refs")
	data, err := os.ReadFile(pr)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var out bytes.Buffer
	found, skipPeel := false, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if skipPeel && strings.HasPrefix(l, "^") {
			continue
		}
		skipPeel = false
		if hh, n, ok := strings.Cut(l, " "); ok && n == string(name) && l[0] != '#' {
			if hh != h.String() {
				return fmt.Errorf("%s is packed at %s, not %s: not deleting it", name, hh, h)
			}
			found, skipPeel = true, true
			continue
		}
		out.WriteString(l + "\n")
	}
	if !found {
		return nil
	}
	locked, err := writeLocked(pr, out.Bytes(), nil)
	if !locked {
		return fmt.Errorf("locking packed-refs: %w", err)
	}
	return err
}

// Reflog is one reflog entry to append: Ref "HEAD" (the work tree's own)
// or refs/... (shared), in git's format.
type Reflog struct {
	Ref  string `json:"ref"`
	Line string `json:"line"`
}

// ReflogLine formats an entry as git writes it:
// "OLD NEW Name <email> SECONDS +ZZZZ\tmessage\n".
func ReflogLine(old, new plumbing.Hash, who object.Signature, msg string) string {
	when := who.When
	if when.IsZero() {
		when = time.Now()
	}
	_, off := when.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " ")
	return fmt.Sprintf("%s %s %s <%s> %d %c%02d%02d\t%s\n", old, new, who.Name, who.Email, when.Unix(), sign, off/3600, off%3600/60, msg)
}

func (r *Repo) reflogPath(ref string) string {
	if ref == "HEAD" {
		return filepath.Join(r.GitDir, "logs", "HEAD")
	}
	return filepath.Join(r.CommonDir, "logs", filepath.FromSlash(ref))
}

// appendReflog appends l unless the log already ends with it (recovery
// may run finish twice). Logs are written as git's core.logAllRefUpdates
// says: by default for HEAD and refs/heads/ in a non-bare repository;
// with false only to logs that exist.
func (r *Repo) appendReflog(l Reflog) error {
	p := r.reflogPath(l.Ref)
	data, err := os.ReadFile(p)
	if err == nil && bytes.HasSuffix(data, []byte(l.Line)) {
		return nil
	}
	if err != nil {
		v, _ := r.Config.Get("core", "", "logAllRefUpdates")
		if strings.EqualFold(v, "false") {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(l.Line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
