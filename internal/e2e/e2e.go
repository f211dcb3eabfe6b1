// Package e2e is the switch for the end-to-end tests (KDEFER_E2E=1), the
// real Debian kernel trees they run on, and the small helpers the tests
// share (running git or another command, copying and mutating the
// templates). It depends on kerneltree
// only, so the tests of any package can use it, the probe and render
// packages included.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/kerneltree"
)

// On reports whether KDEFER_E2E=1 is set.
func On() bool { return os.Getenv("KDEFER_E2E") == "1" }

// Long skips t unless KDEFER_E2E_LONG=1 as well as KDEFER_E2E=1: the
// end-to-end tests that take minutes each and repeat what a shorter one
// shows (every kill point, a repository of millions of objects, a whole
// ci run to watch one stage). .ci/run leaves them out to stay within
// CI's time; run them with KDEFER_E2E=1 KDEFER_E2E_LONG=1 go test ./...
func Long(t testing.TB, what string) {
	t.Helper()
	Need(t, what)
	if os.Getenv("KDEFER_E2E_LONG") != "1" {
		t.Skipf("long end-to-end test (%s): set KDEFER_E2E_LONG=1", what)
	}
}

// Need skips t unless KDEFER_E2E=1; what says what the test needs.
func Need(t testing.TB, what string) {
	t.Helper()
	if !On() {
		t.Skipf("end-to-end test (%s): set KDEFER_E2E=1", what)
	}
}

// Cached returns the newest cached Debian git tree of version ("6.12",
// "6.1", "7"), or "" when there is none.
func Cached(version string) string {
	return kerneltree.NewestWhere("", func(tr kerneltree.Tree) bool {
		return tr.Git && (tr.Release == version || strings.HasPrefix(tr.Release, version+"."))
	})
}

// Tree returns the Debian tree of version as a git baseline: the cached
// one, else fetched with kerneltree.Get. Only under KDEFER_E2E=1: without
// it t is skipped even when the machine has the tree cached, so that
// `go test ./...` gives the same results on every machine.
func Tree(t testing.TB, version string) string {
	t.Helper()
	Need(t, "a real Debian Linux "+version+" tree")
	if p := Cached(version); p != "" {
		return p
	}
	p, err := kerneltree.Get(context.Background(), kerneltree.Options{Version: version, Git: true, Progress: t.Logf})
	if err != nil {
		t.Fatalf("getting the Linux %s tree: %v", version, err)
	}
	return p
}

// Require skips t with reason, or fails it under KDEFER_E2E=1, where
// every resource an end-to-end test needs must be there.
func Require(t testing.TB, reason string) {
	t.Helper()
	if On() {
		t.Fatalf("KDEFER_E2E=1 but %s", reason)
	}
	t.Skip(reason)
}

// Tool returns the path of the program name, and Requires it (skip, or
// fail under KDEFER_E2E=1) when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Require(t, name+" not installed (kcheck doctor names its package)")
	}
	return p
}

// Tree612 returns a Linux 6.12 source tree to test against: $KDEFER_TREE
// if set, else the Debian 6.12 git tree of the kdefer cache (fetched under
// KDEFER_E2E=1, see internal/testkit).
func Tree612(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("KDEFER_TREE"); d != "" {
		if isTree(d) {
			return d
		}
		t.Fatalf("KDEFER_TREE=%s is not a kernel tree (no Makefile and scripts/checkpatch.pl)", d)
	}
	return Tree(t, "6.12")
}

func isTree(d string) bool {
	for _, f := range []string{"Makefile", "scripts/checkpatch.pl"} {
		if _, err := os.Stat(filepath.Join(d, f)); err != nil {
			return false
		}
	}
	return true
}

// CopyTemplates copies the template directory src into a new temporary
// directory and returns it, for tests that mutate the series.
func CopyTemplates(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	CopyDir(t, src, dst)
	return dst
}

// CopyDir copies the files below src into dst (created as needed).
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Mutate replaces the one occurrence of old by new in dir/file; it fails
// the test when old does not occur exactly once.
func Mutate(t testing.TB, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), old); n != 1 {
		t.Fatalf("mutation of %s: %q occurs %d times, want 1", file, old, n)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// GitTree copies the directory src to a new temporary directory, lets
// edit change the copy (when not nil), and commits it all as the one
// commit of a new repository, whose work tree it returns.
func GitTree(t testing.TB, src string, edit func(dir string)) string {
	t.Helper()
	Tool(t, "git")
	dir := filepath.Join(t.TempDir(), "linux")
	CopyDir(t, src, dir)
	if edit != nil {
		edit(dir)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=T", "-c", "user.email=t@kernel.test", "commit", "-qm", "base"}} {
		Git(t, dir, args...)
	}
	return dir
}

// FixtureTree is GitTree of the renderer's small kernel fixture
// (internal/render/testdata/kernel); with broken set, the anchors of the
// fixture series' edits of kernel/fork.c and include/linux/sched.h no
// longer match.
func FixtureTree(t testing.TB, broken bool) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	return GitTree(t, filepath.Join(filepath.Dir(self), "..", "render", "testdata", "kernel"), func(dir string) {
		if broken {
			Mutate(t, dir, "kernel/fork.c", "sched_fork(clone_flags, p);\n\tif", "sched_fork(p);\n\tif")
			Mutate(t, dir, "include/linux/sched.h", "usage;", "users;")
		}
	})
}

