package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/apply"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/series"
	"github.com/kdefer/kdefer/templates"
)

// The trees the series does not apply to: Debian's 7.x (which carries the
// infrastructure and perf's deferred callchains upstream) and Debian's
// 6.1 (which lacks prerequisites). Both come from kerneltree.Get (the
// kdefer cache); KDEFER_E2E=1 is needed.

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
	run(t, dst, "git", "sparse-checkout", "set", "--no-cone", "/Makefile", "/kernel/", "/include/", "/arch/Kconfig", "/arch/x86/Kconfig", "/tools/include/uapi/linux/", "/MAINTAINERS")
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

// TestE2EUpstream7: on Debian's 7.x every patch is skipped, each with the
// probe that found it; kgen render writes nothing and exits 0, kgen apply
// (also --dry-run) exits 16; nothing changes in the tree.
func TestE2EUpstream7(t *testing.T) {
	dir := sparseClone(t, e2eTree(t, "7"))
	ser, err := series.Load(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	before := treeState(t, dir)

	code, out, errs := kgenOut(t, "probe", dir)
	if code != 0 || !strings.Contains(out, "nothing to apply: the tree already has everything the series adds") {
		t.Errorf("kgen probe: exit %d, want 0 and \"nothing to apply\":\n%s%s", code, out, errs)
	}
	outDir := filepath.Join(t.TempDir(), "x")
	code, out, errs = kgenOut(t, "render", "--tree", dir, "-o", outDir)
	if code != 0 || !strings.Contains(out, "nothing to do: ") || !strings.Contains(out, "nothing written") {
		t.Errorf("kgen render: exit %d, want 0 and \"nothing to do\":\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(outDir); !os.IsNotExist(err) {
		t.Errorf("kgen render created %s", outDir)
	}
	for _, dry := range []bool{false, true} {
		args := []string{"apply", dir}
		if dry {
			args = append(args, "--dry-run")
		}
		code, out, errs = kgenOut(t, args...)
		if code != apply.ExitUpstream || !strings.Contains(errs, "already contains the deferred unwind infrastructure upstream") {
			t.Errorf("kgen %v: exit %d, want %d:\n%s", args, code, apply.ExitUpstream, errs)
		}
		if want := "already present, skipped (14 of 14 patches):"; len(ser.Patches) != 14 || !strings.Contains(out, want) {
			t.Errorf("kgen %v: want %q (the series has %d patches):\n%s", args, want, len(ser.Patches), out)
		}
		for _, p := range ser.Patches {
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
	if after := treeState(t, dir); after != before {
		t.Fatalf("the tree changed:\n%s\n%s", before, after)
	}
	if b, err := exec.Command("git", "-C", dir, "branch", "--list", "unwind-deferred").Output(); err != nil || len(b) != 0 {
		t.Errorf("branch unwind-deferred exists: %s %v", b, err)
	}
}

// TestE2EUnsupported61: Debian's 6.1 lacks prerequisites of the series;
// kgen render and kgen apply refuse it up front with exit 17, naming
// them, and write nothing.
func TestE2EUnsupported61(t *testing.T) {
	dir := sparseClone(t, e2eTree(t, "6.1"))
	before := treeState(t, dir)
	want := []string{"is not supported: exit_to_user_mode_prepare() is in kernel/entry/common.c and TWA_NMI_CURRENT is missing; the series supports Linux 6.12 and later",
		"requires !entry_hook_in_common_c; probe entry_hook_in_common_c is yes: kernel/entry/common.c:",
		"requires twa_nmi_current; probe twa_nmi_current is no: include/linux/task_work.h: no match",
		"nothing written"}
	outDir := filepath.Join(t.TempDir(), "x")
	for _, args := range [][]string{
		{"render", "--tree", dir, "-o", outDir},
		{"apply", dir},
		{"apply", dir, "--dry-run"},
	} {
		code, _, errs := kgenOut(t, args...)
		if code != apply.ExitNoProbe || !strings.HasPrefix(errs, "kgen "+args[0]+": Linux 6.1.") {
			t.Errorf("kgen %v: exit %d, want %d with \"Linux 6.1.\" first:\n%s", args, code, apply.ExitNoProbe, errs)
		}
		for _, w := range want {
			if !strings.Contains(errs, w) {
				t.Errorf("kgen %v: message lacks %q:\n%s", args, w, errs)
			}
		}
	}
	if _, err := os.Stat(outDir); !os.IsNotExist(err) {
		t.Errorf("kgen render created %s", outDir)
	}
	code, out, _ := kgenOut(t, "probe", dir)
	if code != 0 || !strings.Contains(out, "not supported: kgen render and kgen apply refuse this tree (exit 17)") {
		t.Errorf("kgen probe: exit %d:\n%s", code, out)
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("the tree changed:\n%s\n%s", before, after)
	}
}
