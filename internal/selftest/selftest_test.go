package selftest

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/testkit"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

// caseNames extracts the case table of the driver.
func caseNames(t *testing.T) []string {
	t.Helper()
	src, err := qemutests.FS.ReadFile("user/unwind-selftest.c")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\{ "([a-z0-9_]+)", t_[a-z0-9_]+ \}`)
	var names []string
	for _, m := range re.FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	return names
}

func TestEmbeddedSourcesComplete(t *testing.T) {
	for _, f := range []string{"module/unwind_test.c", "module/unwind_test_uapi.h",
		"module/Kbuild", "user/unwind-selftest.c", "user/compat32.c", SharedHeader, PerfDeferHeader, "README.md"} {
		if _, err := qemutests.FS.ReadFile(f); err != nil {
			t.Errorf("embedded %s: %v", f, err)
		}
	}
}

// Every case the driver runs is described in the README, and the issue's
// required areas each have a case.
func TestReadmeDescribesEveryCase(t *testing.T) {
	names := caseNames(t)
	if len(names) < 20 {
		t.Fatalf("found %d cases in the driver table, want >= 20: %v", len(names), names)
	}
	readme, _ := qemutests.FS.ReadFile("README.md")
	for _, n := range names {
		if !strings.Contains(string(readme), "`"+n+"`") {
			t.Errorf("case %s is not described in qemu-tests/README.md", n)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate case name %s", n)
		}
		seen[n] = true
	}
	for _, want := range []string{"task_request", "nmi_request", "irq_request",
		"return_values", "cookie_same_within_entry", "cookie_new_each_entry",
		"exit_with_request_pending", "fork_child_starts_clean",
		"bits_exhausted_ebusy", "kthread_refused", "compat_task_refused",
		"stress_nmi_syscalls"} {
		if !seen[want] {
			t.Errorf("required case %s missing", want)
		}
	}
}

func TestWriteSourcesKeepsUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	if err := writeSources(dir); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "module", "unwind_test.c")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if err := writeSources(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(old) {
		t.Errorf("unchanged source rewritten (mtime %v): kbuild would rebuild for nothing", st.ModTime())
	}
	// A changed file is rewritten.
	if err := os.WriteFile(p, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSources(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) == "stale" {
		t.Error("stale source not refreshed")
	}
}

func TestFirstError(t *testing.T) {
	log := "  CC [M]  x.o\nx.c:3:1: error: expected ';'\nmake: *** Error 1\n"
	if got := firstError(log); got != "x.c:3:1: error: expected ';'" {
		t.Errorf("firstError = %q", got)
	}
	if got := firstError("a\nlast line\n"); got != "last line" {
		t.Errorf("firstError without error = %q", got)
	}
}

func TestBuildRejectsNonBuildDir(t *testing.T) {
	_, err := Build(context.Background(), Options{BuildDir: t.TempDir(), Work: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "not a kernel build directory") {
		t.Errorf("err = %v", err)
	}
}

// The user-space programs build with the host compiler (no kernel needed).
func TestUserProgramsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles C")
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/libc.a"); err != nil {
		t.Skip("static glibc (libc6-dev) not installed")
	}
	ctx := context.Background()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	if err := prepareSources(src, ""); err != nil {
		t.Fatal(err)
	}
	o := Options{Work: work, CC: "gcc"}
	bin, err := buildUser(ctx, o, src, "init", DriverCFlags,
		[]string{"user/unwind-selftest.c"}, []string{"-lpthread"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("driver machine %v", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("driver is not static: it has an ELF interpreter")
		}
	}
	// The second build is served from the stamp.
	st1, _ := os.Stat(filepath.Join(work, "init"))
	if _, err := buildUser(ctx, o, src, "init", DriverCFlags,
		[]string{"user/unwind-selftest.c"}, []string{"-lpthread"}); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(filepath.Join(work, "init"))
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("driver rebuilt although nothing changed")
	}
	if c32, err := buildUser(ctx, o, src, "compat32", compat32Flags(ctx, "gcc"),
		[]string{"user/compat32.c"}, nil); err == nil {
		f, err := elf.NewFile(bytes.NewReader(c32))
		if err != nil || f.Machine != elf.EM_386 {
			t.Errorf("compat helper is not i386: %v %v", err, f)
		}
	} else {
		t.Logf("no 32-bit helper on this machine: %v", err)
	}
}

// TestBuildE2E builds the module against a real kernel build directory:
// KDEFER_SELFTEST_BUILD_DIR (and KDEFER_SELFTEST_SRC for make modules).
func TestBuildE2E(t *testing.T) {
	bd, src := os.Getenv("KDEFER_SELFTEST_BUILD_DIR"), os.Getenv("KDEFER_SELFTEST_SRC")
	if bd == "" {
		e2e.Need(t, "builds the self-tests against a kernel build")
		var kb *kbuild.Result
		src, kb = testkit.Kernel(t)
		bd = kb.Dir
	}
	arts, err := Build(context.Background(), Options{BuildDir: bd, Src: src, Work: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Artifact{}
	for _, a := range arts {
		got[a.Name] = a
	}
	for _, n := range []string{InitName, ModuleName} {
		a, ok := got[n]
		if !ok || len(a.Data) == 0 {
			t.Errorf("artifact %s missing", n)
			continue
		}
		if !bytes.HasPrefix(a.Data, []byte("\x7fELF")) {
			t.Errorf("artifact %s is not ELF", n)
		}
	}
	if _, ok := got[Compat32Name]; !ok {
		if _, ok := got[Compat32Why]; !ok {
			t.Error("neither the compat helper nor the reason it is missing")
		}
	}
}

// The probes header names what the tree offers: hrtimer_setup() on 7.x,
// not on 6.12 (the module's choice between hrtimer_setup and
// hrtimer_init rests on it).
func TestProbesHeaderRealTrees(t *testing.T) {
	for _, c := range []struct {
		version string
		want    map[string]bool
	}{
		{"6.12", map[string]bool{"KDEFER_HAVE_HRTIMER_SETUP": false, "KDEFER_HAVE_TWAF_NO_ALLOC": true}},
		{"7", map[string]bool{"KDEFER_HAVE_HRTIMER_SETUP": true, "KDEFER_HAVE_UNWIND_DEFERRED_UPSTREAM": true}},
	} {
		tree := e2e.Cached(c.version)
		if tree == "" {
			t.Logf("no cached %s git tree: skipped", c.version)
			continue
		}
		hdr, err := ProbesHeader(tree)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range c.want {
			got := strings.Contains(string(hdr), "#define "+name+" 1\n")
			if got != want {
				t.Errorf("%s: %s defined = %v, want %v\n%s", tree, name, got, want, hdr)
			}
		}
	}
	hdr, err := ProbesHeader("")
	if err != nil || strings.Contains(string(hdr), "#define KDEFER_HAVE") {
		t.Errorf("without a tree: %v\n%s", err, hdr)
	}
}
