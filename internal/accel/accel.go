// Package accel decides which accelerator, KVM or TCG, runs a kcheck
// guest, on evidence that a Linux kernel boots with it, and runs the
// guest with that decision.
//
// A /dev/kvm that opens, or a 512-byte guest that runs, proves nothing:
// on some hosts QEMU aborts in its KVM code (MSR 0x10a), on others KVM
// runs a boot sector yet a Linux kernel prints nothing at all. So the
// decision rests on the boot itself:
//
//   - auto: KVM is tried first unless this host's verdict (below) already
//     says that a kernel does not boot under KVM here. Under KVM the guest
//     must print its first console line within KVMSilence; if it does not,
//     if QEMU refuses KVM, or if the guest hangs under KVM, the guest is
//     killed and the same boot runs again under TCG. The report says both
//     facts: which accelerator ran the tests, and why the other was refused.
//   - A guest that prints nothing at all under TCG either (within
//     TCGSilence) never got to run the kernel: that is a harness failure,
//     never a test failure.
//
// The host verdict ("a Linux kernel does (not) boot under KVM here") is
// kept in ${XDG_CACHE_HOME:-~/.cache}/kdefer/accel/kvm.json, keyed by the
// QEMU version, the host kernel and the CPU model, so that kcheck doctor
// tells the same story as kcheck boot and a host whose KVM is broken pays
// the KVMSilence bound once, not on every run. A negative verdict expires
// after VerdictTTL; `kcheck doctor --recheck-kvm` forgets it at once.
package accel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/qemu"
)

// Bounds of the decision. A kernel under a working KVM prints its first
// console line in under a second here, idle or loaded; under TCG in 1-3
// s idle and up to ~20 s with both cores busy building kernels.
var (
	KVMSilence = 20 * time.Second
	TCGSilence = 120 * time.Second
	VerdictTTL = 7 * 24 * time.Hour
)

// Decision is which accelerator ran the guest and why.
type Decision struct {
	Accel qemu.Accel `json:"accel"`
	// Why this accelerator ran the tests.
	Why string `json:"why"`
	// Refused says why the other accelerator did not run them ("" when
	// the user chose with --accel).
	Refused string `json:"refused,omitempty"`
	// Fallback is set when KVM was tried in this run and dropped.
	Fallback bool `json:"fallback,omitempty"`
	// KVMAttempt is how the KVM attempt of this run ended, on a fallback.
	KVMAttempt string `json:"kvm_attempt,omitempty"`
}

// Options of Boot.
type Options struct {
	// Want is "auto" (default), "kvm" or "tcg".
	Want string
	// CacheDir holds the host verdict ("" = no verdict is read or kept).
	CacheDir string
	// Progress reports the decision while it is made.
	Progress func(format string, args ...any)
}

// ErrSilent is returned when the guest printed nothing at all.
var ErrSilent = errors.New("the guest printed nothing on its console")

// ErrStarved is returned when the host kept the guest off the CPU for
// so long that even the stretched timeout ran out (qemu.Starved).
var ErrStarved = errors.New("the host starved the guest of CPU time")

func starved(r *qemu.Result, q qemu.Options) error {
	why := r.Killed
	if why == "" {
		why = fmt.Sprintf("QEMU's threads waited %s for a CPU in a %s run, and the %s timeout counts only the time the guest could run",
			r.Waited.Round(time.Second), r.Duration.Round(time.Second), q.Timeout)
	}
	return fmt.Errorf("%w: killed after %s: %s; the run says nothing about the kernel: rerun on a less loaded machine or raise --timeout",
		ErrStarved, r.Duration.Round(time.Second), why)
}

