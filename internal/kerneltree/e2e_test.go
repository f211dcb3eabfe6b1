package kerneltree

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The E2E tests fetch real Debian trees into the real cache
// (${XDG_CACHE_HOME:-~/.cache}/kdefer), so that a rerun reuses them.
func e2e(t *testing.T) {
	t.Helper()
	if os.Getenv("KDEFER_E2E") != "1" {
		t.Skip("fetches real kernel trees (~150 MB each): set KDEFER_E2E=1")
	}
}

func logProgress(t *testing.T) func(string, ...any) {
	return func(f string, a ...any) { t.Logf(f, a...) }
}

func TestE2EGet612(t *testing.T) {
	e2e(t)
	ctx := context.Background()
	start := time.Now()
	tree, err := Get(ctx, Options{Version: "6.12", Progress: logProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first Get(6.12) = %s in %.1f s", tree, time.Since(start).Seconds())
	mk, err := os.ReadFile(filepath.Join(tree, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	rel := MakefileRelease(string(mk))
	if !strings.HasPrefix(rel, "6.12.") || filepath.Base(tree) != rel {
		t.Errorf("tree %s has Makefile release %s", tree, rel)
	}
	m, err := readMeta(filepath.Dir(tree), rel)
	if err != nil || m.Files < 80000 {
		t.Errorf("meta %+v %v: want ~87k files", m, err)
	}
	start = time.Now()
	var work []string
	again, err := Get(ctx, Options{Version: "6.12",
		Progress: func(f string, a ...any) { work = append(work, fmt.Sprintf(f, a...)) }})
	d := time.Since(start)
	if err != nil || again != tree {
		t.Fatalf("second Get = %q %v", again, err)
	}
	if len(work) != 0 {
		t.Errorf("cached Get did work instead of using the cache: %q", work)
	}
	t.Logf("cached Get(6.12) in %v", d)
}

func TestE2EGit612(t *testing.T) {
	e2e(t)
	start := time.Now()
	tree, err := Get(context.Background(), Options{Version: "6.12", Git: true, Progress: logProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Get(6.12, Git) in %.1f s", time.Since(start).Seconds())
	ls := gitOut(t, tree, "ls-files", "-z")
	tracked := strings.Count(ls, "\x00")
	files := 0
	filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// .git, and kcheck's build directories (src/.kdefer-build-KEY,
			// ignored by the .gitignore kbuild writes into each)
			if p == filepath.Join(tree, ".git") || filepath.Dir(p) == tree && strings.HasPrefix(d.Name(), ".kdefer-build-") {
				return filepath.SkipDir
			}
			return nil
		}
		files++
		return nil
	})
	if st := gitOut(t, tree, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("git status of the cached tree is not clean:\n%s", st)
	}
	if tracked != files || tracked < 80000 {
		t.Errorf("git ls-files: %d, files in the tree: %d", tracked, files)
	}
	rel := filepath.Base(tree)
	if msg := gitOut(t, tree, "log", "-1", "--format=%s|%an <%ae>"); msg != "Linux "+rel+" (Debian linux-source-6.12)|kdefer <kdefer@localhost>" {
		t.Errorf("baseline commit: %q", msg)
	}
	if n := gitOut(t, tree, "rev-list", "--count", "HEAD"); n != "1" && !testing.Short() {
		t.Logf("HEAD has %s commits (someone applied a series on the cached tree)", n)
	}
	t.Logf("%d files tracked, baseline %s", tracked, gitOut(t, tree, "rev-parse", "--short=12", "HEAD"))
}

// hashTree hashes names, modes and contents below dir.
func hashTree(t *testing.T, dir string) string {
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			io.WriteString(h, "ERR "+p)
			return nil
		}
		info, _ := d.Info()
		io.WriteString(h, p+"|"+info.Mode().String()+"\n")
		if d.Type().IsRegular() {
			if f, err := os.Open(p); err == nil {
				io.Copy(h, f)
				f.Close()
			}
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func TestE2EGet7WithoutTouchingApt(t *testing.T) {
	e2e(t)
	before := hashTree(t, "/etc/apt")
	listsBefore, _ := os.ReadDir("/var/lib/apt/lists")
	start := time.Now()
	// Refresh: ask every suite (through the private apt states) even
	// when a 7.x tree is cached, so that this path runs on every CI run.
	tree, err := Get(context.Background(), Options{Version: "7", Refresh: true, Progress: logProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Get(7) = %s in %.1f s", tree, time.Since(start).Seconds())
	mk, _ := os.ReadFile(filepath.Join(tree, "Makefile"))
	if rel := MakefileRelease(string(mk)); !strings.HasPrefix(rel, "7.") {
		t.Errorf("Get(7) gave a tree with Makefile release %q", rel)
	}
	if after := hashTree(t, "/etc/apt"); after != before {
		t.Error("/etc/apt changed while fetching a 7.x tree")
	}
	listsAfter, _ := os.ReadDir("/var/lib/apt/lists")
	if len(listsAfter) != len(listsBefore) {
		t.Errorf("/var/lib/apt/lists changed: %d -> %d entries", len(listsBefore), len(listsAfter))
	}
	if _, err := os.Stat(filepath.Join(CacheDir(), "apt", "unstable", "sources.list")); err != nil {
		t.Errorf("no private unstable apt state: %v", err)
	}
}

// Every suite answers, each with its own private apt state, and the
// series a maintainer asks for are there: 6.1 (bookworm), 6.12 (trixie,
// bookworm-backports, the security suites) and 7.x (unstable,
// trixie-backports, experimental).
func TestE2EAvailable(t *testing.T) {
	e2e(t)
	before := hashTree(t, "/etc/apt")
	offers, serrs, err := Available(context.Background(), Options{Progress: logProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range serrs {
		t.Errorf("suite not asked: %v", e)
	}
	bySuite := map[string][]string{}
	for _, o := range offers {
		bySuite[o.Suite] = append(bySuite[o.Suite], o.Release())
	}
	for _, s := range Suites {
		t.Logf("%-20s %s", s, strings.Join(bySuite[s], " "))
		if _, err := os.Stat(filepath.Join(CacheDir(), "apt", s, "sources.list")); err != nil {
			t.Errorf("no private apt state for %s: %v", s, err)
		}
	}
	for _, want := range []struct{ suite, prefix string }{
		{"bookworm", "6.1."}, {"bookworm-backports", "6.12."}, {"trixie", "6.12."},
		{"unstable", "7."}, {"trixie-backports", "7."}, {"experimental", "7."},
	} {
		ok := false
		for _, r := range bySuite[want.suite] {
			ok = ok || strings.HasPrefix(r, want.prefix)
		}
		if !ok {
			t.Errorf("Debian %s offers no %sx: %v", want.suite, want.prefix, bySuite[want.suite])
		}
	}
	if after := hashTree(t, "/etc/apt"); after != before {
		t.Error("/etc/apt changed while asking the suites")
	}
}
