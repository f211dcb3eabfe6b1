package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
)

// fake writes a stand-in for qemu-system-x86_64 that prints script's
// output as the console would.
func fake(t *testing.T, script string) Options {
	dir := t.TempDir()
	bin := filepath.Join(dir, "qemu")
	os.WriteFile(bin, []byte("#!/bin/sh\n"+script), 0o755)
	k := filepath.Join(dir, "bzImage")
	os.WriteFile(k, nil, 0o644)
	return Options{QEMU: bin, Kernel: k, ConsoleLog: filepath.Join(dir, "console.log"), Timeout: 5 * time.Second}
}

func TestOutcomes(t *testing.T) {
	cases := []struct {
		script string
		want   Outcome
	}{
		{"echo '[    1.0] reboot: Power down'\n", PowerOff},
		{"echo '[    1.0] Kernel panic - not syncing: Attempted to kill init!'\necho '[    1.1] reboot: Restarting system'\n", Panic},
		{"echo '[    1.0] reboot: Restarting system'\n", Reboot},
		{"echo hello\n", Died},
	}
	for _, c := range cases {
		o := fake(t, c.script)
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != c.want {
			t.Errorf("%q: outcome %s, want %s", c.script, r.Outcome, c.want)
		}
		log, _ := os.ReadFile(o.ConsoleLog)
		if len(log) == 0 {
			t.Error("console log empty")
		}
	}
}

func TestTimeoutKillsGroup(t *testing.T) {
	o := fake(t, "sleep 60 &\necho booting\nwait\n")
	o.Timeout = 2 * time.Second
	start := time.Now()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The background sleep holds the console pipe open for 60 s: only a
	// kill of the whole process group ends the run well before that.
	if r.Outcome != Timeout || time.Since(start) > 30*time.Second {
		t.Fatalf("outcome %s after %s", r.Outcome, time.Since(start))
	}
	if !strings.Contains(Tail(o.ConsoleLog, 3), "booting") {
		t.Fatal("tail lacks the console")
	}
}

func TestCancel(t *testing.T) {
	o := fake(t, "sleep 60\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestQEMUFailsToStart(t *testing.T) {
	o := fake(t, "echo 'qemu-system-x86_64: failed to initialize kvm: Permission denied' >&2\nexit 1\n")
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "failed to initialize kvm") {
		t.Fatalf("err %v", err)
	}
	o.QEMU = "/nonexistent/qemu"
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrNoQEMU) {
		t.Fatalf("missing binary: %v", err)
	}
}

func TestArgs(t *testing.T) {
	a := strings.Join(Args(Options{Kernel: "k", Initrd: "i", Accel: KVM, Append: "x=1"}), " ")
	for _, w := range []string{"-smp 2", "-m 512M", "-no-reboot", "-accel kvm -cpu host", "-initrd i", "console=ttyS0,115200 panic=-1 no_timer_check x=1", "-serial stdio"} {
		if !strings.Contains(a, w) {
			t.Errorf("args lack %q: %s", w, a)
		}
	}
	if !strings.Contains(strings.Join(Args(Options{Kernel: "k"}), " "), "-accel tcg") {
		t.Error("default accel is not tcg")
	}
}

func TestHaltedIsPowerOff(t *testing.T) {
	o := fake(t, "echo '[    1.0] reboot: Power off not available: System halted instead'\nsleep 60\n")
	start := time.Now()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Without the halt detection the run would last until the 5 s timeout.
	if r.Outcome != PowerOff || time.Since(start) >= o.Timeout {
		t.Fatalf("outcome %s after %s", r.Outcome, time.Since(start))
	}
}