// Boot runs the guest described by q with the accelerator chosen as the
// package documentation says. The error is non-nil only for harness
// failures (QEMU cannot run, the kernel never printed), never for what
// the kernel did.
func Boot(ctx context.Context, q qemu.Options, o Options) (*qemu.Result, Decision, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	switch o.Want {
	case "tcg":
		return runTCG(ctx, q, Decision{Accel: qemu.TCG, Why: "requested with --accel tcg"})
	case "kvm":
		d := Decision{Accel: qemu.KVM, Why: "requested with --accel kvm"}
		q.Accel, q.FirstOutput = qemu.KVM, KVMSilence
		r, err := qemu.Run(ctx, q)
		if err == nil && r.Outcome == qemu.Silent {
			err = fmt.Errorf("%w under KVM within %s (--accel kvm was requested; use --accel auto to fall back to TCG)", ErrSilent, KVMSilence)
		}
		if err == nil && r.Outcome == qemu.Starved {
			err = starved(r, q)
		}
		return r, d, err
	case "", "auto":
	default:
		return nil, Decision{}, fmt.Errorf("accelerator %q: want auto, kvm or tcg", o.Want)
	}

	host := HostKey(q.QEMU)
	if why := kvmDevice(); why != "" {
		return runTCG(ctx, q, Decision{Accel: qemu.TCG, Why: "KVM is not available", Refused: why})
	}
	if v, ok := LoadVerdict(o.CacheDir, host); ok && !v.KVMBoots {
		return runTCG(ctx, q, Decision{Accel: qemu.TCG, Why: "this host's KVM verdict",
			Refused: fmt.Sprintf("%s (found %s by %s; kept in %s until %s or `kcheck doctor --recheck-kvm`)",
				v.Reason, v.When.Format(time.RFC3339), v.By, verdictPath(o.CacheDir), v.When.Add(VerdictTTL).Format("2006-01-02"))})
	}

	kq := q
	kq.Accel, kq.FirstOutput = qemu.KVM, KVMSilence
	r, err := qemu.Run(ctx, kq)
	if ctx.Err() != nil {
		return r, Decision{Accel: qemu.KVM}, ctx.Err()
	}
	var attempt string
	switch {
	case errors.Is(err, qemu.ErrNoQEMU):
		return r, Decision{Accel: qemu.KVM}, err
	case r.Outcome == qemu.Starved:
		// A loaded host, not a broken KVM: TCG would only be slower.
		return r, Decision{Accel: qemu.KVM, Why: "KVM started the kernel"}, starved(r, q)
	case err != nil:
		attempt = "QEMU refused KVM: " + lines.First(err.Error())
	case r.Outcome == qemu.Silent:
		attempt = fmt.Sprintf("the kernel printed nothing within %s under KVM (a boot sector may run, a Linux kernel does not)", KVMSilence)
	case r.Outcome == qemu.Timeout:
		attempt = fmt.Sprintf("the guest hung under KVM after printing for %s", r.Duration.Round(time.Second))
	default:
		why := fmt.Sprintf("the kernel printed its first console line under KVM in %.2f s", r.FirstOutput.Seconds())
		SaveVerdict(o.CacheDir, Verdict{Host: host, KVMBoots: true, Reason: why, Kernel: q.Kernel, By: "kcheck boot", When: time.Now()})
		return r, Decision{Accel: qemu.KVM, Why: why, Refused: "KVM boots the kernel here"}, nil
	}
	progress("boot: KVM dropped (%s); booting again with TCG", attempt)
	d := Decision{Accel: qemu.TCG, Why: "fallback from KVM", Refused: attempt, Fallback: true, KVMAttempt: kvmOutcome(r, err)}
	tr, td, terr := runTCG(ctx, q, d)
	// A hang under KVM says something about KVM only when the same
	// kernel then ends under TCG; a kernel that hangs under both hangs.
	if r != nil && r.Outcome == qemu.Timeout && (tr == nil || tr.Outcome == qemu.Timeout) {
		td.Refused = attempt + ", and under TCG too: the kernel hangs"
		return tr, td, terr
	}
	SaveVerdict(o.CacheDir, Verdict{Host: host, KVMBoots: false, Reason: attempt, Kernel: q.Kernel, By: "kcheck boot", When: time.Now()})
	return tr, td, terr
}