// UpstreamTemplates is a copy of the renderer's fixture series
// (internal/render/testdata/templates) whose every patch is skipped on a
// tree that already has the code (skip-if: unwind_upstream).
func UpstreamTemplates(t testing.TB) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	d := CopyTemplates(t, filepath.Join(filepath.Dir(self), "..", "render", "testdata", "templates"))
	for _, f := range []string{"series.yaml", "series.d/50-more.yaml"} {
		p := filepath.Join(d, f)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(data), "    skip-if: unwind_upstream\n", "")
		s = strings.ReplaceAll(s, "  - name: ", "  - skip-if: unwind_upstream\n    name: ")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// GitTree612 is Tree612, but it must be a git work tree whose HEAD is the
// unmodified baseline (the series is rendered onto HEAD): the kdefer
// cache's tree, or $KDEFER_TREE.
func GitTree612(t testing.TB) string {
	t.Helper()
	d := Tree612(t)
	if _, err := os.Stat(filepath.Join(d, ".git")); err != nil {
		Need(t, d+" is not a git tree (run kgen tree get 6.12 --git)")
	}
	return d
}

// CPUTime is the best of three runs of f, in CPU time of this process
// (user and system): unlike the wall clock, it does not count the time
// other processes on a loaded machine take. The linearity tests of the
// parsers compare it on two input sizes.
func CPUTime(f func()) time.Duration {
	best := time.Duration(1 << 62)
	for i := 0; i < 3; i++ {
		var a, b syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &a)
		f()
		syscall.Getrusage(syscall.RUSAGE_SELF, &b)
		if d := time.Duration(b.Utime.Nano() + b.Stime.Nano() - a.Utime.Nano() - a.Stime.Nano()); d < best {
			best = d
		}
	}
	return best
}

// Run runs name with args in dir (the current directory when empty),
// with env added to the environment, and returns its combined output;
// it fails the test when the command fails.
func Run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	if env != nil {
		c.Env = append(os.Environ(), env...)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// Git is Run of git in dir, returning its output without the enclosing
// white space.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(Run(t, dir, nil, "git", args...))
}

// ValidateJUnit checks data against the JUnit schema that kcheck's
// reports follow (internal/bootreport/testdata/junit.xsd) with xmllint. A
// missing xmllint fails the test under KDEFER_E2E=1; otherwise the data
// is left unchecked, with a note in the log.
func ValidateJUnit(t testing.TB, data []byte) {
	t.Helper()
	xl, err := exec.LookPath("xmllint")
	if err != nil {
		if On() {
			t.Fatal("KDEFER_E2E=1 but xmllint is not installed (apt-get install libxml2-utils)")
		}
		t.Log("JUnit XML not validated: xmllint not installed (apt-get install libxml2-utils)")
		return
	}
	_, self, _, _ := runtime.Caller(0)
	xsd := filepath.Join(filepath.Dir(self), "..", "bootreport", "testdata", "junit.xsd")
	f := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(xl, "--noout", "--schema", xsd, f).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v\n%s\n%s", err, out, data)
	}
}

// StaticInit compiles the C program src with gcc -static and returns the
// binary: an /init for a test initramfs.
func StaticInit(t testing.TB, src string) []byte {
	t.Helper()
	Tool(t, "gcc")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "init.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, dir, nil, "gcc", "-static", "-O0", "-Wall", "-o", "init", "init.c")
	b, err := os.ReadFile(filepath.Join(dir, "init"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GitAs is Run of git in dir as a fixed author and committer, returning
// its output as it is.
func GitAs(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return Run(t, dir, []string{"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@x"}, "git", args...)
}

// Repo makes a git repository (branch master) in a new temporary
// directory with one commit, "base", of files (path: content; a path
// ending in .sh is executable).
func Repo(t testing.TB, files map[string]string) string {
	t.Helper()
	Tool(t, "git")
	dir := t.TempDir()
	GitAs(t, dir, "init", "-q", "-b", "master")
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
	GitAs(t, dir, "add", "-A")
	GitAs(t, dir, "commit", "-q", "-m", "base")
	return dir
}
