package kerneltree

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/kdefer/kdefer/internal/flock"
	"github.com/kdefer/kdefer/internal/proc"
)

// Meta describes a cached tree; it is kept in trees/.meta/<release>.json.
type Meta struct {
	Release       string `json:"release"`        // "6.12.117"
	Package       string `json:"package"`        // "linux-source-6.12"
	DebianVersion string `json:"debian_version"` // "6.12.117-1~deb12u1"
	Files         int    `json:"files"`          // what git tracks
	Bytes         int64  `json:"bytes"`
	MakefileMtime int64  `json:"makefile_mtime"` // baseline commit date
	Baseline      string `json:"baseline,omitempty"`
	Source        string `json:"source,omitempty"` // where apt found it
}

// Tree is one cached tree as listed by List.
type Tree struct {
	Path string
	Meta
	Git bool
}

func noProgress(string, ...any) {}

func get(ctx context.Context, o Options) (string, error) {
	req, err := ParseRequest(o.Version)
	if err != nil {
		return "", err
	}
	progress := o.Progress
	if progress == nil {
		progress = noProgress
	}
	cache := o.CacheDir
	if cache == "" {
		cache = CacheDir()
	}
	trees := filepath.Join(cache, "trees")
	// Fast path without the lock: a versioned directory is only ever
	// created complete, by a rename.
	if !o.Refresh && o.Deb == "" {
		if p := findCached(trees, req); p != "" && (!o.Git || isGitTree(p)) {
			return p, nil
		}
	}
	if err := os.MkdirAll(filepath.Join(trees, ".meta"), 0o755); err != nil {
		return "", fmt.Errorf("creating the tree cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(trees, ".lock"), progress)
	if err != nil {
		return "", err
	}
	defer unlock()
	cleanStale(trees, progress)

	if !o.Refresh && o.Deb == "" {
		if p := findCached(trees, req); p != "" {
			return p, ensureGit(ctx, o.Git, p, trees, progress)
		}
	}

	deb := o.Deb
	var pv pkgVersion
	if deb != "" {
		pv, err = debInfo(ctx, deb)
		if err != nil {
			return "", err
		}
		if !req.Matches(pv.Release()) {
			return "", fmt.Errorf("%s is %s %s, which is not version %s", deb, pv.Package, pv.Version, req)
		}
	} else {
		var src *apt
		pv, src, err = resolve(ctx, req, cache, o, progress)
		if err != nil {
			return "", err
		}
		release := pv.Release()
		if p := filepath.Join(trees, release); dirExists(p) {
			return p, ensureGit(ctx, o.Git, p, trees, progress)
		}
		debs := filepath.Join(cache, "debs")
		if err := os.MkdirAll(debs, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", debs, err)
		}
		deb = filepath.Join(debs, filepath.Base(pv.Filename))
		if st, err := os.Stat(deb); err == nil && st.Size() == pv.Size {
			progress("using the downloaded %s", deb)
		} else {
			if err := checkSpace(debs, pv.Size+(64<<20)); err != nil {
				return "", err
			}
			progress("downloading %s %s (%s) from %s", pv.Package, pv.Version, mb(pv.Size), src.name)
			if deb, err = src.download(ctx, pv, debs, progress); err != nil {
				return "", err
			}
		}
	}
	release := pv.Release()
	target := filepath.Join(trees, release)
	if dirExists(target) {
		return target, ensureGit(ctx, o.Git, target, trees, progress)
	}
	if st, err := os.Stat(deb); err == nil {
		// The unpacked tree is about ten times the compressed tarball.
		if err := checkSpace(trees, st.Size()*11); err != nil {
			return "", err
		}
	}
	tmp := filepath.Join(trees, ".partial-"+release)
	os.RemoveAll(tmp)
	progress("extracting %s into %s", filepath.Base(deb), target)
	res, err := extractDeb(ctx, deb, tmp, progress)
	if err != nil {
		progress("removing the partial tree %s", tmp)
		os.RemoveAll(tmp)
		if de := (*DamagedDebError)(nil); errors.As(err, &de) && o.Deb == "" {
			os.Remove(deb) // a damaged download: fetch it again next time
		}
		return "", err
	}
	if err := checkMakefile(tmp, release); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	m := Meta{Release: release, Package: pv.Package, DebianVersion: pv.Version,
		Files: res.Files, Bytes: res.Bytes, MakefileMtime: res.MakefileMtime}
	if err := writeMeta(trees, m); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("moving the tree into place: %w", err)
	}
	if o.Deb == "" {
		os.Remove(deb) // the tree is what we keep; the package can be fetched again
	}
	return target, ensureGit(ctx, o.Git, target, trees, progress)
}

// resolve finds the package version for req among the machine's apt
// sources and every suite in Suites (private apt states under the cache):
// the newest matching release, a final release before a release candidate,
// the machine's own sources first among equals.
func resolve(ctx context.Context, req Request, cache string, o Options, progress func(string, ...any)) (pkgVersion, *apt, error) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return pkgVersion{}, nil, errors.New("apt-get is not installed: kernel trees come from Debian's linux-source packages (see kcheck doctor)")
	}
	var offers []Offer
	if o.AptEtc == "" {
		sys := systemApt()
		vs, err := sys.candidates(ctx, req)
		if err != nil {
			return pkgVersion{}, nil, err
		}
		for _, v := range vs {
			offers = append(offers, Offer{pkgVersion: v, src: sys})
		}
	}
	more, serrs, err := available(ctx, cache, o, req, progress)
	if err != nil && len(offers) == 0 {
		return pkgVersion{}, nil, err
	}
	if err != nil {
		progress("warning: %v; using the machine's apt sources only", err)
	}
	for _, e := range serrs {
		progress("warning: could not ask Debian %s: %v", e.Suite, e.Err)
	}
	offers = append(offers, more...)
	best, ok := pick(offers, req)
	if !ok {
		what := "linux-source-" + req.String()
		if req.Minor < 0 {
			what = fmt.Sprintf("linux-source-%d.*", req.Major)
		}
		if req.Patch >= 0 || req.Pre != "" {
			what = fmt.Sprintf("%s at upstream release %s", req.Package(), req)
		}
		msg := fmt.Sprintf("no Debian package %s in the machine's apt sources or in Debian %s", what, strings.Join(Suites, ", "))
		if req.Patch >= 0 || req.Pre != "" {
			// Say which releases of the series there are instead.
			series := Request{Major: req.Major, Minor: req.Minor, Patch: -1}
			if o.AptEtc == "" {
				if vs, err := systemApt().candidates(ctx, series); err == nil {
					for _, v := range vs {
						offers = append(offers, Offer{pkgVersion: v})
					}
				}
			}
			if more, _, err := available(ctx, cache, o, series, progress); err == nil {
				offers = append(offers, more...)
			}
			sortOffers(offers)
		}
		if len(offers) > 0 {
			msg += "; they offer " + describe(offers)
		} else {
			msg += " (kgen tree list --available shows what they offer)"
		}
		if len(serrs) > 0 {
			return pkgVersion{}, nil, fmt.Errorf("%s; some suites could not be asked: %w", msg, suiteErrors(serrs))
		}
		return pkgVersion{}, nil, errors.New(msg)
	}
	progress("%s resolves to %s %s from %s", req, best.Package, best.Version, best.SuiteName())
	return best.pkgVersion, best.src, nil
}

