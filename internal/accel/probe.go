package accel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
	"github.com/kdefer/kdefer/internal/qemu"
)

// Check is what kcheck doctor reports about the accelerators. It tells
// the same story as Boot: "usable" only when a Linux kernel printed its
// first console line under KVM on this host.
type Check struct {
	Checked bool `json:"checked"`
	Usable  bool `json:"usable"`
	// Undecided: nothing on this host refuses KVM, but no Linux kernel
	// has booted under it yet; kcheck boot decides on its first boot.
	Undecided bool   `json:"undecided,omitempty"`
	Reason    string `json:"reason"`
	// Kernel is the kernel doctor booted under KVM ("" when none).
	Kernel  string  `json:"kernel,omitempty"`
	Seconds float64 `json:"seconds,omitempty"` // first console line under KVM
	// TCGOK: QEMU runs a guest under TCG (the 512-byte probe).
	TCGOK   bool    `json:"tcg_ok"`
	TCGSecs float64 `json:"tcg_seconds,omitempty"`
	// Verdict is the host verdict kcheck boot will use, when there is one.
	Verdict *Verdict `json:"verdict,omitempty"`
}

// Summary is the one line doctor prints.
func (c Check) Summary() string {
	switch {
	case !c.Checked:
		return "KVM not checked"
	case c.Usable:
		return "KVM usable: " + c.Reason
	case c.Undecided:
		return "KVM not proven yet: " + c.Reason
	}
	return "KVM unusable, TCG will be used: " + c.Reason
}

// CheckOptions of CheckHost.
type CheckOptions struct {
	QEMU     string // qemu-system-x86_64 ("" to look it up)
	CacheDir string // where the host verdict and the cached kernels live
	// Kernel is a bzImage to boot under KVM; default the newest kcheck
	// boot kernel in CacheDir/builds.
	Kernel string
	// Recheck forgets the kept verdict first.
	Recheck bool
}

// CheckHost decides, like Boot, whether a Linux kernel boots under KVM
// here: the kept verdict when there is one, else a real kernel booted
// to its first console line. The 512-byte probe guest only screens out
// a QEMU that cannot run at all (TCG) or aborts in its KVM code.
func CheckHost(ctx context.Context, o CheckOptions) Check {
	c := Check{Checked: true}
	qemuBin := o.QEMU
	if qemuBin == "" {
		p, err := exec.LookPath("qemu-system-x86_64")
		if err != nil {
			c.Reason = "qemu-system-x86_64 is not installed"
			return c
		}
		qemuBin = p
	}
	dir, err := os.MkdirTemp("", "kdefer-kvm-probe-")
	if err != nil {
		c.Reason = "cannot create a scratch directory: " + err.Error()
		return c
	}
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "boot.img")
	if err := os.WriteFile(img, bootSector(), 0o644); err != nil {
		c.Reason = err.Error()
		return c
	}
	tcgSecs, tcgErr := runProbe(ctx, qemuBin, img, qemu.AccelArgs(qemu.TCG))
	c.TCGOK, c.TCGSecs = tcgErr == nil, tcgSecs

	if why := kvmDevice(); why != "" {
		c.Reason = why
		return c
	}
	host := HostKey(qemuBin)
	if o.Recheck {
		ForgetVerdict(o.CacheDir)
	}
	if v, ok := LoadVerdict(o.CacheDir, host); ok {
		c.Verdict = &v
		c.Usable, c.Kernel = v.KVMBoots, v.Kernel
		c.Reason = fmt.Sprintf("%s (%s, %s; `kcheck doctor --recheck-kvm` checks again)", v.Reason, v.By, v.When.Format(time.RFC3339))
		return c
	}
	kernel := o.Kernel
	if kernel == "" {
		kernel = newestKernel(o.CacheDir)
	}
	if kernel == "" {
		// No kernel to boot: the boot sector can still show a QEMU that
		// aborts in its KVM code, a verdict; that it runs proves nothing,
		// and that it is slow (a loaded host) proves nothing either.
		_, err := runProbe(ctx, qemuBin, img, qemu.AccelArgs(qemu.KVM))
		var qe *qemuExit
		if errors.As(err, &qe) {
			c.Reason = fmt.Sprintf("/dev/kvm opens, but qemu-system-x86_64 %s %v", strings.Join(qemu.AccelArgs(qemu.KVM), " "), err)
			v := Verdict{Host: host, Reason: c.Reason, By: "kcheck doctor", When: time.Now()}
			SaveVerdict(o.CacheDir, v)
			c.Verdict = &v
			return c
		}
		c.Undecided = true
		c.Reason = fmt.Sprintf("no kernel is built yet to boot under KVM (a 512-byte guest proves nothing about a Linux kernel); "+
			"kcheck boot tries KVM first and falls back to TCG if the kernel prints nothing within %s", KVMSilence)
		return c
	}
	c.Kernel = kernel
	v := BootKernel(ctx, qemuBin, kernel, host)
	v.By = "kcheck doctor"
	SaveVerdict(o.CacheDir, v)
	c.Verdict = &v
	c.Usable, c.Reason = v.KVMBoots, v.Reason
	return c
}

