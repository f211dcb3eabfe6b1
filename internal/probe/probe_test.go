package probe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

const defsYAML = `
- name: twa
  desc: TWA_NMI_CURRENT
  file: include/linux/task_work.h
  regex: '\bTWA_NMI_CURRENT\b'
- name: lit
  file: include/linux/task_work.h
  contains: "TWA_RESUME,"
- name: unwind
  file: kernel/unwind/deferred.c
  exists: true
- name: missing_ok
  file: include/linux/nope.h
  regex: 'x'
- name: hook
  choice:
    - file: include/linux/irq-entry-common.h
      regex: '^static __always_inline void (__)?exit_to_user_mode_prepare\('
    - file: include/linux/entry-common.h
      regex: '^static __always_inline void exit_to_user_mode_prepare\('
`

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const mk = "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\nNAME = x\n"

func TestRun(t *testing.T) {
	defs, err := Parse("probes.yaml", []byte(defsYAML))
	if err != nil {
		t.Fatal(err)
	}
	dir := tree(t, map[string]string{
		"Makefile":                     mk,
		"include/linux/task_work.h":    "enum {\n\tTWA_RESUME,\n\tTWA_NMI_CURRENT,\n};\n",
		"include/linux/entry-common.h": "static __always_inline void exit_to_user_mode_prepare(struct pt_regs *regs)\n",
	})
	r, err := Run(dir, Dir(dir), defs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version.String() != "6.12.117" {
		t.Errorf("version %s", r.Version)
	}
	for name, want := range map[string]bool{"twa": true, "lit": true, "unwind": false, "missing_ok": false, "hook": true} {
		if got, err := r.Has(name); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", name, got, err, want)
		}
	}
	if v, _ := r.Value("hook"); v != "include/linux/entry-common.h" {
		t.Errorf("hook = %q", v)
	}
	if p, _ := r.Get("twa"); p.Evidence != "include/linux/task_work.h:3: TWA_NMI_CURRENT," {
		t.Errorf("evidence %q", p.Evidence)
	}
	if _, err := r.Has("twa_typo"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown probe: %v", err)
	}
	if ok, _ := r.Cond("!unwind"); !ok {
		t.Errorf("!unwind should be true")
	}
}

func TestCannotDecide(t *testing.T) {
	defs, _ := Parse("p", []byte(defsYAML))
	dir := tree(t, map[string]string{"Makefile": mk, "include/linux/task_work.h": "TWA_RESUME,\n"})
	_, err := Run(dir, Dir(dir), defs)
	var cd *CannotDecide
	if !errors.As(err, &cd) || cd.Probe != "hook" || !strings.Contains(err.Error(), "include/linux/entry-common.h: absent") {
		t.Fatalf("want hook cannot decide naming the files, got %v", err)
	}
	req, _ := Parse("p", []byte("- name: r\n  required: true\n  file: a.h\n  regex: x\n"))
	_, err = Run(dir, Dir(dir), req)
	if !errors.As(err, &cd) || cd.Probe != "r" {
		t.Fatalf("required probe with missing file: %v", err)
	}
}