// debInfo reads Package, Version and size of a local .deb.
func debInfo(ctx context.Context, deb string) (pkgVersion, error) {
	out, err := proc.Command(ctx, "dpkg-deb", "-f", deb, "Package", "Version").Output()
	if err != nil {
		return pkgVersion{}, fmt.Errorf("reading %s with dpkg-deb -f: %w (is it a .deb?)", deb, err)
	}
	v := parseControl(string(out))
	if !strings.HasPrefix(v.Package, "linux-source-") || v.Version == "" {
		return v, fmt.Errorf("%s is %q, not a Debian linux-source package", deb, v.Package)
	}
	v.Filename = filepath.Base(deb)
	return v, nil
}

// checkMakefile makes sure the extracted tree is the release it claims.
func checkMakefile(tree, release string) error {
	data, err := os.ReadFile(filepath.Join(tree, "Makefile"))
	if err != nil {
		return fmt.Errorf("the extracted tree has no top-level Makefile: %w", err)
	}
	got := MakefileRelease(string(data))
	want, _ := parseRelease(release)
	have, ok := parseRelease(got)
	if !ok || have != want {
		return fmt.Errorf("the extracted tree's Makefile says %q, the package says %s", got, release)
	}
	return nil
}

// MakefileRelease returns "6.12.117" from a kernel's top-level Makefile.
func MakefileRelease(makefile string) string {
	vals := map[string]string{}
	for _, l := range strings.Split(makefile, "\n") {
		k, v, ok := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		if ok && (k == "VERSION" || k == "PATCHLEVEL" || k == "SUBLEVEL" || k == "EXTRAVERSION") {
			if _, seen := vals[k]; !seen {
				vals[k] = strings.TrimSpace(v)
			}
		}
		if len(vals) == 4 {
			break
		}
	}
	s := vals["VERSION"] + "." + vals["PATCHLEVEL"]
	if vals["SUBLEVEL"] != "" {
		s += "." + vals["SUBLEVEL"]
	}
	return s + vals["EXTRAVERSION"]
}