// BootKernel boots kernel under KVM without an initramfs, only until its
// first console line, and says whether it got there.
func BootKernel(ctx context.Context, qemuBin, kernel, host string) Verdict {
	v := Verdict{Host: host, Kernel: kernel, When: time.Now()}
	dir, err := os.MkdirTemp("", "kdefer-kvm-boot-")
	if err != nil {
		v.Reason = err.Error()
		return v
	}
	defer os.RemoveAll(dir)
	r, err := qemu.Run(ctx, qemu.Options{QEMU: qemuBin, Kernel: kernel, Accel: qemu.KVM, Memory: "256M", SMP: 1,
		FirstOutput: KVMSilence, Timeout: KVMSilence + 10*time.Second, ConsoleLog: filepath.Join(dir, "console.log")})
	switch {
	case err != nil:
		v.Reason = "QEMU refused KVM with a Linux kernel: " + lines.First(err.Error())
	case r.Outcome == qemu.Silent:
		v.Reason = fmt.Sprintf("%s printed nothing within %s under KVM", filepath.Base(kernel), KVMSilence)
	default:
		v.KVMBoots = true
		v.Reason = fmt.Sprintf("a Linux kernel (%s) printed its first console line under KVM in %.2f s", kernel, r.FirstOutput.Seconds())
	}
	return v
}

// newestKernel is the newest kcheck boot kernel in the build cache.
func newestKernel(cache string) string {
	if cache == "" {
		return ""
	}
	m, _ := filepath.Glob(filepath.Join(cache, "builds", "*", "arch", "x86", "boot", "bzImage"))
	type k struct {
		path string
		t    time.Time
	}
	var ks []k
	for _, p := range m {
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			ks = append(ks, k{p, st.ModTime()})
		}
	}
	if len(ks) == 0 {
		return ""
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].t.After(ks[j].t) })
	return ks[0].path
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

// ProbeTimeout bounds each probe guest.
var ProbeTimeout = 20 * time.Second

// runProbe boots the boot sector and expects the debug-exit status.
func runProbe(ctx context.Context, qemuBin, img string, accel []string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	args := append(append([]string{}, accel...),
		"-nodefaults", "-no-user-config", "-display", "none", "-m", "16",
		"-serial", "none", "-monitor", "none", "-no-reboot",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=1",
		"-drive", "file="+img+",format=raw,if=floppy", "-boot", "a")
	c := proc.Command(ctx, qemuBin, args...)
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
			return secs, &qemuExit{fmt.Sprintf("died of signal %d (%s)%s", int(st.Signal()), st.Signal(), msg)}
		}
		return secs, &qemuExit{fmt.Sprintf("exited with status %d%s", ee.ExitCode(), msg)}
	case err != nil:
		return secs, err
	}
	return secs, fmt.Errorf("exited 0 before the guest ran%s", msg)
}

// qemuExit: QEMU itself ended the probe (an abort, an error exit), as
// opposed to a guest that was merely slow.
type qemuExit struct{ msg string }

func (e *qemuExit) Error() string { return e.msg }

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