func TestNotAKernelTree(t *testing.T) {
	dir := tree(t, map[string]string{"README": "hi\n"})
	if _, err := Run(dir, Dir(dir), nil); err == nil || !strings.Contains(err.Error(), "not a kernel tree") {
		t.Fatalf("got %v", err)
	}
	dir = tree(t, map[string]string{"Makefile": "all:\n\techo\n"})
	if _, err := Run(dir, Dir(dir), nil); err == nil || !strings.Contains(err.Error(), "no VERSION") {
		t.Fatalf("got %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, y := range []string{
		"- name: Bad\n  file: a\n  regex: x\n",
		"- name: a\n  file: a\n",
		"- name: a\n  file: a\n  regex: x\n  contains: y\n",
		"- name: a\n  file: a\n  regex: '('\n",
		"- name: a\n  file: a\n  regex: x\n- name: a\n  file: b\n  regex: x\n",
		"- name: a\n  fiel: a\n  regex: x\n",
		"- name: version\n  file: a\n  regex: x\n",
	} {
		if _, err := Parse("probes.yaml", []byte(y)); err == nil {
			t.Errorf("%q: want an error", y)
		}
	}
}

// realTrees are the Debian trees TestRealTrees checks, with every probe's
// answer checked by hand against the sources (grep of the files each
// probe names; see the table at the top of templates/probes.yaml).
var realTrees = []struct {
	version string // kerneltree version ("6.1", "6.12", "7")
	prefix  string // release prefix of the cached tree
	want    map[string]string
}{
	{"6.1", "6.1.", map[string]string{
		"twaf_no_alloc":                  "false",
		"hrtimer_setup":                  "false",
		"twa_nmi_current":                "false", // include/linux/task_work.h has TWA_RESUME, TWA_SIGNAL, TWA_SIGNAL_NO_IPI only
		"srcu_fast":                      "false",
		"srcu_read_lock_fast":            "false",
		"srcu_lite":                      "false",
		"cleanup_guards":                 "true",                  // linux/cleanup.h backported to 6.1 stable
		"srcu_guard":                     "true",                  // srcu.h: DEFINE_LOCK_GUARD_1(srcu, ...
		"entry_hook_file":                "kernel/entry/common.c", // static void exit_to_user_mode_prepare(
		"entry_hook_in_common_c":         "true",
		"generic_entry":                  "true",
		"unwind_deferred_upstream":       "false",
		"unwind_user_upstream":           "false",
		"perf_defer_callchain":           "false",
		"perf_callchain_deferred_record": "false",
		"perf_event_header_init":         "false", // only perf_event_header__init_id()
		"x86":                            "true",
		"x86_fp_unwind_user":             "false",
		"task_struct_in_sched_h":         "true",
		"kzalloc_obj":                    "false", // 6.1.192: no kzalloc_obj in slab.h
		"mm_vma_c":                       "false",
		"perf_callchain_init_nr":         "true",
		"prctl_riscv_icache_flush":       "false",
		"linux_unaligned_h":              "false",
		"perf_event_ctxp_array":          "true",
	}},
	{"6.12", "6.12.", map[string]string{
		"twaf_no_alloc":                  "true", // task_work.h: TWAF_NO_ALLOC = 0x0100,
		"hrtimer_setup":                  "false",
		"twa_nmi_current":                "true", // task_work.h: TWA_NMI_CURRENT,
		"srcu_fast":                      "false",
		"srcu_read_lock_fast":            "false",
		"srcu_lite":                      "false",
		"cleanup_guards":                 "true",
		"srcu_guard":                     "true",
		"entry_hook_file":                "include/linux/entry-common.h", // static __always_inline void exit_to_user_mode_prepare(
		"entry_hook_in_common_c":         "false",
		"generic_entry":                  "true",
		"unwind_deferred_upstream":       "false",
		"unwind_user_upstream":           "false",
		"perf_defer_callchain":           "false",
		"perf_callchain_deferred_record": "false",
		"perf_event_header_init":         "true", // 6.12.117 (6.12.95: false)
		"x86":                            "true",
		"x86_fp_unwind_user":             "false",
		"task_struct_in_sched_h":         "true",
		"kzalloc_obj":                    "true", // 6.12.117 has it (6.12.95 does not)
		"mm_vma_c":                       "true",
		"perf_callchain_init_nr":         "false",
		"prctl_riscv_icache_flush":       "true",
		"linux_unaligned_h":              "true",
		"perf_event_ctxp_array":          "false",
	}},
	{"7", "7.", map[string]string{
		"twaf_no_alloc":                  "false", // kasan_record_aux_stack() never allocates: the flag is gone,
		"hrtimer_setup":                  "true",  // hrtimer.h: extern void hrtimer_setup(,
		"twa_nmi_current":                "true",
		"srcu_fast":                      "true", // srcu.h: DEFINE_LOCK_GUARD_1(srcu_fast, ...
		"srcu_read_lock_fast":            "true",
		"srcu_lite":                      "false", // renamed srcu_read_lock_fast
		"cleanup_guards":                 "true",
		"srcu_guard":                     "true",
		"entry_hook_file":                "include/linux/irq-entry-common.h", // static __always_inline void __exit_to_user_mode_prepare(
		"entry_hook_in_common_c":         "false",
		"generic_entry":                  "true",
		"unwind_deferred_upstream":       "true", // kernel/unwind/deferred.c
		"unwind_user_upstream":           "true", // kernel/unwind/user.c
		"perf_defer_callchain":           "true", // perf_event.h: defer_callchain:  1,
		"perf_callchain_deferred_record": "true", // PERF_RECORD_CALLCHAIN_DEFERRED = 22,
		"perf_event_header_init":         "true",
		"x86":                            "true",
		"x86_fp_unwind_user":             "true", // select HAVE_UNWIND_USER_FP if X86_64
		"task_struct_in_sched_h":         "true",
		"kzalloc_obj":                    "true",
		"mm_vma_c":                       "true",
		"perf_callchain_init_nr":         "false",
		"prctl_riscv_icache_flush":       "true",
		"linux_unaligned_h":              "true",
		"perf_event_ctxp_array":          "false",
	}},
}

// TestRealTrees runs the real probes on the Debian 6.1, 6.12 and 7.x
// trees of the kdefer cache (KDEFER_E2E=1 fetches the missing ones) and
// checks every answer against the hand-checked table above, and that the
// three trees get different answers.
func TestRealTrees(t *testing.T) {
	data, err := os.ReadFile("../../templates/probes.yaml")
	if err != nil {
		t.Fatalf("templates/probes.yaml: %v", err)
	}
	defs, err := Parse("probes.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{}
	var missing []string
	for _, c := range realTrees {
		for _, d := range defs {
			if _, ok := c.want[d.Name]; !ok {
				t.Errorf("Linux %s: no hand-checked answer for probe %s: check the tree and add it to realTrees", c.version, d.Name)
			}
		}
		dir := e2e.Cached(c.version)
		if dir == "" && e2e.On() {
			dir = e2e.Tree(t, c.version)
		}
		if dir == "" {
			missing = append(missing, c.version)
			continue
		}
		r, err := Run(dir, Dir(dir), defs)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		if !strings.HasPrefix(r.Version.String(), c.prefix) {
			t.Errorf("%s: version %s, want %s*", dir, r.Version, c.prefix)
		}
		var all []string
		for _, p := range r.Probes[1:] {
			got, _ := r.Value(p.Name)
			all = append(all, p.Name+"="+got)
			if want, ok := c.want[p.Name]; ok && got != want {
				t.Errorf("Linux %s (%s): %s = %q, want %q (evidence: %s)", r.Version, dir, p.Name, got, want, p.Evidence)
			}
		}
		t.Logf("Linux %s (%s): %s", r.Version, dir, strings.Join(all, " "))
		answers[c.version] = strings.Join(all, " ")
	}
	for i, a := range realTrees {
		for _, b := range realTrees[i+1:] {
			if answers[a.version] != "" && answers[a.version] == answers[b.version] {
				t.Errorf("Linux %s and %s get the same answers: %s", a.version, b.version, answers[a.version])
			}
		}
	}
	if len(missing) > 0 {
		t.Skipf("no cached Debian tree for %s (KDEFER_E2E=1 fetches them with kerneltree.Get)", strings.Join(missing, ", "))
	}
}
