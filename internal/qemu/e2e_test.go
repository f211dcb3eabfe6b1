package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/initramfs"
	"github.com/kdefer/kdefer/internal/testkit"
)

// spinInit is an /init that says so and then spins for ever: a guest
// whose kernel is fine but which never ends, and keeps its vCPU busy as
// a kernel hung in a loop does.
const spinInit = `#include <stdio.h>
int main(void)
{
	printf("init: spinning for ever\n");
	fflush(stdout);
	for (;;)
		;
}
`

// The real QEMU and kernel: a guest that spins silently on a loaded CPU
// is ended at its limit after its last console line, not at MaxStretch
// times the limit. QEMU is pinned to CPU 0 beside four busy loops, so
// that, as on a loaded host, its vCPU thread waits for the CPU most of
// the time; before the silence bound that wait was given back and the
// run lasted three times the limit.
func TestE2EHungGuestEndsAtTheLimit(t *testing.T) {
	e2e.Need(t, "a kernel build and QEMU")
	qemuBin := e2e.Tool(t, "qemu-system-x86_64")
	_, build := testkit.Kernel(t)
	spinners(t, 4)
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "qemu-on-cpu0")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec taskset -c 0 "+qemuBin+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	arc := initramfs.New()
	arc.AddFile("init", 0o755, e2e.StaticInit(t, spinInit))
	initrd := filepath.Join(dir, "initrd.cpio")
	if err := arc.WriteFile(initrd); err != nil {
		t.Fatal(err)
	}
	o := Options{QEMU: wrapper, Kernel: build.Image, Initrd: initrd, SMP: 1, Accel: TCG, Timeout: 40 * time.Second,
		ConsoleLog: filepath.Join(dir, "console.log"), Progress: t.Logf}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outcome %s after %s, last line at %s, waited %s: %s", r.Outcome, r.Duration, r.LastOutput, r.Waited, r.Killed)
	if !strings.Contains(Tail(o.ConsoleLog, 3), "init: spinning for ever") {
		t.Fatalf("the guest did not reach its /init:\n%s", Tail(o.ConsoleLog, 10))
	}
	if r.Outcome != Timeout && r.Outcome != Starved || !strings.Contains(r.Killed, "printed nothing for") {
		t.Fatalf("outcome %s, killed %q: want the silence bound to end it", r.Outcome, r.Killed)
	}
	if silent := r.Duration - r.LastOutput; silent > o.Timeout+10*time.Second {
		t.Errorf("the guest ran %s after its last line: want the %s limit", silent, o.Timeout)
	}
}
