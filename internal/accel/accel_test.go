package accel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/qemu"
)

// These unit tests stand a shell script in for QEMU to reach the
// outcomes a real host gives only by accident (a silent KVM, an abort,
// a hang); internal/boot's end-to-end test runs the real QEMU and kernel
// behind a wrapper that breaks only KVM.

const kernelPrints = `echo "[    0.000000] Linux version 6.12"; echo "[    1.0] reboot: Power down"`

// fakeQEMU writes a QEMU stand-in: kvm is what it does under -accel
// kvm, tcg what it does under -accel tcg. It counts its KVM runs in
// the file "kvm-runs" beside it.
func fakeQEMU(t *testing.T, kvm, tcg string) (bin, runs string) {
	t.Helper()
	dir := t.TempDir()
	runs = filepath.Join(dir, "kvm-runs")
	bin = filepath.Join(dir, "qemu-system-x86_64")
	script := "#!/bin/sh\n" +
		"case \"$*\" in --version) echo 'QEMU emulator version 0.0 (fake)'; exit 0;; esac\n" +
		"case \"$*\" in *\"accel kvm\"*) echo x >>" + runs + "\n" + kvm + "\n;; *) " + tcg + "\n;; esac\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, runs
}

func setup(t *testing.T) {
	t.Helper()
	dev := filepath.Join(t.TempDir(), "kvm")
	os.WriteFile(dev, nil, 0o600)
	oldDev, oldK, oldT := KVMDevice, KVMSilence, TCGSilence
	KVMDevice, KVMSilence, TCGSilence = dev, 1500*time.Millisecond, 3*time.Second
	t.Cleanup(func() { KVMDevice, KVMSilence, TCGSilence = oldDev, oldK, oldT })
}

func options(t *testing.T, bin string) qemu.Options {
	dir := t.TempDir()
	k := filepath.Join(dir, "bzImage")
	os.WriteFile(k, []byte("k"), 0o644)
	return qemu.Options{QEMU: bin, Kernel: k, ConsoleLog: filepath.Join(dir, "console.log"), Timeout: 20 * time.Second}
}

func count(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "x")
}

func TestWorkingKVM(t *testing.T) {
	setup(t)
	bin, _ := fakeQEMU(t, kernelPrints, "exit 3")
	cache := t.TempDir()
	r, d, err := Boot(context.Background(), options(t, bin), Options{CacheDir: cache})
	if err != nil || r.Outcome != qemu.PowerOff || d.Accel != qemu.KVM || d.Fallback {
		t.Fatalf("err %v outcome %v decision %+v", err, r.Outcome, d)
	}
	if !strings.Contains(d.Why, "first console line under KVM") {
		t.Errorf("why %q", d.Why)
	}
	v, ok := LoadVerdict(cache, HostKey(bin))
	if !ok || !v.KVMBoots {
		t.Errorf("verdict %+v %v", v, ok)
	}
}

// The machine of the issue: KVM runs a boot sector, but a Linux kernel
// under it prints nothing at all. The boot falls back within
// KVMSilence, says why, and the next run does not try KVM again.
func TestSilentKVMFallsBackOnce(t *testing.T) {
	setup(t)
	bin, runs := fakeQEMU(t, "exec sleep 60", kernelPrints)
	cache := t.TempDir()
	start := time.Now()
	r, d, err := Boot(context.Background(), options(t, bin), Options{CacheDir: cache})
	if err != nil || r.Outcome != qemu.PowerOff || r.Accel != qemu.TCG {
		t.Fatalf("err %v result %+v", err, r)
	}
	if !d.Fallback || d.Accel != qemu.TCG || d.KVMAttempt != "silent" || !strings.Contains(d.Refused, "printed nothing within") {
		t.Fatalf("decision %+v", d)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("fallback took %s", el)
	}
	v, ok := LoadVerdict(cache, HostKey(bin))
	if !ok || v.KVMBoots || v.By != "kcheck boot" {
		t.Fatalf("verdict %+v %v", v, ok)
	}
	// Second run: decided by the verdict, KVM not started again.
	_, d2, err := Boot(context.Background(), options(t, bin), Options{CacheDir: cache})
	if err != nil || d2.Accel != qemu.TCG || d2.Fallback || !strings.Contains(d2.Refused, "printed nothing within") {
		t.Fatalf("second run: err %v decision %+v", err, d2)
	}
	if n := count(runs); n != 1 {
		t.Errorf("KVM started %d times, want 1", n)
	}
	// Without a cache every run decides afresh, with the same result.
	_, d3, err := Boot(context.Background(), options(t, bin), Options{})
	if err != nil || d3.Accel != qemu.TCG || !d3.Fallback {
		t.Fatalf("uncached run: err %v decision %+v", err, d3)
	}
}

