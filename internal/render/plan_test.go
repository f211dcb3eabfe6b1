package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// requiresYAML is prepended to the fixture's series.yaml.
const requiresYAML = `supported: "Linux 6.12 and later"
requires:
  - probe: twa_nmi_current
    missing: "TWA_NMI_CURRENT is missing"
  - probe: "!unwind_upstream"
    missing: "kernel/unwind/deferred.c exists"
`

// requiresTemplates is a copy of the fixture templates with requiresYAML;
// skipAll also makes every patch skip-if unwind_upstream.
func requiresTemplates(t *testing.T, skipAll bool) string {
	t.Helper()
	tdir := t.TempDir()
	e2e.CopyDir(t, "testdata/templates", tdir)
	for _, f := range []string{"series.yaml", "series.d/50-more.yaml"} {
		p := filepath.Join(tdir, f)
		data, _ := os.ReadFile(p)
		s := string(data)
		if skipAll {
			s = strings.ReplaceAll(s, "    skip-if: unwind_upstream\n", "")
			s = strings.ReplaceAll(s, "    message: |", "    skip-if: unwind_upstream\n    message: |")
		}
		if f == "series.yaml" {
			s = requiresYAML + s
		}
		os.WriteFile(p, []byte(s), 0o644)
	}
	return tdir
}

// kernelWith is a git repository of the fixture kernel after change.
func kernelWith(t *testing.T, change func(dir string)) string {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "linux")
	e2e.CopyDir(t, "testdata/kernel", dir)
	change(dir)
	run(t, dir, baseEnv, "git", "init", "-q", "-b", "master")
	run(t, dir, baseEnv, "git", "add", ".")
	run(t, dir, baseEnv, "git", "commit", "-qm", "base")
	return dir
}

func noTWA(dir string) {
	p := filepath.Join(dir, "include/linux/task_work.h")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), "\tTWA_NMI_CURRENT,\n", "", 1)), 0o644)
}

func upstream(dir string) {
	os.MkdirAll(filepath.Join(dir, "kernel/unwind"), 0o755)
	os.WriteFile(filepath.Join(dir, "kernel/unwind/deferred.c"), []byte("upstream\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "kernel/unwind/user.c"), []byte("upstream\n"), 0o644)
}

// TestRequiresMet: requirements that hold change nothing in the output.
func TestRequiresMet(t *testing.T) {
	res, err := Render(context.Background(), Options{Templates: os.DirFS(requiresTemplates(t, false)), Tree: fakeKernel(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check("testdata/golden"); err != nil {
		t.Fatal(err)
	}
}

// TestRequiresRefused: a tree lacking prerequisites is refused before
// anything is rendered, naming each missing one with its probe and
// evidence.
func TestRequiresRefused(t *testing.T) {
	tree := kernelWith(t, noTWA)
	_, err := Render(context.Background(), Options{Templates: os.DirFS(requiresTemplates(t, false)), Tree: tree})
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("want *UnsupportedError, got %v", err)
	}
	if len(ue.Unmet) != 1 || ue.Unmet[0].Probe != "twa_nmi_current" {
		t.Fatalf("unmet %+v", ue.Unmet)
	}
	want := "Linux 6.12.117 is not supported: TWA_NMI_CURRENT is missing; the series supports Linux 6.12 and later\n" +
		"  requires twa_nmi_current; probe twa_nmi_current is no: include/linux/task_work.h: no match for /\\bTWA_NMI_CURRENT\\b/"
	if err.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", err, want)
	}

	// Both requirements fail: "!name" reports the probe as "yes".
	tree = kernelWith(t, func(d string) { noTWA(d); upstream(d) })
	tdir := requiresTemplates(t, false)
	// the skip-if patch of the fixture is skipped here, the others are not
	_, err = Render(context.Background(), Options{Templates: os.DirFS(tdir), Tree: tree})
	if !errors.As(err, &ue) || len(ue.Unmet) != 2 {
		t.Fatalf("want two unmet requirements, got %v", err)
	}
	for _, w := range []string{"TWA_NMI_CURRENT is missing and kernel/unwind/deferred.c exists;",
		"requires !unwind_upstream; probe unwind_upstream is yes: kernel/unwind/deferred.c: exists"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q:\n%s", w, err)
		}
	}
}

// TestRequiresNotNeededWhenAllSkipped: a tree that already has every
// patch needs none of the prerequisites; each skipped patch carries the
// probe and its evidence.
func TestRequiresNotNeededWhenAllSkipped(t *testing.T) {
	tree := kernelWith(t, func(d string) { noTWA(d); upstream(d) })
	res, err := Render(context.Background(), Options{Templates: os.DirFS(requiresTemplates(t, true)), Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Patches) != 0 || len(res.Skipped) != 3 {
		t.Fatalf("patches %d, skipped %d", len(res.Patches), len(res.Skipped))
	}
	for _, s := range res.Skipped {
		if s.Probe != "unwind_upstream" || s.Evidence != "kernel/unwind/deferred.c: exists" {
			t.Errorf("%s: probe %q evidence %q", s.Name, s.Probe, s.Evidence)
		}
	}
}
