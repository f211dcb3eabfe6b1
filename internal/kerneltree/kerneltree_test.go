package kerneltree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/aptsrc"
)

func TestParseRequest(t *testing.T) {
	for _, c := range []struct {
		in, str, pkg string
		bad          bool
	}{
		{in: "6.12", str: "6.12", pkg: "linux-source-6.12"},
		{in: "6.1", str: "6.1", pkg: "linux-source-6.1"},
		{in: "7", str: "7", pkg: ""},
		{in: "v6.12.117", str: "6.12.117", pkg: "linux-source-6.12"},
		{in: "linux-source-7.2", str: "7.2", pkg: "linux-source-7.2"},
		{in: "7.3~rc7", str: "7.3-rc7", pkg: "linux-source-7.3"},
		{in: "7.3-rc7", str: "7.3-rc7", pkg: "linux-source-7.3"},
		{in: "7-rc1", bad: true},
		{in: "abc", bad: true},
		{in: "6.12.x", bad: true},
		{in: "", bad: true},
		{in: "1", bad: true},
	} {
		r, err := ParseRequest(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseRequest(%q) = %v, want an error", c.in, r)
			} else if !strings.Contains(err.Error(), "6.12") {
				t.Errorf("ParseRequest(%q) error %q does not show an example", c.in, err)
			}
			continue
		}
		if err != nil || r.String() != c.str || r.Package() != c.pkg {
			t.Errorf("ParseRequest(%q) = %v %q %v, want %s %s", c.in, r, r.Package(), err, c.str, c.pkg)
		}
	}
}

func TestMatchesAndVersions(t *testing.T) {
	r7, _ := ParseRequest("7")
	r612, _ := ParseRequest("6.12")
	r61, _ := ParseRequest("6.1")
	rFull, _ := ParseRequest("6.12.117")
	for _, c := range []struct {
		r    Request
		v    string
		want bool
	}{
		{r7, "7.2.13", true}, {r7, "7.2", true}, {r7, "6.12.117", false},
		{r612, "6.12.117", true}, {r612, "6.1.192", false}, {r61, "6.12.117", false},
		{r61, "6.1.192", true}, {rFull, "6.12.117", true}, {rFull, "6.12.115", false},
	} {
		if got := c.r.Matches(c.v); got != c.want {
			t.Errorf("%v.Matches(%q) = %v", c.r, c.v, got)
		}
	}
	for in, want := range map[string]string{
		"6.12.117-1~deb12u1": "6.12.117", "7.2.13-1": "7.2.13", "1:6.1.192-2": "6.1.192", "7.3~rc2-1~exp1": "7.3-rc2",
	} {
		if got := UpstreamVersion(in); got != want {
			t.Errorf("UpstreamVersion(%q) = %q, want %q", in, got, want)
		}
	}
	if compareRelease("6.12.9", "6.12.10") >= 0 || compareRelease("7.2", "6.12.117") <= 0 {
		t.Error("compareRelease is not numeric")
	}
	mk := "# SPDX\nVERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n"
	if got := MakefileRelease(mk); got != "6.12.117" {
		t.Errorf("MakefileRelease = %q", got)
	}
}

