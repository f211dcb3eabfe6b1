package perftool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeTree(t *testing.T, defer_ bool, makefile string) string {
	t.Helper()
	return fakeTreeAt(t, t.TempDir(), defer_, makefile)
}

func fakeTreeAt(t *testing.T, dir string, defer_ bool, makefile string) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "tools", "perf", "util"), 0o755)
	cc := `if (!strncmp(tok, "fp", sizeof("fp"))) {`
	if defer_ {
		cc += "\n" + `if (!strncmp(tok, "defer", sizeof("defer"))) {`
	}
	os.WriteFile(filepath.Join(dir, "tools", "perf", "util", "callchain.c"), []byte(cc), 0o644)
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte(makefile), 0o644)
	return dir
}

const mk7 = "# SPDX-License-Identifier: GPL-2.0\nVERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n"

func TestSupports(t *testing.T) {
	tr := fakeTree(t, true, mk7)
	if !Supports(tr) {
		t.Fatal("a perf with defer not supported")
	}
	old := fakeTree(t, false, "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\nEXTRAVERSION =\n")
	if Supports(old) {
		t.Fatal("6.12's perf (no defer) supported")
	}
}

func TestFindTreePrefersTheTreeUnderTest(t *testing.T) {
	t.Setenv("KDEFER_PERF_TREE", "")
	cache := t.TempDir()
	seven := fakeTree(t, true, mk7)
	old := fakeTree(t, false, "VERSION = 6\nPATCHLEVEL = 12\n")
	if got, err := FindTree(cache, old, seven); err != nil || got != seven {
		t.Fatalf("FindTree = %q, %v", got, err)
	}
	_, err := FindTree(cache, old)
	if err == nil || !strings.Contains(err.Error(), "kgen tree get 7") {
		t.Fatalf("no 7.x tree: error %v should say how to get one", err)
	}
	t.Setenv("KDEFER_PERF_TREE", old)
	if _, err := FindTree(cache, seven); err == nil {
		t.Fatal("KDEFER_PERF_TREE without defer accepted")
	}
}

// Without a tree under test that will do, FindTree takes the newest
// tree of the kgen tree cache whose perf knows deferred callchains
// (kerneltree's order: 7.10 after 7.9), never one that does not.
func TestFindTreeInTheCache(t *testing.T) {
	t.Setenv("KDEFER_PERF_TREE", "")
	cache := t.TempDir()
	tree := func(rel string, defer_ bool) string {
		return fakeTreeAt(t, filepath.Join(cache, "trees", rel), defer_, "VERSION = 7\n")
	}
	tree("6.12.118", false)
	seven9 := tree("7.9.1", true)
	tree("7.10.2", false)
	tree(".partial-7.11.0", true)
	old := fakeTree(t, false, "VERSION = 6\nPATCHLEVEL = 12\n")
	if got, err := FindTree(cache, old); err != nil || got != seven9 {
		t.Fatalf("FindTree = %q, %v; want %s", got, err, seven9)
	}
	other := fakeTree(t, true, mk7)
	t.Setenv("KDEFER_PERF_TREE", other)
	if got, err := FindTree(cache, old); err != nil || got != other {
		t.Fatalf("FindTree with KDEFER_PERF_TREE = %q, %v; want %s", got, err, other)
	}
}

func TestKey(t *testing.T) {
	a, b := Key("7.3.4", "gcc 12"), Key("7.3.4", "gcc 12")
	if a != b || len(a) != 12 {
		t.Fatalf("key not stable: %s %s", a, b)
	}
	if Key("7.3.5", "gcc 12") == a || Key("7.3.4", "gcc 14") == a {
		t.Fatal("key ignores the version or the compiler")
	}
	saved := MakeFlags
	defer func() { MakeFlags = saved }()
	MakeFlags = append(append([]string{}, saved...), "NO_LZMA=1")
	if Key("7.3.4", "gcc 12") == a {
		t.Fatal("key ignores the flags")
	}
}

func TestBuildRefusesATreeWithoutDefer(t *testing.T) {
	old := fakeTree(t, false, "VERSION = 6\nPATCHLEVEL = 12\n")
	if _, err := Build(t.Context(), Options{Tree: old, CacheDir: t.TempDir()}); err == nil {
		t.Fatal("built perf from a tree without deferred callchains")
	}
}
