package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/apply"
)

// requiresFixture returns a copy of the fixture templates whose
// series.yaml requires the generic entry code, as the real series does
// (no patch of the series can supply it, unlike TWA_NMI_CURRENT, which
// the prerequisite patch backports), and a fixture kernel (a git
// repository) without kernel/entry/common.c.
func requiresFixture(t *testing.T) (templates, tree string) {
	t.Helper()
	templates = filepath.Join(t.TempDir(), "templates")
	if out, err := exec.Command("cp", "-r", fixtureTemplates, templates).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	p := filepath.Join(templates, "series.yaml")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, append([]byte("supported: \"Linux 6.1 and later, with the generic entry code\"\nrequires:\n  - probe: generic_entry\n    missing: \"the generic entry code (kernel/entry/common.c) is missing\"\n"), data...), 0o644)
	p = filepath.Join(templates, "probes.yaml")
	data, _ = os.ReadFile(p)
	os.WriteFile(p, append(data, []byte("- name: generic_entry\n  desc: the generic entry code exists\n  file: kernel/entry/common.c\n  exists: true\n")...), 0o644)
	tree = applyFixture(t)
	if _, err := os.Stat(filepath.Join(tree, "kernel/entry/common.c")); !os.IsNotExist(err) {
		t.Fatalf("the fixture kernel has kernel/entry/common.c (%v)", err)
	}
	return templates, tree
}

// TestUnsupportedTree: kgen render and kgen apply refuse a tree that
// lacks a prerequisite of the series with exit 17, naming what it lacks
// and the probe's evidence, and write nothing.
func TestUnsupportedTree(t *testing.T) {
	templates, tree := requiresFixture(t)
	before := treeState(t, tree)
	want := []string{"Linux 6.12.117 is not supported: the generic entry code (kernel/entry/common.c) is missing; the series supports Linux 6.1 and later, with the generic entry code",
		"requires generic_entry; probe generic_entry is no: kernel/entry/common.c: absent", "nothing written"}
	out := filepath.Join(t.TempDir(), "series")
	for _, args := range [][]string{
		{"render", "--templates", templates, "--tree", tree, "-o", out},
		{"apply", tree, "--templates", templates},
		{"apply", tree, "--templates", templates, "--dry-run"},
	} {
		code, msg := runKgen(t, args...)
		if code != apply.ExitNoProbe {
			t.Errorf("%v: exit %d, want %d:\n%s", args, code, apply.ExitNoProbe, msg)
		}
		for _, w := range want {
			if !strings.Contains(msg, "kgen "+args[0]+": ") || !strings.Contains(msg, w) {
				t.Errorf("%v: message lacks %q:\n%s", args, w, msg)
			}
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("kgen render created %s", out)
	}
	if after := treeState(t, tree); after != before {
		t.Fatalf("the tree changed:\n%s\n%s", before, after)
	}
}

// TestProbeVerdict: kgen probe tells what the series would do.
func TestProbeVerdict(t *testing.T) {
	templates, tree := requiresFixture(t)
	out := captureStdout(t, func() {
		if code, msg := runKgen(t, "probe", "--templates", templates, tree); code != 0 {
			t.Fatalf("exit %d: %s", code, msg)
		}
	})
	for _, w := range []string{"series (3 patches): not supported: kgen render and kgen apply refuse this tree (exit 17)",
		"Linux 6.12.117 is not supported: the generic entry code (kernel/entry/common.c) is missing"} {
		if !strings.Contains(out, w) {
			t.Errorf("kgen probe output lacks %q:\n%s", w, out)
		}
	}
	out = captureStdout(t, func() {
		if code, msg := runKgen(t, "probe", "--templates", fixtureTemplates, "--json", fixture+"/kernel"); code != 0 {
			t.Fatalf("exit %d: %s", code, msg)
		}
	})
	for _, w := range []string{`"version": "6.12.117"`, `"supported": true`, `"apply": [`, `"verdict": "the whole series (3 patches) would be applied"`} {
		if !strings.Contains(out, w) {
			t.Errorf("kgen probe --json lacks %q:\n%s", w, out)
		}
	}
}

// captureStdout runs f with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		done <- b.String()
	}()
	defer func() {
		os.Stdout = old
	}()
	f()
	w.Close()
	os.Stdout = old
	return <-done
}
