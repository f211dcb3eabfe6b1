package perftool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

// buildSuite compiles the guest suite (qemu-tests/perftool) on the host;
// its --parse mode runs only the perf script / perf report -D parsers.
func buildSuite(t *testing.T) string {
	t.Helper()
	e2e.Tool(t, "gcc")
	dir := t.TempDir()
	for _, f := range []string{"perftool/perf-tool-selftest.c", "include/perf_defer.h"} {
		src, err := qemutests.FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := filepath.Join(dir, "perf-tool-selftest.c")
	bin := filepath.Join(dir, "perf-tool-selftest")
	if out, err := exec.Command("gcc", "-O1", "-Wall", "-Werror", "-o", bin, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func parse(t *testing.T, bin, name string) map[string]string {
	t.Helper()
	out, err := exec.Command(bin, "--parse", filepath.Join("testdata", name+".script"),
		filepath.Join("testdata", name+".dump")).CombinedOutput()
	if err != nil {
		t.Fatalf("--parse %s: %v\n%s", name, err, out)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

func TestParsers(t *testing.T) {
	bin := buildSuite(t)
	for _, tc := range []struct {
		name string
		want map[string]string
	}{
		// Real output of the static perf on a host kernel without
		// deferred callchains: perf fell back to in-interrupt user
		// stacks. The chains are complete, and there is nothing deferred:
		// the suite's deferred_records case must catch exactly this.
		{"fallback", map[string]string{
			"samples": "6", "workload_samples": "6", "in_chain": "6", "full_chain": "6", "unmerged": "0",
			"dump_samples": "6", "dump_workload_samples": "6",
			"deferred_samples": "0", "deferred_records": "0", "workload_records": "0",
			"unmatched": "0", "duplicate_records": "0", "shared_cookies": "0",
		}},
		// Written in the format of perf 7.3 (util/session.c): two samples
		// inside one read(2) share a cookie; one sample misses wl_c (its
		// chain is not full); a sample of another comm and an idle sample
		// do not count; one deferred sample has no record; one cookie has
		// two records. A sample in exec is outside the chain; a sample
		// in the deferred callback of its entry shows the bare cookie
		// (unmerged: its record came before it).
		{"deferred", map[string]string{
			"samples": "8", "workload_samples": "6", "in_chain": "4", "full_chain": "3", "unmerged": "1",
			"dump_samples": "6", "dump_workload_samples": "4",
			"deferred_samples": "4", "deferred_records": "4", "workload_records": "3",
			"unmatched": "1", "duplicate_records": "1", "shared_cookies": "1",
			"max_samples_per_cookie": "2",
		}},
		// Written in the same format: whole chains from wl_leaf (one
		// through the C library's clock_gettime), one taken in wl_c
		// itself (wl_c <- wl_b <- wl_a <- main: whole for where it
		// was, as a guest run printed it on 2026-12-02, once in 509
		// samples), one in wl_b that skips wl_a, one in wl_c that stops
		// at wl_b. The floor of sframe_full_chain counted the wl_c one
		// as a miss.
		{"caller", map[string]string{
			"samples": "5", "workload_samples": "5", "in_chain": "5", "full_chain": "3", "in_caller": "1",
		}},
	} {
		got := parse(t, bin, tc.name)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", tc.name, k, got[k], v, got)
			}
		}
	}
}

// On a kernel without the deferred callchain ABI (this host's, when it
// lacks it) the suite skips whole, with that reason, before it looks
// for perf: perf would fall back to in-interrupt stacks and every
// deferred case would fail for a kernel that never claimed the ABI.
func TestSuiteSkipsWithoutTheDeferABI(t *testing.T) {
	syms, err := os.ReadFile("/proc/kallsyms")
	if err != nil || strings.Contains(string(syms), " perf_callchain_deferred_output\n") {
		t.Skip("this host's kernel has deferred callchains (or no /proc/kallsyms)")
	}
	if os.Geteuid() != 0 {
		t.Skip("perf_event_open may be refused to a user here (perf_event_paranoid)")
	}
	out, err := exec.Command(buildSuite(t)).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 77 {
		t.Fatalf("exit %v, want 77 (skipped)\n%s", err, out)
	}
	if !strings.Contains(string(out), "\n1..0\n# SKIP the kernel lacks the deferred callchain ABI") {
		t.Fatalf("no skip for the missing ABI:\n%s", out)
	}
}
