package boot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/bootreport"
	"github.com/kdefer/kdefer/internal/selftest"
)

// fakeRun runs boot.Run with a prebuilt (fake) kernel, a fake QEMU that
// prints console, and a fake self-test builder.
func fakeRun(t *testing.T, console string) (*Result, error) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	build := filepath.Join(dir, "build")
	os.MkdirAll(tree, 0o755)
	os.WriteFile(filepath.Join(tree, "Makefile"), nil, 0o644)
	os.MkdirAll(filepath.Join(build, "arch/x86/boot"), 0o755)
	os.WriteFile(filepath.Join(build, "arch/x86/boot/bzImage"), []byte("k"), 0o644)
	cons := filepath.Join(dir, "console.txt")
	os.WriteFile(cons, []byte(console), 0o644)
	q := filepath.Join(dir, "qemu")
	os.WriteFile(q, []byte("#!/bin/sh\ncat "+cons+"\n"), 0o755)
	st := func(ctx context.Context, o selftest.Options) ([]selftest.Artifact, error) {
		return []selftest.Artifact{{Name: "init", Mode: 0o755, Data: []byte("x")}}, nil
	}
	return Run(context.Background(), Options{Tree: tree, BuildDir: build, SkipBuild: true, QEMU: q, Accel: "tcg",
		Timeout: 10 * time.Second, Selftests: st})
}

const okConsole = "[    0.1] Linux version 6.12\nKTAP version 1\n1..1\nok 1 a\n[    1.0] reboot: Power down\n"

func TestFakePass(t *testing.T) {
	res, err := fakeRun(t, okConsole)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	if r.Verdict != bootreport.Pass || r.Outcome != "poweroff" {
		t.Fatalf("verdict %s outcome %s problems %q", r.Verdict, r.Outcome, r.Problems)
	}
	raw, _ := os.ReadFile(res.KTAPPath)
	if string(raw) != "KTAP version 1\n1..1\nok 1 a\n" {
		t.Fatalf("raw ktap %q", raw)
	}
	if fi, err := os.Stat(res.Initrd); err != nil || fi.Size() == 0 {
		t.Fatal("no initrd")
	}
	found := false
	for _, n := range r.Notes {
		found = found || strings.Contains(n, "does not carry the deferred unwind series")
	}
	if !found {
		t.Fatalf("no note about the missing series: %q", r.Notes)
	}
}

func TestFakeSplatFails(t *testing.T) {
	c := strings.Replace(okConsole, "ok 1 a\n", "ok 1 a\n[    0.5] WARNING: CPU: 1 PID: 1 at kernel/x.c:1 f+0x0/0x1\n[    0.5] ---[ end trace 0000000000000000 ]---\n", 1)
	res, _ := fakeRun(t, c)
	if r := res.Report; r.ExitCode() != 1 || len(r.Splats) != 1 {
		t.Fatalf("exit %d splats %d", r.ExitCode(), len(r.Splats))
	}
}

func TestFakeNoKTAPAndPanic(t *testing.T) {
	res, _ := fakeRun(t, "[    0.1] Kernel panic - not syncing: VFS: Unable to mount root fs\n")
	r := res.Report
	if r.ExitCode() != 1 || r.Outcome != "panic" || len(r.Problems) < 2 || r.ConsoleTail == "" {
		t.Fatalf("exit %d outcome %s problems %q", r.ExitCode(), r.Outcome, r.Problems)
	}
}

func TestMissingQEMUIsHarnessError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Makefile"), nil, 0o644)
	res, err := Run(context.Background(), Options{Tree: dir, QEMU: "/nonexistent/qemu-system-x86_64"})
	if err == nil || res.Report.ExitCode() != 2 || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err %v exit %d", err, res.Report.ExitCode())
	}
}