func TestAbortingKVMFallsBack(t *testing.T) {
	setup(t)
	bin, _ := fakeQEMU(t, `echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; kill -ABRT $$`, kernelPrints)
	r, d, err := Boot(context.Background(), options(t, bin), Options{CacheDir: t.TempDir()})
	if err != nil || r.Accel != qemu.TCG || d.KVMAttempt != "refused" || !strings.Contains(d.Refused, "MSR 0x10a") {
		t.Fatalf("err %v decision %+v", err, d)
	}
}

// A guest that printed under KVM and then hung is booted again under
// TCG; if it ends there, KVM was at fault.
func TestKVMHangThenTCG(t *testing.T) {
	setup(t)
	bin, _ := fakeQEMU(t, `echo "[    0.0] Linux version 6.12"; exec sleep 60`, kernelPrints)
	o := options(t, bin)
	o.Timeout = 3 * time.Second
	cache := t.TempDir()
	r, d, err := Boot(context.Background(), o, Options{CacheDir: cache})
	if err != nil || r.Outcome != qemu.PowerOff || d.KVMAttempt != "timeout" || !strings.Contains(d.Refused, "hung under KVM") {
		t.Fatalf("err %v outcome %v decision %+v", err, r.Outcome, d)
	}
	if v, ok := LoadVerdict(cache, HostKey(bin)); !ok || v.KVMBoots {
		t.Errorf("verdict %+v %v", v, ok)
	}
}

// A kernel that hangs under both accelerators hangs: the verdict is the
// kernel's, and KVM is not blamed.
func TestHangUnderBoth(t *testing.T) {
	setup(t)
	hang := `echo "[    0.0] Linux version 6.12"; exec sleep 60`
	bin, _ := fakeQEMU(t, hang, hang)
	o := options(t, bin)
	o.Timeout = 2 * time.Second
	cache := t.TempDir()
	r, d, err := Boot(context.Background(), o, Options{CacheDir: cache})
	if err != nil || r.Outcome != qemu.Timeout || !strings.Contains(d.Refused, "the kernel hangs") {
		t.Fatalf("err %v outcome %v decision %+v", err, r.Outcome, d)
	}
	if _, ok := LoadVerdict(cache, HostKey(bin)); ok {
		t.Error("a kernel hang was kept as a KVM verdict")
	}
}

// Nothing on the console under TCG either: the kernel never ran. That
// is the harness's failure, returned as an error, never a test verdict.
func TestSilentEverywhereIsHarnessError(t *testing.T) {
	setup(t)
	bin, _ := fakeQEMU(t, "exec sleep 60", "exec sleep 60")
	r, d, err := Boot(context.Background(), options(t, bin), Options{CacheDir: t.TempDir()})
	if !errors.Is(err, ErrSilent) || r.Outcome != qemu.Silent || d.Accel != qemu.TCG {
		t.Fatalf("err %v outcome %v decision %+v", err, r.Outcome, d)
	}
	if !strings.Contains(err.Error(), "under TCG") {
		t.Errorf("error %q does not say where", err)
	}
}

func TestRequested(t *testing.T) {
	setup(t)
	bin, runs := fakeQEMU(t, kernelPrints, kernelPrints)
	_, d, err := Boot(context.Background(), options(t, bin), Options{Want: "tcg", CacheDir: t.TempDir()})
	if err != nil || d.Accel != qemu.TCG || d.Why != "requested with --accel tcg" || count(runs) != 0 {
		t.Fatalf("tcg: err %v %+v", err, d)
	}
	silent, _ := fakeQEMU(t, "exec sleep 60", kernelPrints)
	_, d, err = Boot(context.Background(), options(t, silent), Options{Want: "kvm", CacheDir: t.TempDir()})
	if !errors.Is(err, ErrSilent) || d.Accel != qemu.KVM {
		t.Fatalf("kvm: err %v %+v", err, d)
	}
}

func TestNoDevice(t *testing.T) {
	setup(t)
	KVMDevice = filepath.Join(t.TempDir(), "missing")
	bin, runs := fakeQEMU(t, kernelPrints, kernelPrints)
	_, d, err := Boot(context.Background(), options(t, bin), Options{CacheDir: t.TempDir()})
	if err != nil || d.Accel != qemu.TCG || !strings.Contains(d.Refused, "no such file") || count(runs) != 0 {
		t.Fatalf("err %v %+v", err, d)
	}
}