// debianEntries are the apt sources of a Debian machine (internal/aptsrc
// reads and tests the files themselves).
var debianEntries = []aptsrc.SourceEntry{{URI: "http://deb.debian.org/debian", Suite: "bookworm",
	Components: []string{"main"}, SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg", File: "sources.list"}}

func TestPrivateAptState(t *testing.T) {
	cache := t.TempDir()
	a, err := privateApt(cache, debianEntries, "unstable")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(cache, "apt", "unstable", "sources.list"))
	if err != nil || !strings.Contains(string(src), " unstable main") {
		t.Fatalf("private sources.list: %q %v", src, err)
	}
	opts := strings.Join(a.opts, " ")
	for _, w := range []string{"Dir::Etc::SourceList=" + filepath.Join(cache, "apt", "unstable"), "Dir::State::Lists=", "Dir::State::status=", "Dir::Etc::SourceParts="} {
		if !strings.Contains(opts, w) {
			t.Errorf("private apt options lack %q: %s", w, opts)
		}
	}
	for _, o := range a.opts {
		if strings.Contains(o, "=/etc/apt") || strings.Contains(o, "=/var/lib/apt") {
			t.Errorf("private apt option points at the system: %s", o)
		}
	}
}

// buildDeb makes a small linux-source-9.9 package: a tarball with a
// top-level "/*" .gitignore, an executable, a symlink, a hard link, an
// empty directory and many files, packed with tar -J and dpkg-deb.
func buildDeb(t *testing.T, nfiles int) (deb string, files int) {
	t.Helper()
	for _, tool := range []string{"dpkg-deb", "tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (kcheck doctor names its package)", tool)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "linux-source-9.9")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, data string, mode os.FileMode) {
		p := filepath.Join(src, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(data), mode))
		must(os.Chmod(p, mode))
		files++
	}
	write("Makefile", "VERSION = 9\nPATCHLEVEL = 9\nSUBLEVEL = 3\nEXTRAVERSION =\n", 0o644)
	write(".gitignore", "*.o\n/*\n", 0o644)
	write("scripts/checkpatch.pl", "#!/usr/bin/perl\n", 0o755)
	write("kernel/unwind/README", "x\n", 0o600)
	for i := 0; i < nfiles; i++ {
		write(fmt.Sprintf("drivers/d%02d/f%04d.c", i%40, i), fmt.Sprintf("int f%d(void) { return %d; }\n", i, i), 0o644)
	}
	must(os.Symlink("../scripts/checkpatch.pl", filepath.Join(src, "kernel", "cp.pl")))
	files++
	must(os.MkdirAll(filepath.Join(src, "empty"), 0o755))
	mt := time.Unix(1700000000, 0)
	must(os.Chtimes(filepath.Join(src, "Makefile"), mt, mt))

	pkg := filepath.Join(dir, "pkg")
	must(os.MkdirAll(filepath.Join(pkg, "DEBIAN"), 0o755))
	must(os.MkdirAll(filepath.Join(pkg, "usr", "src"), 0o755))
	must(os.WriteFile(filepath.Join(pkg, "DEBIAN", "control"), []byte("Package: linux-source-9.9\nVersion: 9.9.3-1\nArchitecture: all\nMaintainer: test <t@example.org>\nDescription: test kernel source\n"), 0o644))
	out, err := exec.Command("tar", "-C", filepath.Join(dir, "src"), "-cJf", filepath.Join(pkg, "usr", "src", "linux-source-9.9.tar.xz"), "linux-source-9.9").CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	deb = filepath.Join(dir, "linux-source-9.9_9.9.3-1_all.deb")
	out, err = exec.Command("dpkg-deb", "--root-owner-group", "-Zxz", "--build", pkg, deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb: %v %s", err, out)
	}
	return deb, files
}

func quiet(string, ...any) {}