// A guest that prints nothing at all within FirstOutput is killed then,
// not after the full timeout, and is Silent, not a hang.
func TestFirstOutputBound(t *testing.T) {
	o := fake(t, "exec sleep 60\n")
	o.FirstOutput = 500 * time.Millisecond
	o.Timeout = 30 * time.Second
	start := time.Now()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Silent || r.FirstOutput != 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("outcome %s first output %s after %s", r.Outcome, r.FirstOutput, time.Since(start))
	}
	// Once the guest has printed, only the timeout ends it: a hang.
	o = fake(t, "echo booting\nexec sleep 60\n")
	o.FirstOutput = 500 * time.Millisecond
	o.Timeout = 2 * time.Second
	r, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Timeout || r.FirstOutput <= 0 || r.FirstOutput > o.Timeout {
		t.Fatalf("outcome %s first output %s", r.Outcome, r.FirstOutput)
	}
	// Without FirstOutput a silent guest still is not a hang at timeout.
	o = fake(t, "exec sleep 60\n")
	o.Timeout = time.Second
	if r, err = Run(context.Background(), o); err != nil || r.Outcome != Silent {
		t.Fatalf("silent at timeout: %v %v", err, r.Outcome)
	}
}

// spinners keeps CPU 0 busy with n busy loops until the test ends.
func spinners(t *testing.T, n int) {
	t.Helper()
	e2e.Tool(t, "taskset")
	if RunQueueWait(os.Getpid()) == 0 {
		t.Skip("the kernel keeps no schedstat here")
	}
	var pids []int
	for i := 0; i < n; i++ {
		spin := exec.Command("taskset", "-c", "0", "sh", "-c", "while :; do :; done")
		if err := spin.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { spin.Process.Kill(); spin.Wait() })
		pids = append(pids, spin.Process.Pid)
	}
	// On a loaded host, starting them can take a second or more; a guest
	// started before they spin runs alone for that long (seen: "it could
	// run 1s in 2s of wall time"). Wait until each has run 20 ms.
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for ranNS(pid) < 20e6 {
			if time.Now().After(deadline) {
				t.Fatalf("spinner %d did not run within 30 s", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// ranNS is how long process pid has run on a CPU (schedstat), 0 if unknown.
func ranNS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0
	}
	var ran int64
	fmt.Sscan(string(b), &ran)
	return ran
}

// A guest the host keeps off the CPU is not hung while it keeps
// printing: its timeout stretches by the time it waited for a CPU, and
// if that is not enough the run ends Starved, never Timeout. Six
// spinners share CPU 0 with the fake QEMU; a sleeping guest, which
// never waits for a CPU, still times out at the plain timeout.
func TestStarvedIsNotAHang(t *testing.T) {
	spinners(t, 6)
	o := fake(t, "echo booting\nexec taskset -c 0 sh -c 'while :; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; echo tick; done'\n")
	o.SMP, o.Timeout = 1, time.Second
	start := time.Now()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Starved || r.Waited == 0 || !strings.Contains(r.Killed, "could run") {
		t.Fatalf("outcome %s, waited %s, killed %q", r.Outcome, r.Waited, r.Killed)
	}
	if el := time.Since(start); el < 2*time.Second || el > 10*time.Second {
		t.Errorf("ended after %s: want the timeout stretched to about %d s", el, MaxStretch)
	}
	o = fake(t, "echo booting\nexec sleep 60\n")
	o.SMP, o.Timeout = 1, time.Second
	if r, err = Run(context.Background(), o); err != nil || r.Outcome != Timeout {
		t.Fatalf("sleeping guest: %v %v (waited %s)", err, r.Outcome, r.Waited)
	}
}

// A guest that prints nothing for its limit is ended at the limit even
// when its vCPU spins on a loaded CPU: the wait is not given back to a
// silent guest (a hung kernel spinning looks starved), and the run is
// Starved, since the guest could run only a small part of that time.
// Before the silence bound it ran MaxStretch times the limit.
func TestSilentSpinnerEndsAtTheLimit(t *testing.T) {
	spinners(t, 6)
	o := fake(t, "echo booting\nexec taskset -c 0 sh -c 'while :; do :; done'\n")
	o.SMP, o.Timeout = 1, 2*time.Second
	start := time.Now()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if r.Outcome != Starved || !strings.Contains(r.Killed, "printed nothing for 2s") {
		t.Fatalf("outcome %s after %s, killed %q", r.Outcome, el, r.Killed)
	}
	if el > o.Timeout+time.Second {
		t.Errorf("ended after %s: want the %s limit", el, o.Timeout)
	}
}
