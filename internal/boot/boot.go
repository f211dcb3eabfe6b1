// Package boot runs the whole of kcheck boot: build the kernel
// (internal/kbuild), build the self-tests against it (internal/selftest),
// pack them into an initramfs (internal/initramfs), boot QEMU
// (internal/qemu), read the KTAP document and the splats from the
// console (internal/ktap, internal/splat) and decide (internal/bootreport).
//
// Exit codes (bootreport.Report.ExitCode): 0 every test passed and the
// console is clean; 1 a test failed or never reported, a splat, a panic
// or a hang; 2 the harness could not run (missing tool, build failure,
// QEMU refusing to start).
//
// A tree without the series still builds and boots: the self-test
// module then reports every case as SKIP with the reason, and the boot
// and console checks still count (a note in the report says the series
// is missing).
package boot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kdefer/kdefer"
	"github.com/kdefer/kdefer/internal/accel"
	"github.com/kdefer/kdefer/internal/bootreport"
	"github.com/kdefer/kdefer/internal/cachedir"
	"github.com/kdefer/kdefer/internal/flock"
	"github.com/kdefer/kdefer/internal/hostcheck"
	"github.com/kdefer/kdefer/internal/initramfs"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/qemu"
	"github.com/kdefer/kdefer/internal/selftest"
	"github.com/kdefer/kdefer/internal/splat"
)

// SelftestBuilder builds the files of the initramfs; selftest.Build is
// the real one, tests substitute their own.
type SelftestBuilder func(ctx context.Context, o selftest.Options) ([]selftest.Artifact, error)

// Options of a run.
type Options struct {
	Tree        string   // kernel source tree (required)
	BuildDir    string   // default: the kbuild cache directory for this tree and config
	OutDir      string   // console log, KTAP, initrd; default BuildDir/RunName
	RunName     string   // default kcheck-run
	Fragment    string   // Kconfig fragment file; default the embedded Kconfig.frag
	ExtraConfig []string // more CONFIG_ lines
	Jobs        int
	Accel       string // "auto" (default), "kvm" or "tcg"
	Timeout     time.Duration
	Memory      string
	SMP         int
	Append      string // extra kernel command line
	// Selftests builds the initramfs content; default selftest.Build.
	Selftests SelftestBuilder
	// Extra files for the initramfs (tests: a trigger module).
	Extra    []selftest.Artifact
	Progress func(format string, args ...any)
	// Live receives the console while the guest runs (nil: not shown).
	Live interface{ Write([]byte) (int, error) }
	// SkipBuild uses the kernel already in BuildDir (bench, tests).
	SkipBuild bool
	// QEMU is the qemu-system-x86_64 binary (default: from PATH).
	QEMU string
	// QEMUArgs are appended to the QEMU command line (kcheck bench: -icount).
	QEMUArgs []string
	// AccelCache is where the host's KVM verdict is kept (internal/accel);
	// default the kdefer cache, "-" for none (decide afresh every run).
	AccelCache string
}

// CostMode sets o up for a boot that gives only the kernel cost figures,
// counted in guest instructions: QEMU -icount ICOUNT (e.g.
// "shift=3,sleep=off") under TCG, one vCPU, and "cost" on the kernel
// command line, with which the driver runs only the cases that print
// cost figures (qemu-tests/README.md). One vCPU, because under -icount
// QEMU runs the vCPUs in turn on one thread, and an idle second vCPU
// then missed its timer (measured: RCU stalls and soft lockups with
// sleep=off, no progress with sleep=on). Its files go to the build
// directory's kcheck-cost, beside a full run's kcheck-run.
func (o *Options) CostMode(icount string) {
	o.QEMUArgs, o.SMP, o.Append, o.Accel = []string{"-icount", icount}, 1, "cost", "tcg"
	o.RunName = cmp.Or(o.RunName, "kcheck-cost")
}

// Result is the report plus the paths of what was produced.
type Result struct {
	Report   *bootreport.Report
	Build    *kbuild.Result
	KTAPPath string
	Initrd   string
	Boot     *qemu.Result
	// Accel is which accelerator ran the tests and why.
	Accel accel.Decision
}