func checkTree(t *testing.T, tree string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(tree, "Makefile")); err != nil || MakefileRelease(string(b)) != "9.9.3" {
		t.Fatalf("Makefile: %q %v", b, err)
	}
	for rel, mode := range map[string]os.FileMode{"scripts/checkpatch.pl": 0o755, "kernel/unwind/README": 0o600, "Makefile": 0o644} {
		st, err := os.Stat(filepath.Join(tree, rel))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", rel, st.Mode().Perm(), err, mode)
		}
	}
	if l, err := os.Readlink(filepath.Join(tree, "kernel", "cp.pl")); err != nil || l != "../scripts/checkpatch.pl" {
		t.Errorf("symlink: %q %v", l, err)
	}
	if st, err := os.Stat(filepath.Join(tree, "Makefile")); err != nil || st.ModTime().Unix() != 1700000000 {
		t.Errorf("Makefile mtime not kept: %v", st.ModTime())
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	c := exec.Command("git", args...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGetFromDebWithGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	deb, files := buildDeb(t, 300)
	var commits []string
	for _, useBin := range []bool{true, false} {
		t.Run(fmt.Sprintf("xzbinary=%v", useBin), func(t *testing.T) {
			old := UseXZBinary
			UseXZBinary = useBin
			defer func() { UseXZBinary = old }()
			cache := t.TempDir()
			tree, err := Get(context.Background(), Options{Version: "9.9", Deb: deb, CacheDir: cache, Git: true, Progress: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if tree != filepath.Join(cache, "trees", "9.9.3") {
				t.Errorf("tree path %s", tree)
			}
			checkTree(t, tree)
			n := strings.Count(gitOut(t, tree, "ls-files")+"\n", "\n")
			if n != files {
				t.Errorf("git ls-files: %d files, the tarball has %d", n, files)
			}
			if s := gitOut(t, tree, "status", "--porcelain"); s != "" {
				t.Errorf("git status not clean:\n%s", s)
			}
			log := gitOut(t, tree, "log", "--format=%an <%ae>|%cn <%ce>|%at|%ct|%B")
			want := "kdefer <kdefer@localhost>|kdefer <kdefer@localhost>|1700000000|1700000000|Linux 9.9.3 (Debian linux-source-9.9)"
			if log != want {
				t.Errorf("baseline commit:\n%s\nwant\n%s", log, want)
			}
			if b := gitOut(t, tree, "symbolic-ref", "HEAD"); b != "refs/heads/main" {
				t.Errorf("HEAD is %s", b)
			}
			commits = append(commits, gitOut(t, tree, "rev-parse", "HEAD"))
			// Second call: from the cache, no work.
			// The cache hit must take the fast path: no lock, no apt,
			// no extraction, so nothing to report.
			var work []string
			again, err := Get(context.Background(), Options{Version: "9.9", CacheDir: cache, Git: true,
				Progress: func(f string, a ...any) { work = append(work, fmt.Sprintf(f, a...)) }})
			if err != nil || again != tree {
				t.Errorf("cached Get = %q %v", again, err)
			}
			if len(work) != 0 {
				t.Errorf("cached Get did work: %q", work)
			}
			ls, _ := List(cache)
			if len(ls) != 1 || ls[0].Files != files || !ls[0].Git || ls[0].Package != "linux-source-9.9" {
				t.Errorf("List = %+v", ls)
			}
		})
	}
	if len(commits) == 2 && commits[0] != commits[1] {
		t.Errorf("baseline commit differs between two extractions: %s %s", commits[0], commits[1])
	}
}

func TestGitConversionInPlace(t *testing.T) {
	deb, files := buildDeb(t, 50)
	cache := t.TempDir()
	tree, err := Get(context.Background(), Options{Version: "9.9.3", Deb: deb, CacheDir: cache, Progress: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if isGitTree(tree) {
		t.Fatal("a tree got without Git is a git repository")
	}
	// A conversion killed half-way leaves .gitpartial-*: it must not count.
	os.MkdirAll(filepath.Join(cache, "trees", ".gitpartial-9.9.3", "objects"), 0o755)
	tree2, err := Get(context.Background(), Options{Version: "9.9", CacheDir: cache, Git: true, Progress: quiet})
	if err != nil || tree2 != tree {
		t.Fatalf("Get --git = %q %v", tree2, err)
	}
	if n := strings.Count(gitOut(t, tree, "ls-files")+"\n", "\n"); n != files {
		t.Errorf("git ls-files %d, want %d", n, files)
	}
	if _, err := os.Stat(filepath.Join(cache, "trees", ".gitpartial-9.9.3")); !os.IsNotExist(err) {
		t.Error("stale .gitpartial directory left behind")
	}
}

func TestInterruptedExtraction(t *testing.T) {
	deb, _ := buildDeb(t, 3000)
	old := UseXZBinary
	UseXZBinary = false // read the stream incrementally so that progress ticks mid-way
	defer func() { UseXZBinary = old }()
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var ticks int
	_, err := Get(ctx, Options{Version: "9.9", Deb: deb, CacheDir: cache, Progress: func(f string, a ...any) {
		if strings.HasPrefix(f, "extracting %s: ") {
			ticks++
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Get: err = %v, want context.Canceled", err)
	}
	if ticks == 0 {
		t.Fatal("extraction was not interrupted mid-way")
	}
	ents, _ := os.ReadDir(filepath.Join(cache, "trees"))
	for _, e := range ents {
		if e.Name() != ".lock" && e.Name() != ".meta" {
			t.Errorf("interrupted extraction left %s", e.Name())
		}
	}
	if ls, _ := List(cache); len(ls) != 0 {
		t.Errorf("an interrupted tree is listed: %+v", ls)
	}
	// A run killed with SIGKILL leaves its partial directory: the next run
	// removes it and produces a complete tree.
	os.MkdirAll(filepath.Join(cache, "trees", ".partial-9.9.3", "drivers"), 0o755)
	tree, err := Get(context.Background(), Options{Version: "9.9", Deb: deb, CacheDir: cache, Progress: quiet})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, tree)
	if _, err := os.Stat(filepath.Join(cache, "trees", ".partial-9.9.3")); !os.IsNotExist(err) {
		t.Error("stale partial directory left behind")
	}
}

func TestConcurrentGet(t *testing.T) {
	deb, _ := buildDeb(t, 500)
	cache := t.TempDir()
	var wg sync.WaitGroup
	paths := make([]string, 3)
	errs := make([]error, 3)
	for i := range paths {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			paths[i], errs[i] = Get(context.Background(), Options{Version: "9.9", Deb: deb, CacheDir: cache, Progress: quiet})
		}(i)
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("run %d: %q %v", i, paths[i], errs[i])
		}
	}
	checkTree(t, paths[0])
}

func TestBadInput(t *testing.T) {
	cache := t.TempDir()
	if _, err := Get(context.Background(), Options{Version: "six", CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "invalid kernel version") {
		t.Errorf("bad version: %v", err)
	}
	deb, _ := buildDeb(t, 5)
	if _, err := Get(context.Background(), Options{Version: "6.12", Deb: deb, CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "not version 6.12") {
		t.Errorf("wrong package for the version: %v", err)
	}
	// A damaged package: one line, nothing left in the cache.
	data, _ := os.ReadFile(deb)
	bad := filepath.Join(t.TempDir(), "linux-source-9.9_9.9.3-1_all.deb")
	os.WriteFile(bad, data[:len(data)/2], 0o644)
	_, err := Get(context.Background(), Options{Version: "9.9", Deb: bad, CacheDir: cache, Progress: quiet})
	if err == nil {
		t.Fatal("a truncated .deb gave no error")
	}
	if strings.Contains(strings.TrimSpace(err.Error()), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	if de := (*DamagedDebError)(nil); !errors.As(err, &de) || de.Deb != bad {
		t.Errorf("a truncated .deb is not a DamagedDebError naming it (a downloaded one would be kept): %v", err)
	}
	if ls, _ := List(cache); len(ls) != 0 {
		t.Errorf("a failed extraction left a tree: %+v", ls)
	}
	// Not a linux-source package at all.
	if _, err := Get(context.Background(), Options{Version: "9.9", Deb: "/nonexistent.deb", CacheDir: cache}); err == nil {
		t.Error("a missing .deb gave no error")
	}
}

func TestUnknownVersionViaPrivateApt(t *testing.T) {
	// With an /etc/apt that has no Debian entry, resolution fails with a
	// clear message before any network access.
	etc := t.TempDir()
	os.WriteFile(filepath.Join(etc, "sources.list"), []byte("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"), 0o644)
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not installed")
	}
	_, err := Get(context.Background(), Options{Version: "7", CacheDir: t.TempDir(), AptEtc: etc, Progress: quiet})
	if err == nil || !strings.Contains(err.Error(), "no Debian archive entry") {
		t.Errorf("want a 'no Debian archive entry' error, got %v", err)
	}
}

// Every suite in Suites gets a sources list, and a request resolves to the
// newest final release, the machine's sources first among equals.
func TestPick(t *testing.T) {
	for _, s := range Suites {
		if _, err := aptsrc.DeriveSourcesList(debianEntries, s); err != nil {
			t.Errorf("suite %s: %v", s, err)
		}
	}
	offer := func(suite, pkg, ver string) Offer {
		return Offer{Suite: suite, pkgVersion: pkgVersion{Package: pkg, Version: ver}}
	}
	offers := []Offer{
		offer("", "linux-source-6.12", "6.12.117-1~deb12u1"),
		offer("unstable", "linux-source-7.2", "7.2.13-1"),
		offer("experimental", "linux-source-7.3", "7.3~rc7-1~exp1"),
		offer("trixie", "linux-source-6.12", "6.12.117-1"),
		offer("trixie-backports", "linux-source-7.3", "7.3.4-1~bpo13+1"),
		offer("bookworm", "linux-source-6.1", "6.1.172-1"),
		offer("bookworm-backports", "linux-source-6.12", "6.12.95-1~bpo12+1"),
	}
	for req, want := range map[string]string{
		"7": "trixie-backports 7.3.4", "7.3": "trixie-backports 7.3.4", "7.3-rc7": "experimental 7.3-rc7",
		"7.3~rc7": "experimental 7.3-rc7", "7.2": "unstable 7.2.13", "6.12": " 6.12.117", "6.12.95": "bookworm-backports 6.12.95",
		"6.1": "bookworm 6.1.172", "6.1.172": "bookworm 6.1.172", "7.3.0": "", "6.13": "",
	} {
		r, err := ParseRequest(req)
		if err != nil {
			t.Fatalf("ParseRequest(%q): %v", req, err)
		}
		o, ok := pick(offers, r)
		got := ""
		if ok {
			got = o.Suite + " " + o.Release()
		}
		if got != want {
			t.Errorf("pick(%s) = %q, want %q", req, got, want)
		}
	}
	if compareRelease("7.3-rc7", "7.3-rc10") >= 0 || compareRelease("7.3-rc7", "7.3") >= 0 || compareRelease("7.3.4", "7.3-rc7") <= 0 {
		t.Error("compareRelease does not put release candidates before the release")
	}
}

// Newest picks the highest release with the prefix, by version order
// (7.10 after 7.9), and "" when no cached tree has it.
func TestNewest(t *testing.T) {
	cache := t.TempDir()
	for _, r := range []string{"6.12.118", "7.9.1", "7.10.2", "7.2.13", ".partial-7.11.0"} {
		if err := os.MkdirAll(filepath.Join(cache, "trees", r), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := Newest(cache, "7."), filepath.Join(cache, "trees", "7.10.2"); got != want {
		t.Errorf("Newest 7.: %q, want %q", got, want)
	}
	if got := Newest(cache, "6.1."); got != "" {
		t.Errorf("Newest 6.1.: %q, want none", got)
	}
}

// NewestWhere walks the cached trees newest first and returns the first
// that ok accepts; trees being extracted (.partial-*) are never offered.
func TestNewestWhere(t *testing.T) {
	cache := t.TempDir()
	for _, r := range []string{"6.12.118", "7.9.1", "7.10.2", "7.2.13", ".partial-7.11.0"} {
		if err := os.MkdirAll(filepath.Join(cache, "trees", r), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	got := NewestWhere(cache, func(tr Tree) bool {
		seen = append(seen, tr.Release)
		return tr.Release != "7.10.2"
	})
	if want := filepath.Join(cache, "trees", "7.9.1"); got != want {
		t.Errorf("NewestWhere = %q, want %q", got, want)
	}
	if strings.Join(seen, " ") != "7.10.2 7.9.1" {
		t.Errorf("NewestWhere asked about %q, want 7.10.2 then 7.9.1", seen)
	}
	if got := NewestWhere(cache, func(Tree) bool { return false }); got != "" {
		t.Errorf("NewestWhere with nothing accepted = %q, want none", got)
	}
	if got := NewestWhere(filepath.Join(cache, "none"), func(Tree) bool { return true }); got != "" {
		t.Errorf("NewestWhere on a cache without trees = %q, want none", got)
	}
}

// A mirror frozen in time is told apart from a missing network: the
// output below is apt 2.6's, from a bookworm container on 2026-12-03
// against a mirror whose unstable lists dated from 2026-10-30.
func TestUpdateHintStaleMirror(t *testing.T) {
	stale := []byte("Get:1 http://deb.debian.org/debian unstable InRelease [202 kB]\n" +
		"Reading package lists...\n" +
		"E: Release file for http://deb.debian.org/debian/dists/unstable/InRelease is expired (invalid since 27d 6h 16min 41s). Updates for this repository will not be applied.\n")
	err := aptError("apt-get update for Debian unstable failed ("+updateHint(stale)+")", stale, errors.New("exit status 100"))
	for _, want := range []string{"Valid-Until", "Check-Valid-Until", "is expired (invalid since 27d"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("stale mirror: %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "no network") {
		t.Errorf("stale mirror blamed on the network: %q", err)
	}
	offline := []byte("Err:1 http://deb.debian.org/debian unstable InRelease\n  Temporary failure resolving 'deb.debian.org'\n" +
		"W: Failed to fetch http://deb.debian.org/debian/dists/unstable/InRelease  Temporary failure resolving 'deb.debian.org'\n")
	if h := updateHint(offline); !strings.Contains(h, "no network") {
		t.Errorf("offline: hint %q does not name the network", h)
	}
}
