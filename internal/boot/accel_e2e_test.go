package boot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/accel"
	"github.com/kdefer/kdefer/internal/bootreport"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/testkit"
)

// TestE2EKVMSilentFallsBack reproduces the host of issue 12, where KVM
// runs a boot sector but a Linux kernel under it prints nothing: the
// real QEMU and kernel behind a wrapper that, under -accel kvm, only
// sleeps. kcheck boot must drop KVM after accel.KVMSilence, boot the
// same kernel under TCG, pass, and say both facts in every output; the
// next run must use the kept verdict without trying KVM again.
func TestE2EKVMSilentFallsBack(t *testing.T) {
	tree := testkit.SeriesTree(t)
	b := testkit.BuildKernel(t, tree)
	real := e2e.Tool(t, "qemu-system-x86_64")
	dir := t.TempDir()
	attempts := filepath.Join(dir, "kvm-attempts")
	wrapper := filepath.Join(dir, "qemu-system-x86_64")
	script := "#!/bin/sh\ncase \"$*\" in *\"-accel kvm\"*) echo kvm >>" + attempts + "; exec sleep 600;; esac\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// The decision must not hang on this host's /dev/kvm: a node that
	// opens stands in for it; the wrapper is what fails.
	dev := filepath.Join(dir, "kvm")
	os.WriteFile(dev, nil, 0o600)
	old := accel.KVMDevice
	accel.KVMDevice = dev
	defer func() { accel.KVMDevice = old }()

	cache := filepath.Join(dir, "cache")
	run := func(name string) (*Result, time.Duration) {
		start := time.Now()
		res, err := Run(context.Background(), Options{Tree: tree, BuildDir: b.Dir, SkipBuild: true, Accel: "auto", QEMU: wrapper,
			AccelCache: cache, Timeout: 3 * time.Minute, Selftests: kinitBuilder(t), OutDir: filepath.Join(dir, name)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res, time.Since(start)
	}

	res, first := run("first")
	r := res.Report
	var human, junit strings.Builder
	r.Human(&human)
	r.JUnit(&junit)
	t.Log(human.String())
	if r.Verdict != bootreport.Pass || r.Accel != "tcg" || !res.Accel.Fallback || res.Accel.KVMAttempt != "silent" {
		t.Fatalf("verdict %s accel %s decision %+v problems %q", r.Verdict, r.Accel, res.Accel, r.Problems)
	}
	line := "accelerator: tcg (fallback from KVM); kvm not used: the kernel printed nothing within " + accel.KVMSilence.String() + " under KVM"
	for _, out := range []string{human.String(), junit.String()} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q", line)
		}
	}
	if !strings.Contains(human.String(), "note: KVM was tried first and dropped") {
		t.Error("no note of the fallback")
	}
	e2e.ValidateJUnit(t, []byte(junit.String()))

	res2, second := run("second")
	r2 := res2.Report
	if r2.Verdict != bootreport.Pass || r2.Accel != "tcg" || res2.Accel.Fallback || !strings.Contains(r2.AccelRefused, "printed nothing") {
		t.Fatalf("second run: verdict %s accel %s decision %+v", r2.Verdict, r2.Accel, res2.Accel)
	}
	if b, _ := os.ReadFile(attempts); strings.Count(string(b), "kvm") != 1 {
		t.Errorf("KVM was started %d times over two runs, want once", strings.Count(string(b), "kvm"))
	}
	t.Logf("first run (KVM tried, %s bound): %s; second run (kept verdict): %s; cost of the decision: %s",
		accel.KVMSilence, first.Round(100*time.Millisecond), second.Round(100*time.Millisecond), (first - second).Round(100*time.Millisecond))
}
