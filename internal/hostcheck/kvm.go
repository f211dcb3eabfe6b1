package hostcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// KVMResult says whether QEMU can really run a guest with KVM.
type KVMResult struct {
	Checked bool    `json:"checked"`
	Usable  bool    `json:"usable"`
	Reason  string  `json:"reason"`            // why (not) usable
	Seconds float64 `json:"seconds,omitempty"` // time of the KVM guest run
	TCGOK   bool    `json:"tcg_ok"`            // the same guest ran under TCG
	TCGSecs float64 `json:"tcg_seconds,omitempty"`
}

// Summary is the one line doctor prints.
func (k KVMResult) Summary() string {
	switch {
	case !k.Checked:
		return "KVM not checked"
	case k.Usable:
		return "KVM usable (" + k.Reason + ")"
	}
	return "KVM unusable, TCG will be used: " + k.Reason
}

// debugExitValue is what the probe guest writes to the isa-debug-exit
// port; QEMU then exits with status value<<1|1.
const debugExitValue = 0x21

// bootSector returns a 512-byte floppy boot sector: mov al,0x21;
// out 0xf4,al; then halt forever.
func bootSector() []byte {
	b := make([]byte, 512)
	copy(b, []byte{0xb0, debugExitValue, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd})
	b[510], b[511] = 0x55, 0xaa
	return b
}

// KVMArgs are the accelerator arguments kcheck boot uses with KVM; the
// probe uses the same so that its answer holds for real boots.
var KVMArgs = []string{"-accel", "kvm", "-cpu", "host"}

// ProbeTimeout bounds each probe guest.
var ProbeTimeout = 20 * time.Second

// ProbeKVM checks /dev/kvm and then boots the probe guest with KVM (and
// with TCG for comparison). qemu is the qemu-system-x86_64 path ("" to
// look it up).
func ProbeKVM(ctx context.Context, qemu string) KVMResult {
	r := KVMResult{Checked: true}
	if qemu == "" {
		p, err := exec.LookPath("qemu-system-x86_64")
		if err != nil {
			r.Reason = "qemu-system-x86_64 is not installed"
			return r
		}
		qemu = p
	}
	dir, err := os.MkdirTemp("", "kdefer-kvm-probe-")
	if err != nil {
		r.Reason = "cannot create a scratch directory: " + err.Error()
		return r
	}
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "boot.img")
	if err := os.WriteFile(img, bootSector(), 0o644); err != nil {
		r.Reason = err.Error()
		return r
	}
	// TCG first: it tells whether QEMU works at all and gives the
	// yardstick for KVM's speed.
	tcgSecs, tcgErr := runProbe(ctx, qemu, img, []string{"-accel", "tcg"})
	r.TCGOK, r.TCGSecs = tcgErr == nil, tcgSecs

	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		r.Reason = "/dev/kvm: " + strings.TrimPrefix(err.Error(), "open /dev/kvm: ")
		return r
	}
	f.Close()
	secs, err := runProbe(ctx, qemu, img, KVMArgs)
	r.Seconds = secs
	if err != nil {
		r.Reason = fmt.Sprintf("/dev/kvm opens, but qemu-system-x86_64 %s %v", strings.Join(KVMArgs, " "), err)
		return r
	}
	if r.TCGOK && secs > 5 && secs > 4*tcgSecs {
		r.Reason = fmt.Sprintf("a guest under KVM took %.1f s against %.1f s under TCG (nested virtualization?)", secs, tcgSecs)
		return r
	}
	r.Usable = true
	r.Reason = fmt.Sprintf("a probe guest ran with %s in %.2f s", strings.Join(KVMArgs, " "), secs)
	return r
}

// runProbe boots the boot sector and expects the debug-exit status.
func runProbe(ctx context.Context, qemu, img string, accel []string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	args := append(append([]string{}, accel...),
		"-nodefaults", "-no-user-config", "-display", "none", "-m", "16",
		"-serial", "none", "-monitor", "none", "-no-reboot",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=1",
		"-drive", "file="+img+",format=raw,if=floppy", "-boot", "a")
	c := exec.CommandContext(ctx, qemu, args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	start := time.Now()
	err := c.Run()
	secs := time.Since(start).Seconds()
	want := debugExitValue<<1 | 1
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == want {
		return secs, nil
	}
	msg := qemuMessage(stderr.String())
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return secs, fmt.Errorf("did not finish a 512-byte guest within %s%s", ProbeTimeout, msg)
	case errors.As(err, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return secs, fmt.Errorf("died of signal %d (%s)%s", int(st.Signal()), st.Signal(), msg)
		}
		return secs, fmt.Errorf("exited with status %d%s", ee.ExitCode(), msg)
	case err != nil:
		return secs, err
	}
	return secs, fmt.Errorf("exited 0 before the guest ran%s", msg)
}

// qemuMessage keeps QEMU's error lines (not its CPUID warnings).
func qemuMessage(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "qemu-system-x86_64: "))
		if l == "" || strings.HasPrefix(l, "warning:") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) == 0 {
		return ""
	}
	return ": " + strings.Join(keep, "; ")
}
