package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/e2e"
)

const fixture = "../../internal/render/testdata"

func runKgen(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cli.Progress = func(string, ...any) {}
	var stderr bytes.Buffer
	// stdout goes to the test log
	code := app.Run(args, &stderr)
	return code, stderr.String()
}

func TestRenderCommand(t *testing.T) {
	tree := e2e.FixtureTree(t, false)
	out := filepath.Join(t.TempDir(), "series")
	if code, msg := runKgen(t, "render", "--templates", fixture+"/templates", "--tree", tree, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.patch"))
	if len(files) != 4 {
		t.Fatalf("wrote %v", files)
	}
	// -o renders as the person running it (git config), --check as the
	// published series: the same identity makes the same bytes.
	const me = "Ann Maintainer <ann@kernel.test>"
	if code, msg := runKgen(t, "render", "--templates", fixture+"/templates", "--tree", tree, "-o", out, "--identity", me); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	if data, _ := os.ReadFile(files[1]); !strings.Contains(string(data), "\nSigned-off-by: "+me+"\n---\n") {
		t.Errorf("%s does not end its message with the renderer's sign-off:\n%s", files[1], data)
	}
	if code, msg := runKgen(t, "render", "--templates", fixture+"/templates", "--tree", tree, "--check", "--patches", out, "--identity", me); code != 0 {
		t.Fatalf("--check on its own output: exit %d: %s", code, msg)
	}
	os.WriteFile(files[1], []byte("changed\n"), 0o644)
	code, msg := runKgen(t, "render", "--templates", fixture+"/templates", "--tree", tree, "--check", "--patches", out, "--identity", me)
	if code != 1 || !strings.Contains(msg, filepath.Base(files[1])+": first difference at line 1") {
		t.Fatalf("--check after a change: exit %d: %s", code, msg)
	}
}

// TestRenderBrokenAnchorWritesNothing: an anchor broken in the kernel
// file gives an error naming patch, file, edit and anchor, exit 2, and
// no output directory.
func TestRenderBrokenAnchorWritesNothing(t *testing.T) {
	tree := e2e.FixtureTree(t, true)
	out := filepath.Join(t.TempDir(), "series")
	code, msg := runKgen(t, "render", "--templates", fixture+"/templates", "--tree", tree, "-o", out)
	if code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, msg)
	}
	for _, want := range []string{"patch deferred: kernel/fork.c: edit 1 (from deferred, function copy_process): anchor matches nothing",
		"| retval = sched_fork(clone_flags, p);", "30: \tretval = sched_fork(p);"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s was created", out)
	}
}

func TestRenderNotGit(t *testing.T) {
	code, msg := runKgen(t, "render", "--templates", fixture+"/templates", "--tree", fixture+"/kernel", "-o", t.TempDir())
	if code != 2 || !strings.Contains(msg, "hint: kgen tree get VERSION --git") {
		t.Fatalf("exit %d: %s", code, msg)
	}
}

func TestProbeCommand(t *testing.T) {
	code, msg := runKgen(t, "probe", "--templates", fixture+"/templates", "--json", fixture+"/kernel")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	code, msg = runKgen(t, "probe", "--templates", fixture+"/templates", fixture)
	if code != 2 || !strings.Contains(msg, "not a kernel tree") {
		t.Fatalf("exit %d: %s", code, msg)
	}
}
