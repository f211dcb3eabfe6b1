package probe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// TestRealTrees checks the real probes against the Debian trees when
// they are present (KDEFER_TREE_61, KDEFER_TREE_612, KDEFER_TREE_72 or
// the /work/dev scratch trees).
func TestRealTrees(t *testing.T) {
	data, err := os.ReadFile("../../templates/probes.yaml")
	if err != nil {
		t.Skip("no templates/probes.yaml")
	}
	defs, err := Parse("probes.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		env, def string
		want     map[string]string
	}{
		{"KDEFER_TREE_61", "/work/dev/h2/linux-source-6.1", map[string]string{"version": "6.1", "twa_nmi_current": "false", "srcu_fast": "false", "entry_hook_file": "kernel/entry/common.c", "unwind_deferred_upstream": "false"}},
		{"KDEFER_TREE_612", "/work/dev/linux-source-6.12", map[string]string{"version": "6.12", "twa_nmi_current": "true", "srcu_fast": "false", "cleanup_guards": "true", "entry_hook_file": "include/linux/entry-common.h", "unwind_deferred_upstream": "false", "perf_defer_callchain": "false"}},
		{"KDEFER_TREE_72", "/work/dev/linux-7.2", map[string]string{"version": "7.2", "twa_nmi_current": "true", "srcu_fast": "true", "entry_hook_file": "include/linux/irq-entry-common.h", "unwind_deferred_upstream": "true", "perf_defer_callchain": "true"}},
	}
	for _, c := range cases {
		dir := os.Getenv(c.env)
		if dir == "" {
			dir = c.def
		}
		if _, err := os.Stat(filepath.Join(dir, "Makefile")); err != nil {
			t.Logf("%s: no tree at %s, skipped", c.env, dir)
			continue
		}
		r, err := Run(dir, Dir(dir), defs)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		for name, want := range c.want {
			got, _ := r.Value(name)
			if name == "version" {
				got = strings.Join(strings.Split(got, ".")[:2], ".")
			}
			if got != want {
				t.Errorf("%s: %s = %q, want %q", dir, name, got, want)
			}
		}
	}
}