func TestVerdictExpiresAndKeys(t *testing.T) {
	cache := t.TempDir()
	SaveVerdict(cache, Verdict{Host: "h1", Reason: "r", When: time.Now().Add(-VerdictTTL - time.Hour)})
	if _, ok := LoadVerdict(cache, "h1"); ok {
		t.Error("an expired negative verdict was used")
	}
	SaveVerdict(cache, Verdict{Host: "h1", Reason: "r", When: time.Now()})
	if _, ok := LoadVerdict(cache, "h2"); ok {
		t.Error("another host's verdict was used")
	}
	if _, ok := LoadVerdict(cache, "h1"); !ok {
		t.Error("the fresh verdict was not found")
	}
	if err := ForgetVerdict(cache); err != nil {
		t.Fatal(err)
	}
	if _, ok := LoadVerdict(cache, "h1"); ok {
		t.Error("verdict survived ForgetVerdict")
	}
}

func TestBootSector(t *testing.T) {
	b := bootSector()
	if len(b) != 512 || b[510] != 0x55 || b[511] != 0xaa {
		t.Fatal("not a boot sector")
	}
	if b[0] != 0xb0 || b[1] != debugExitValue || b[2] != 0xe6 || b[3] != 0xf4 {
		t.Errorf("does not write %#x to port 0xf4: % x", debugExitValue, b[:8])
	}
}

func TestQemuMessage(t *testing.T) {
	s := "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n" +
		"qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\n" +
		"qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n"
	got := qemuMessage(s)
	if strings.Contains(got, "warning") || !strings.Contains(got, "failed to set MSR") || !strings.Contains(got, "kvm_buf_set_msrs") {
		t.Errorf("qemuMessage = %q", got)
	}
}

// Doctor's check: without a kernel a working boot sector is "not proven
// yet", never "usable"; an aborting QEMU is a verdict; with a kernel
// that stays silent under KVM it is "unusable", and kcheck boot then
// uses the same verdict.
func TestCheckHost(t *testing.T) {
	setup(t)
	bootOK := `case "$*" in *floppy*) exit 67;; esac`
	ok, _ := fakeQEMU(t, bootOK+"\n"+kernelPrints, bootOK)
	c := CheckHost(context.Background(), CheckOptions{QEMU: ok, CacheDir: t.TempDir()})
	if c.Usable || !c.Undecided || !strings.HasPrefix(c.Summary(), "KVM not proven yet") || !c.TCGOK {
		t.Errorf("no kernel: %+v", c)
	}
	abort, _ := fakeQEMU(t, `kill -ABRT $$`, bootOK)
	c = CheckHost(context.Background(), CheckOptions{QEMU: abort, CacheDir: t.TempDir()})
	if c.Usable || c.Undecided || c.Verdict == nil || !strings.Contains(c.Reason, "signal 6") {
		t.Errorf("aborting: %+v", c)
	}
	silent, _ := fakeQEMU(t, bootOK+"\nexec sleep 60", bootOK+"\n"+kernelPrints)
	cache := t.TempDir()
	k := filepath.Join(cache, "builds", "x", "arch", "x86", "boot", "bzImage")
	os.MkdirAll(filepath.Dir(k), 0o755)
	os.WriteFile(k, []byte("k"), 0o644)
	c = CheckHost(context.Background(), CheckOptions{QEMU: silent, CacheDir: cache})
	if c.Usable || c.Undecided || c.Kernel != k || !strings.Contains(c.Reason, "printed nothing") {
		t.Fatalf("silent kernel: %+v", c)
	}
	_, d, err := Boot(context.Background(), options(t, silent), Options{CacheDir: cache})
	if err != nil || d.Accel != qemu.TCG || d.Fallback || !strings.Contains(d.Refused, "kcheck doctor") {
		t.Fatalf("boot after doctor: err %v %+v", err, d)
	}
	good, _ := fakeQEMU(t, bootOK+"\n"+kernelPrints, bootOK)
	c = CheckHost(context.Background(), CheckOptions{QEMU: good, CacheDir: cache, Recheck: true})
	if !c.Usable || !strings.Contains(c.Reason, "first console line under KVM") {
		t.Fatalf("working kernel: %+v", c)
	}
}