func kvmOutcome(r *qemu.Result, err error) string {
	if err != nil {
		return "refused"
	}
	return string(r.Outcome)
}

// runTCG boots under TCG; a guest silent for TCGSilence never ran.
func runTCG(ctx context.Context, q qemu.Options, d Decision) (*qemu.Result, Decision, error) {
	d.Accel = qemu.TCG
	q.Accel, q.FirstOutput = qemu.TCG, TCGSilence
	r, err := qemu.Run(ctx, q)
	if err == nil && r.Outcome == qemu.Starved {
		err = starved(r, q)
	}
	if err == nil && r.Outcome == qemu.Silent {
		err = fmt.Errorf("%w within %s under TCG: the kernel never got to its console "+
			"(QEMU did not run it, the host starved it, or the config lacks CONFIG_SERIAL_8250_CONSOLE); "+
			"QEMU said: %s", ErrSilent, TCGSilence, orNothing(r.Stderr))
	}
	return r, d, err
}

func orNothing(s string) string {
	if strings.TrimSpace(s) == "" {
		return "nothing"
	}
	return lines.First(s)
}

// KVMDevice is the KVM device node (a variable for tests).
var KVMDevice = "/dev/kvm"

// kvmDevice says why KVMDevice cannot be used ("" when it opens).
func kvmDevice() string {
	if runtime.GOARCH != "amd64" {
		return "the host is not x86-64"
	}
	f, err := os.OpenFile(KVMDevice, os.O_RDWR, 0)
	if err != nil {
		return KVMDevice + ": " + strings.TrimPrefix(err.Error(), "open "+KVMDevice+": ")
	}
	f.Close()
	return ""
}

// Verdict is what this host's KVM did with a Linux kernel.
type Verdict struct {
	Host     string    `json:"host"`
	KVMBoots bool      `json:"kvm_boots"`
	Reason   string    `json:"reason"`
	Kernel   string    `json:"kernel,omitempty"`
	By       string    `json:"by"` // "kcheck boot" or "kcheck doctor"
	When     time.Time `json:"when"`
}

func verdictPath(cache string) string { return filepath.Join(cache, "accel", "kvm.json") }

// LoadVerdict returns the kept verdict for host, when there is one that
// has not expired (a positive verdict does not expire: every KVM boot
// is still watched and falls back).
func LoadVerdict(cache, host string) (Verdict, bool) {
	var v Verdict
	if cache == "" {
		return v, false
	}
	b, err := os.ReadFile(verdictPath(cache))
	if err != nil || json.Unmarshal(b, &v) != nil || v.Host != host {
		return Verdict{}, false
	}
	if !v.KVMBoots && time.Since(v.When) > VerdictTTL {
		return Verdict{}, false
	}
	return v, true
}

// SaveVerdict keeps v (atomically; errors are not fatal: the next run
// decides again).
func SaveVerdict(cache string, v Verdict) {
	if cache == "" {
		return
	}
	p := verdictPath(cache)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	tmp := p + fmt.Sprintf(".%d.tmp", os.Getpid())
	if os.WriteFile(tmp, append(b, '\n'), 0o644) == nil {
		if os.Rename(tmp, p) != nil {
			os.Remove(tmp)
		}
	}
}

// ForgetVerdict removes the kept verdict.
func ForgetVerdict(cache string) error {
	err := os.Remove(verdictPath(cache))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// HostKey names what a KVM verdict depends on: the QEMU build, the host
// kernel (which provides KVM) and the CPU.
func HostKey(qemuBin string) string {
	if qemuBin == "" {
		qemuBin = "qemu-system-x86_64"
	}
	ver := "unknown"
	if out, err := exec.Command(qemuBin, "--version").Output(); err == nil {
		ver = lines.First(string(out))
	}
	rel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		rel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s | host %s | %s", ver, rel, cpuModel())
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "cpu unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "cpu unknown"
}
