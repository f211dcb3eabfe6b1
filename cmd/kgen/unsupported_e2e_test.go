package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/series"
	"github.com/kdefer/kdefer/templates"
)

// Trees other than the reference base: Debian's 7.x (which carries the
// infrastructure and perf's deferred callchains upstream) and Debian's
// 6.1 (which gets a prerequisite patch first). Both come from
// kerneltree.Get (the kdefer cache); KDEFER_E2E=1 is needed.

func e2eTree(t *testing.T, version string) string {
	t.Helper()
	e2e.Need(t, "runs kgen on a real kernel tree")
	return e2e.Tree(t, version)
}

// sparseClone makes a private clone of the cached tree src sharing its
// objects (git clone --shared) with only the directories kgen reads
// checked out, so that a bug can never touch the cache.
func sparseClone(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "linux")
	run(t, "/", "git", "clone", "-q", "--shared", "--no-checkout", src, dst)
	run(t, dst, "git", "sparse-checkout", "set", "--no-cone", "/Makefile", "/kernel/", "/include/", "/arch/Kconfig", "/arch/x86/", "/fs/", "/mm/", "/tools/include/uapi/linux/", "/MAINTAINERS")
	run(t, dst, "git", "checkout", "-q")
	run(t, dst, "git", "config", "user.name", "Kgen E2E")
	run(t, dst, "git", "config", "user.email", "kgen-e2e@example.org")
	return dst
}