func ensureGit(ctx context.Context, want bool, tree, trees string, progress func(string, ...any)) error {
	if !want || isGitTree(tree) {
		return nil
	}
	m, err := readMeta(trees, filepath.Base(tree))
	if err != nil {
		m, err = metaFromTree(tree)
		if err != nil {
			return err
		}
	}
	commit, err := makeBaseline(ctx, tree, filepath.Join(trees, ".gitpartial-"+filepath.Base(tree)), m, progress)
	if err != nil {
		return err
	}
	m.Baseline = commit
	return writeMeta(trees, m)
}

// metaFromTree rebuilds the metadata of a tree whose meta file is lost.
func metaFromTree(tree string) (Meta, error) {
	rel := filepath.Base(tree)
	m := Meta{Release: rel}
	if p, ok := parseRelease(rel); ok {
		m.Package = fmt.Sprintf("linux-source-%d.%d", p[0], p[1])
	}
	st, err := os.Stat(filepath.Join(tree, "Makefile"))
	if err != nil {
		return m, fmt.Errorf("%s is not a kernel tree: %w", tree, err)
	}
	m.MakefileMtime = st.ModTime().Unix()
	err = filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && filepath.Dir(p) == tree {
				return filepath.SkipDir
			}
			return nil
		}
		m.Files++
		return nil
	})
	return m, err
}

func metaPath(trees, release string) string {
	return filepath.Join(trees, ".meta", release+".json")
}

func writeMeta(trees string, m Meta) error {
	data, _ := json.MarshalIndent(m, "", "  ")
	return writeFileAtomic(metaPath(trees, m.Release), append(data, '\n'))
}

func readMeta(trees, release string) (Meta, error) {
	var m Meta
	data, err := os.ReadFile(metaPath(trees, release))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(data, &m)
	return m, err
}

// writeFileAtomic writes via a temporary file and a rename.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// findCached returns the newest complete cached tree matching req.
func findCached(trees string, req Request) string {
	ents, err := os.ReadDir(trees)
	if err != nil {
		return ""
	}
	best := ""
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !req.Matches(n) || !dirExists(filepath.Join(trees, n)) {
			continue
		}
		if best == "" || compareRelease(n, best) > 0 {
			best = n
		}
	}
	if best == "" {
		return ""
	}
	return filepath.Join(trees, best)
}

// List returns the cached trees, newest first.
func List(cacheDir string) ([]Tree, error) {
	if cacheDir == "" {
		cacheDir = CacheDir()
	}
	trees := filepath.Join(cacheDir, "trees")
	ents, err := os.ReadDir(trees)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Tree
	for _, e := range ents {
		p := filepath.Join(trees, e.Name())
		if strings.HasPrefix(e.Name(), ".") || !dirExists(p) {
			continue
		}
		m, err := readMeta(trees, e.Name())
		if err != nil {
			m = Meta{Release: e.Name()}
		}
		out = append(out, Tree{Path: p, Meta: m, Git: isGitTree(p)})
	}
	sort.Slice(out, func(i, j int) bool { return compareRelease(out[i].Release, out[j].Release) > 0 })
	return out, nil
}

// Newest returns the path of the newest cached tree whose release begins
// with prefix ("7." for Linux 7.x), or "" when the cache has none.
func Newest(cacheDir, prefix string) string {
	return NewestWhere(cacheDir, func(t Tree) bool { return strings.HasPrefix(t.Release, prefix) })
}

// NewestWhere returns the path of the newest cached tree (by release
// order, 7.10 after 7.9) for which ok is true, or "" when none is.
// cacheDir is the kdefer cache, CacheDir() if empty.
func NewestWhere(cacheDir string, ok func(Tree) bool) string {
	trees, _ := List(cacheDir)
	for _, t := range trees { // newest first
		if ok(t) {
			return t.Path
		}
	}
	return ""
}

// cleanStale removes what interrupted runs left behind. It is called with
// the lock held, so nothing else is working on them.
func cleanStale(trees string, progress func(string, ...any)) {
	ents, _ := os.ReadDir(trees)
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".partial-") || strings.HasPrefix(n, ".gitpartial-") {
			progress("removing %s left by an interrupted run", filepath.Join(trees, n))
			os.RemoveAll(filepath.Join(trees, n))
		}
	}
	debs := filepath.Join(filepath.Dir(trees), "debs")
	if ents, err := os.ReadDir(debs); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".partial-") {
				os.RemoveAll(filepath.Join(debs, e.Name()))
			}
		}
	}
}

// lockFile takes the tree cache's lock, saying so while another run
// holds it; ctx cancels the wait.
func lockFile(ctx context.Context, name string, progress func(string, ...any)) (func(), error) {
	return flock.Lock(ctx, name, func() { progress("waiting for another run holding %s", name) })
}

// checkSpace fails early when dir's file system has less than need bytes.
func checkSpace(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < need {
		return fmt.Errorf("not enough disk space in %s: %s free, about %s needed (free some space or set XDG_CACHE_HOME to a larger disk)", dir, mb(free), mb(need))
	}
	return nil
}