// Run performs a boot run. Harness failures are reported in the
// Report (verdict error) and also returned as the error.
func Run(ctx context.Context, o Options) (*Result, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	rep := &bootreport.Report{Tree: o.Tree}
	res := &Result{Report: rep}
	fail := func(err error) (*Result, error) {
		rep.HarnessError = err.Error()
		rep.Decide()
		return res, err
	}
	if o.Tree == "" {
		return fail(errors.New("no kernel tree given"))
	}
	if _, err := os.Stat(filepath.Join(o.Tree, "Makefile")); err != nil {
		return fail(fmt.Errorf("%s is not a kernel source tree (no Makefile)", o.Tree))
	}
	// Fail fast, before a long build, when a tool is missing.
	qemuBin := o.QEMU
	if qemuBin == "" {
		qemuBin = "qemu-system-x86_64"
	}
	for _, tool := range []string{qemuBin, "make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			pkg := hostcheck.Package(filepath.Base(tool))
			return fail(fmt.Errorf("%s not found in PATH: install it (Debian: apt-get install %s; kcheck doctor --install installs everything)", tool, pkg))
		}
	}
	if !hasSeries(o.Tree) {
		rep.Notes = append(rep.Notes, "the tree does not carry the deferred unwind series (no include/linux/unwind_deferred.h): "+
			"the kernel is built and booted, the console is checked, and the self-tests report SKIP; run `kgen apply` first to test the series")
	}

	bo := kbuild.Options{Src: o.Tree, Dir: o.BuildDir, Fragment: o.Fragment, ExtraConfig: o.ExtraConfig,
		Jobs: o.Jobs, Targets: []string{"bzImage", "modules_prepare"}, Progress: progress}
	if o.Fragment == "" {
		bo.FragmentText = kdefer.FragmentFor(o.Tree)
	}
	var build *kbuild.Result
	if o.SkipBuild && o.BuildDir != "" {
		build = &kbuild.Result{Dir: o.BuildDir, Image: filepath.Join(o.BuildDir, "arch/x86/boot/bzImage")}
	} else {
		var err error
		build, err = kbuild.Build(ctx, bo)
		if err != nil {
			return fail(err)
		}
	}
	res.Build = build
	rep.Build = build.Duration
	rep.Kernel = build.Image

	// One boot at a time per build directory: the self-tests are built in
	// it and, by default, the console log and KTAP document are written
	// there; two runs at once would read each other's results.
	unlock, err := flock.Lock(ctx, filepath.Join(build.Dir, ".kdefer-boot.lock"), func() {
		progress("boot: waiting for another kcheck boot of %s", build.Dir)
	})
	if err != nil {
		return fail(fmt.Errorf("locking %s for the boot: %w", build.Dir, err))
	}
	defer unlock()
	out := o.OutDir
	if out == "" {
		out = filepath.Join(build.Dir, cmp.Or(o.RunName, "kcheck-run"))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail(err)
	}
	st := o.Selftests
	if st == nil {
		st = selftest.Build
	}
	progress("boot: building the self-tests against %s", build.Dir)
	arts, err := st(ctx, selftest.Options{BuildDir: build.Dir, Src: o.Tree, Work: filepath.Join(build.Dir, "kcheck-selftest"), Progress: progress})
	if err != nil {
		return fail(fmt.Errorf("building the self-tests: %w", err))
	}
	arc := initramfs.New()
	for _, a := range append(arts, o.Extra...) {
		if err := arc.AddFile(a.Name, a.Mode, a.Data); err != nil {
			return fail(err)
		}
	}
	for _, d := range []string{"proc", "sys", "tmp"} {
		arc.AddDir(d, 0o755)
	}
	res.Initrd = filepath.Join(out, "initrd.cpio")
	if err := arc.WriteFile(res.Initrd); err != nil {
		return fail(err)
	}

	qo := qemu.Options{QEMU: o.QEMU, Kernel: build.Image, Initrd: res.Initrd, Append: o.Append, Memory: o.Memory, SMP: o.SMP,
		Timeout: o.Timeout, ConsoleLog: filepath.Join(out, "console.log"), Progress: progress, ExtraArgs: o.QEMUArgs}
	if o.Live != nil {
		qo.Live = o.Live
	}
	if qo.Timeout == 0 {
		qo.Timeout = 5 * time.Minute
	}
	cache := o.AccelCache
	if cache == "" {
		cache = cachedir.Dir()
	} else if cache == "-" {
		cache = ""
	}
	qr, dec, err := accel.Boot(ctx, qo, accel.Options{Want: o.Accel, CacheDir: cache, Progress: progress})
	res.Boot = qr
	res.Accel = dec
	rep.AccelWhy, rep.AccelRefused = dec.Why, dec.Refused
	if dec.Fallback {
		rep.Notes = append(rep.Notes, fmt.Sprintf("KVM was tried first and dropped (%s); the tests ran under TCG", dec.Refused))
	}
	if err != nil {
		if qr != nil {
			rep.Accel, rep.Outcome, rep.Boot, rep.ConsoleLog = string(qr.Accel), string(qr.Outcome), qr.Duration, qr.ConsoleLog
			rep.Killed, rep.ConsoleTail = qr.Killed, consoleTail(qr)
		}
		return fail(fmt.Errorf("running QEMU: %w", err))
	}
	progress("boot: %s ran the tests (%s)", strings.ToUpper(string(dec.Accel)), dec.Why)
	rep.Accel = string(qr.Accel)
	rep.Outcome = string(qr.Outcome)
	rep.Boot = qr.Duration
	rep.ConsoleLog = qr.ConsoleLog
	rep.Killed = qr.Killed

	console, err := os.ReadFile(qr.ConsoleLog)
	if err != nil {
		return fail(err)
	}
	raw := bootreport.RawKTAP(console)
	res.KTAPPath = filepath.Join(out, "results.ktap")
	if err := os.WriteFile(res.KTAPPath, raw, 0o644); err != nil {
		return fail(err)
	}
	rep.KTAP, _ = ktap.Parse(strings.NewReader(string(console)))
	lines, _ := splat.Lines(strings.NewReader(string(console)))
	rep.Splats = splat.ScanLines(lines)
	if rep.Splats == nil {
		rep.Splats = []splat.Finding{}
	}
	if err := excuseUpstream(o.Tree, rep); err != nil {
		return fail(err)
	}
	if qr.Outcome != qemu.PowerOff && qr.Outcome != qemu.Reboot {
		rep.ConsoleTail = consoleTail(qr)
	}
	rep.Decide()
	return res, nil
}

// consoleTail is the end of the guest's console, for a run that did not
// end cleanly.
func consoleTail(qr *qemu.Result) string {
	tail := qemu.Tail(qr.ConsoleLog, 25)
	if strings.TrimSpace(tail) == "" {
		return "(the guest wrote nothing on the serial console; " +
			"check the kernel's console= parameter and CONFIG_SERIAL_8250_CONSOLE)"
	}
	return tail
}

func hasSeries(tree string) bool {
	_, err := os.Stat(filepath.Join(tree, "include", "linux", "unwind_deferred.h"))
	return err == nil
}