// kgenOut runs kgen in process and returns its exit code, stdout and
// stderr.
func kgenOut(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var code int
	var errs string
	out := captureStdout(t, func() { code, errs = runKgen(t, args...) })
	t.Logf("kgen %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	return code, out, errs
}

// TestE2EUpstream7: Debian's 7.x carries the infrastructure and perf's
// deferred callchains upstream but no SFrame unwinder. Every patch of
// the infrastructure is skipped, each with the probe that found it; the
// SFrame patches alone are rendered and applied on top of upstream's
// code; --dry-run changes nothing.
func TestE2EUpstream7(t *testing.T) {
	dir := sparseClone(t, e2eTree(t, "7"))
	ser, err := series.Load(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	var skipped, added []*series.Patch
	for _, p := range ser.Patches {
		if p.SkipIf != "" {
			skipped = append(skipped, p)
		} else {
			added = append(added, p)
		}
	}
	if len(skipped) < 14 || len(added) == 0 {
		t.Fatalf("the series has %d patches with a skip-if probe and %d without; want the 14 of the infrastructure and the SFrame ones", len(skipped), len(added))
	}
	n := len(ser.Patches)
	before := treeState(t, dir)

	probeAndRender(t, dir, fmt.Sprintf("%d patches would be applied, %d are already present", len(added), len(skipped)), len(added))
	checkSkips := func(args []string, out string) {
		t.Helper()
		if want := fmt.Sprintf("already present, skipped (%d of %d patches):", len(skipped), n); !strings.Contains(out, want) {
			t.Errorf("kgen %v: want %q:\n%s", args, want, out)
		}
		for _, p := range skipped {
			if !strings.Contains(out, "  "+p.Name+" ") || !strings.Contains(out, "probe "+p.SkipIf+" found ") {
				t.Errorf("kgen %v: patch %s (skip-if %s) not listed with its probe:\n%s", args, p.Name, p.SkipIf, out)
			}
		}
		for _, w := range []string{"probe perf_defer_callchain found include/uapi/linux/perf_event.h:", "probe unwind_deferred_upstream found kernel/unwind/deferred.c: exists"} {
			if !strings.Contains(out, w) {
				t.Errorf("kgen %v: output lacks %q", args, w)
			}
		}
	}
	args := []string{"apply", dir, "--dry-run"}
	code, out, errs := kgenOut(t, args...)
	if code != 0 {
		t.Errorf("kgen %v: exit %d, want 0:\n%s", args, code, errs)
	}
	checkSkips(args, out)
	if after := treeState(t, dir); after != before {
		t.Fatalf("kgen apply --dry-run changed the tree:\n%s\n%s", before, after)
	}
	base := gitOut(t, dir, "rev-parse", "HEAD")

	args = []string{"apply", dir}
	code, out, errs = kgenOut(t, args...)
	if code != 0 {
		t.Fatalf("kgen %v: exit %d, want 0:\n%s", args, code, errs)
	}
	checkSkips(args, out)
	if b := gitOut(t, dir, "branch", "--show-current"); strings.TrimSpace(b) != "unwind-deferred" {
		t.Errorf("after kgen apply the branch is %q, want unwind-deferred", b)
	}
	checkApplied(t, dir, base, added)
	for _, f := range []string{"kernel/unwind/sframe.c", "include/linux/sframe.h"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after kgen apply: %v", err)
		}
	}
}

// probeAndRender runs kgen probe on dir, which must exit 0 and say
// want, and kgen render -o, which must write a cover letter and n
// patches; it returns probe's output and the render's directory.
func probeAndRender(t *testing.T, dir, want string, n int) (string, string) {
	t.Helper()
	code, probeOut, errs := kgenOut(t, "probe", dir)
	if code != 0 || !strings.Contains(probeOut, want) {
		t.Errorf("kgen probe: exit %d, want 0 and %q:\n%s%s", code, want, probeOut, errs)
	}
	outDir := filepath.Join(t.TempDir(), "x")
	code, out, errs := kgenOut(t, "render", "--tree", dir, "-o", outDir)
	if code != 0 {
		t.Fatalf("kgen render: exit %d:\n%s%s", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "*.patch"))
	if len(files) != n+1 {
		t.Fatalf("kgen render wrote %d files, want %d patches and a cover letter: %v", len(files), n, files)
	}
	return probeOut, outDir
}

// checkApplied checks what kgen apply left in dir: one commit for each
// of want on top of base, in order and with its subject, a clean work
// tree and a connected repository.
func checkApplied(t *testing.T, dir, base string, want []*series.Patch) {
	t.Helper()
	subjects := strings.Split(strings.TrimSpace(gitOut(t, dir, "log", "--reverse", "--format=%s", strings.TrimSpace(base)+"..HEAD")), "\n")
	if len(subjects) != len(want) {
		t.Fatalf("kgen apply made %d commits, want %d: %q", len(subjects), len(want), subjects)
	}
	for i, p := range want {
		if !strings.Contains(subjects[i], p.Subject) {
			t.Errorf("commit %d is %q, want the subject of %s (%q)", i+1, subjects[i], p.Name, p.Subject)
		}
	}
	if st := gitOut(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("git status after kgen apply:\n%s", st)
	}
	gitOut(t, dir, "fsck", "--no-dangling", "--connectivity-only")
}

// TestE2E61: Debian's 6.1 lacks TWA_NMI_CURRENT and has
// exit_to_user_mode_prepare() in kernel/entry/common.c. The series
// renders there with the prerequisite patch that backports
// TWA_NMI_CURRENT first and the entry hook in kernel/entry/common.c, and
// kgen apply commits every patch; kgen probe calls the tree supported.
func TestE2E61(t *testing.T) {
	dir := sparseClone(t, e2eTree(t, "6.1"))
	ser, err := series.Load(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	n := len(ser.Patches)
	if ser.Patches[0].Name != "twa-nmi-current" {
		t.Fatalf("the series starts with %s, want the prerequisite twa-nmi-current", ser.Patches[0].Name)
	}
	base := strings.TrimSpace(gitOut(t, dir, "rev-parse", "HEAD"))

	probeOut, outDir := probeAndRender(t, dir, fmt.Sprintf("the whole series (%d patches) would be applied", n), n)
	if strings.Contains(probeOut, "not supported") {
		t.Errorf("kgen probe calls the tree not supported:\n%s", probeOut)
	}
	firstName, _ := filepath.Glob(filepath.Join(outDir, "v2-0001-task_work-*.patch"))
	if len(firstName) != 1 {
		t.Fatalf("no single patch 1 of the prerequisite: %v", firstName)
	}
	first, err := os.ReadFile(firstName[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"+\tTWA_NMI_CURRENT,", "+\tTWAF_NO_ALLOC = 0x0100,", "+\tcase TWA_NMI_CURRENT:", "irq_work_queue(this_cpu_ptr(", "kasan_record_aux_stack_noalloc(work);"} {
		if !strings.Contains(string(first), w) {
			t.Errorf("the prerequisite patch lacks %q", w)
		}
	}

	code, out, errs := kgenOut(t, "apply", dir)
	if code != 0 {
		t.Fatalf("kgen apply: exit %d:\n%s%s", code, out, errs)
	}
	checkApplied(t, dir, base, ser.Patches)
	common := gitOut(t, dir, "show", "HEAD:kernel/entry/common.c")
	if !strings.Contains(common, "#include <linux/unwind_deferred.h>") || !strings.Contains(common, "\tunwind_reset_info();") {
		t.Errorf("kernel/entry/common.c lacks the entry hook")
	}
}
