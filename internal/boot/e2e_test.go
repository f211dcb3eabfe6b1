package boot

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer"
	"github.com/kdefer/kdefer/internal/bootreport"
	"github.com/kdefer/kdefer/internal/conform"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/ktap"
	"github.com/kdefer/kdefer/internal/selftest"
	"github.com/kdefer/kdefer/internal/splat"
	"github.com/kdefer/kdefer/internal/testkit"
)

// The end-to-end tests need a 6.12 tree carrying the series, a kernel
// build (a few minutes on two cores, cached), gcc and QEMU. They run with
// KDEFER_E2E=1 on the shared test clone of Debian's 6.12 with the series
// (testkit.SeriesTree).

// kinitBuilder builds ../splat/testdata/trigger: the kinit test init and
// the splat trigger module, as a SelftestBuilder.
func kinitBuilder(t testing.TB) SelftestBuilder {
	return func(ctx context.Context, o selftest.Options) ([]selftest.Artifact, error) {
		return buildKinit(t, o.BuildDir, "", "")
	}
}

// buildKinit compiles kinit (static) and the trigger module against the
// kernel build in buildDir, for x86_64 (arch and cross "") or another
// architecture through its cross compiler prefix (arm64 and
// "aarch64-linux-gnu-").
func buildKinit(t testing.TB, buildDir, arch, cross string) ([]selftest.Artifact, error) {
	src, _ := filepath.Abs("../splat/testdata/trigger")
	work := filepath.Join(buildDir, "kcheck-kinit")
	os.RemoveAll(work)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"trigger.c", "trigger_rust.rs", "Makefile", "kinit.c"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return nil, err
		}
		os.WriteFile(filepath.Join(work, f), b, 0o644)
	}
	e2e.Run(t, "", nil, cross+"gcc", "-static", "-O2", "-Wall", "-o", filepath.Join(work, "init"), filepath.Join(work, "kinit.c"))
	args := []string{"-C", buildDir, "M=" + work}
	if cross != "" {
		args = append(args, "ARCH="+arch, "CROSS_COMPILE="+cross)
	}
	e2e.Run(t, "", nil, "make", append(args, "modules")...)
	init, _ := os.ReadFile(filepath.Join(work, "init"))
	ko, err := os.ReadFile(filepath.Join(work, "trigger.ko"))
	if err != nil {
		return nil, err
	}
	arts := []selftest.Artifact{{Name: "init", Mode: 0o755, Data: init}, {Name: "trigger.ko", Mode: 0o644, Data: ko}}
	// built where the kernel has Rust support (Makefile)
	if rko, err := os.ReadFile(filepath.Join(work, "trigger_rust.ko")); err == nil {
		arts = append(arts, selftest.Artifact{Name: "trigger_rust.ko", Mode: 0o644, Data: rko})
	}
	return arts, nil
}

// splatArgs are the kernel command lines that make each trigger show
// its report quickly.
var splatArgs = map[string]string{
	"rcu-stall":   "rcupdate.rcu_cpu_stall_timeout=3",
	"lockup":      "watchdog_thresh=1",
	"hung":        "sysctl.kernel.hung_task_timeout_secs=2",
	"hung-login":  "sysctl.kernel.hung_task_timeout_secs=2",
	"hung-io":     "sysctl.kernel.hung_task_timeout_secs=2",
	"kmemleak":    "kmemleak.verbose=1",
	"hard-lockup": "watchdog_thresh=1",
	"warn-panic":  "panic_on_warn=1",
	// no /init: the kernel looks for a root file system and finds none
	"panic-root": "rdinit=/splat-no-such-init",
	// the same with a block layer: root= names a disk the guest lacks
	"panic-vfs": "rdinit=/splat-no-such-init root=/dev/sda",
}

func bootKinit(t *testing.T, tree string, b *kbuild.Result, what string) *Result {
	t.Helper()
	app := ""
	if what != "" {
		app = "splat=" + what + " " + splatArgs[what]
	}
	res, err := Run(context.Background(), Options{Tree: tree, BuildDir: b.Dir, SkipBuild: true, Accel: "tcg",
		Timeout: 3 * time.Minute, Append: app, Selftests: kinitBuilder(t), OutDir: filepath.Join(b.Dir, "kcheck-e2e", what+"x")})
	if err != nil {
		t.Fatalf("boot %s: %v", what, err)
	}
	return res
}

// bootLogged boots the kinit kernel with the splat trigger what and
// logs the human report, which it returns with the report.
func bootLogged(t *testing.T, what string) (*bootreport.Report, string) {
	t.Helper()
	tree := testkit.SeriesTree(t)
	r := bootKinit(t, tree, testkit.BuildKernel(t, tree), what).Report
	var sb strings.Builder
	r.Human(&sb)
	t.Log(sb.String())
	return r, sb.String()
}

func TestE2ECleanBootPasses(t *testing.T) {
	r, _ := bootLogged(t, "")
	if r.Verdict != bootreport.Pass || r.ExitCode() != 0 || r.Outcome != "poweroff" {
		t.Fatalf("clean boot: verdict %s, outcome %s, problems %q", r.Verdict, r.Outcome, r.Problems)
	}
	if c := r.KTAP.Counts(); c.Pass != 2 || c.Skip != 1 {
		t.Fatalf("counts %+v", c)
	}
	var j strings.Builder
	r.JUnit(&j)
	e2e.ValidateJUnit(t, []byte(j.String()))
}

// TestE2ECleanBootEveryBase boots each base's kcheck boot kernel with
// kinit and no trigger: the console must hold no report at all, on the
// 6.12 tree with the series (KDEFER_CLEAN_BASES=6.12) and on Debian's
// 7.3 as it is (7.3), both by default.
func TestE2ECleanBootEveryBase(t *testing.T) {
	e2e.Need(t, "kernel trees, kernel builds and QEMU")
	// 7.3 is a second cold kernel build (about 10 minutes idle, close to
	// an hour on a loaded machine): only in the long runs.
	bases := []string{"6.12"}
	if os.Getenv("KDEFER_E2E_LONG") == "1" {
		bases = append(bases, "7.3")
	}
	if b := os.Getenv("KDEFER_CLEAN_BASES"); b != "" {
		bases = strings.Split(b, ",")
	}
	for _, base := range bases {
		t.Run(base, func(t *testing.T) {
			tree := e2e.Tree(t, base)
			if base == "6.12" {
				tree = testkit.SeriesTree(t)
			}
			b := testkit.BuildKernel(t, tree)
			res := bootKinit(t, tree, b, "")
			r := res.Report
			data, err := os.ReadFile(r.ConsoleLog)
			if err != nil {
				t.Fatal(err)
			}
			found := splat.ScanBytes(data)
			for _, f := range found {
				t.Errorf("%s: console line %d: %s: %s", base, f.Line, f.Kind, f.Title)
			}
			if r.Verdict != bootreport.Pass || r.Outcome != "poweroff" || len(r.Splats) != 0 {
				t.Errorf("%s: verdict %s, outcome %s, %d splats, problems %q", base, r.Verdict, r.Outcome, len(r.Splats), r.Problems)
			}
			t.Logf("%s (%s): %d console lines, %d findings, console %s", base, tree, strings.Count(string(data), "\n"), len(found), r.ConsoleLog)
		})
	}
}

func TestE2EWarnOnFailsTheRun(t *testing.T) {
	r, out := bootLogged(t, "warn")
	if r.ExitCode() != 1 || len(r.Splats) == 0 || r.Splats[0].Kind != "warning" {
		t.Fatalf("WARN_ON boot: exit %d, splats %+v", r.ExitCode(), r.Splats)
	}
	for _, w := range []string{"splat 1/1: warning: WARNING in trigger_init (console line ", "WARNING: CPU: ", "trigger.c", "| ", "---[ end trace", "verdict: FAIL"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q", w)
		}
	}
}

func TestE2EPanicAndHang(t *testing.T) {
	tree := testkit.SeriesTree(t)
	b := testkit.BuildKernel(t, tree)
	res := bootKinit(t, tree, b, "panic")
	if r := res.Report; r.Outcome != "panic" || r.ExitCode() != 1 {
		t.Fatalf("panic: outcome %s exit %d", r.Outcome, r.ExitCode())
	}
	// A guest that never powers off: kinit stops on purpose with
	// splat=hang, so only kcheck's timeout can end the run. The timeout
	// leaves room for a slow TCG boot on a loaded machine.
	res2, err := Run(context.Background(), Options{Tree: tree, BuildDir: b.Dir, SkipBuild: true, Accel: "tcg",
		Timeout: 60 * time.Second, Append: "splat=hang", Selftests: kinitBuilder(t),
		OutDir: filepath.Join(b.Dir, "kcheck-e2e", "hang")})
	if err != nil {
		t.Fatal(err)
	}
	r := res2.Report
	if r.Outcome != "timeout" || r.ExitCode() != 1 || r.Verdict == bootreport.Pass {
		t.Fatalf("hang: outcome %s exit %d verdict %s", r.Outcome, r.ExitCode(), r.Verdict)
	}
	if !strings.Contains(r.ConsoleTail, "hanging on purpose") {
		t.Fatalf("hang: console tail does not show where the guest stopped:\n%s", r.ConsoleTail)
	}
}

// TestRegenerateSplatLogs boots one guest per trigger and stores the
// console logs in ../splat/testdata: the triggers of the kcheck boot
// kernel as <kind>.log (guestKinds in guest/), those that need another
// kernel (variantLogs: the debug and data kernels)
// under the names given there. It only runs when asked;
// KDEFER_REGEN_ONLY=kind,... picks some (KERNEL:kind for a variant
// kernel's, a bare kind of the debug kernel's is found by itself),
// KDEFER_REGEN_OUT=DIR writes them all as DIR/<kind>.log, every one on
// the kcheck boot kernel (another base: KDEFER_TREE_612 names its tree):
// KDEFER_E2E=1 KDEFER_REGEN_SPLATS=1 go test -run RegenerateSplatLogs ./internal/boot
func TestRegenerateSplatLogs(t *testing.T) {
	tree := testkit.SeriesTree(t)
	if os.Getenv("KDEFER_REGEN_SPLATS") != "1" {
		t.Skip("set KDEFER_REGEN_SPLATS=1 to regenerate ../splat/testdata/*.log")
	}
	kinds := []string{"", "warn", "bug", "null", "gpf", "lockdep", "rcu-usage", "atomic-sleep", "rcu-stall", "lockup", "hung", "panic"}
	kinds = append(kinds, guestKinds...)
	for _, v := range variantLogs {
		kinds = append(kinds, v.kernel+":"+v.what)
	}
	if k := os.Getenv("KDEFER_REGEN_ONLY"); k != "" {
		kinds = nil
		for _, w := range strings.Split(k, ",") {
			if _, ok := variantLog("debug:" + w); ok && os.Getenv("KDEFER_REGEN_OUT") == "" {
				w = "debug:" + w
			}
			kinds = append(kinds, w)
		}
	}
	plain, variants := (*kbuild.Result)(nil), map[string]*kbuild.Result{}
	for _, kind := range kinds {
		what, name := kind, kind+".log"
		var b *kbuild.Result
		if v, ok := variantLog(kind); ok {
			if variants[v.kernel] == nil {
				variants[v.kernel] = variantKernel(t, tree, v.kernel)
			}
			what, b, name = v.what, variants[v.kernel], v.log
		} else if strings.Contains(kind, ":") {
			t.Fatalf("KDEFER_REGEN_ONLY: %q names no log of variantLogs", kind)
		}
		switch {
		case b != nil:
		case what == "":
			name = "clean.log"
		case slices.Contains(guestKinds, what):
			name = filepath.Join("guest", name)
		}
		if b == nil {
			if plain == nil {
				plain = testkit.BuildKernel(t, tree)
			}
			b = plain
		}
		res := bootKinit(t, tree, b, what)
		data, err := os.ReadFile(res.Report.ConsoleLog)
		if err != nil {
			t.Fatal(err)
		}
		if out := os.Getenv("KDEFER_REGEN_OUT"); out != "" {
			name = filepath.Join(out, strings.TrimSuffix(filepath.Base(name), ".log")+".log")
			if what == "" {
				name = filepath.Join(out, "clean.log")
			}
		}
		dst := filepath.Join("..", "splat", "testdata", name)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s, %d splats, %s", dst, res.Report.Outcome, len(res.Report.Splats), res.Boot.Duration.Round(time.Millisecond))
	}
}

// guestKinds are the triggers of the kcheck boot kernel whose logs live
// in ../splat/testdata/guest.
var guestKinds = []string{"divide", "kasan-uaf", "kasan-oob", "double-free", "bad-unlock", "held-freed", "lock-return",
	"non-static", "recursive", "inconsistent", "still-held", "sched-atomic", "cant-die"}

// debugConfig is what the debug kernel adds to the kcheck boot
// configuration: the detectors of the report families the kcheck boot
// kernel cannot print (kmemleak, list debugging, UBSAN, hardened
// usercopy, the stack protector, the buddy hard lockup detector, which
// needs no NMI from a PMU that TCG lacks) and printk caller ids.
// CONFIG_BUG_ON_DATA_CORRUPTION stays off: list corruption and busy
// inodes are then WARNINGs, the form a distribution kernel prints.
var debugConfig = []string{
	"CONFIG_DEBUG_FS=y",
	"CONFIG_DEBUG_KMEMLEAK=y",
	"CONFIG_DEBUG_LIST=y",
	"CONFIG_UBSAN=y",
	"CONFIG_UBSAN_BOUNDS=y",
	"CONFIG_UBSAN_SHIFT=y",
	"CONFIG_HARDENED_USERCOPY=y",
	"CONFIG_STACKPROTECTOR=y",
	"CONFIG_STACKPROTECTOR_STRONG=y",
	"CONFIG_HARDLOCKUP_DETECTOR=y",
	"CONFIG_HARDLOCKUP_DETECTOR_PREFER_BUDDY=y",
	"CONFIG_PRINTK_CALLER=y",
}

// variantConfigs are the kernels besides the kcheck boot kernel, each
// its configuration on top of the kcheck boot one (Kconfig.frag). The
// data kernel is the debug kernel with list corruption made a BUG
// (CONFIG_BUG_ON_DATA_CORRUPTION, as syzbot's kernels), a block layer
// and ext2 (a root= it cannot mount: "VFS: Unable to mount root fs"),
// networking (a net device unregistered while referenced) and KCSAN,
// which excludes KASAN: one build for the four families (a kernel
// build takes most of an hour on this loaded two-core machine).
var variantConfigs = map[string][]string{
	"debug": debugConfig,
	"data": append(slices.Clone(debugConfig),
		"# CONFIG_KASAN is not set",
		"# CONFIG_KASAN_GENERIC is not set",
		"CONFIG_KCSAN=y",
		"CONFIG_BUG_ON_DATA_CORRUPTION=y",
		"CONFIG_BLOCK=y",
		// a block file system to try: without one the panic names the
		// device ("on \"/dev/sda\" or unknown-block(0,0)")
		"CONFIG_EXT2_FS=y",
		"CONFIG_NET=y",
		"# CONFIG_INET is not set",
	),
}

// variantLogs are the triggers booted on a variant kernel and the log
// each makes in ../splat/testdata ("" is the boot without a trigger).
var variantLogs = []struct{ kernel, what, log string }{
	{"debug", "", "clean/debug-6.12.log"},
	{"debug", "kmemleak", "guest/kmemleak.log"},
	{"debug", "list-del", "guest/list-del.log"},
	{"debug", "ubsan-shift", "guest/ubsan-shift.log"},
	{"debug", "ubsan-bounds", "guest/ubsan-bounds.log"},
	{"debug", "usercopy", "guest/usercopy.log"},
	{"debug", "stack-protector", "guest/stack-protector.log"},
	{"debug", "double-fault", "guest/double-fault.log"},
	{"debug", "vfs-busy", "guest/vfs-busy.log"},
	{"debug", "hard-lockup", "guest/hard-lockup.log"},
	{"debug", "gpf-kasan", "guest/gpf-kasan.log"},
	{"debug", "refcount", "guest/refcount.log"},
	{"debug", "warn-panic", "guest/warn-panic.log"},
	{"debug", "panic-root", "guest/panic-root.log"},
	{"debug", "hung", "guest/hung-caller.log"},
	{"debug", "hung-login", "guest/hung-login.log"},
	{"debug", "kmemleak-user", "guest/kmemleak-user.log"},
	{"debug", "kmemleak-stamp", "guest/kmemleak-stamp.log"},
	{"data", "list-del", "guest/list-corruption-bug.log"},
	{"data", "panic-vfs", "guest/panic-vfs.log"},
	{"data", "netdev-wait", "guest/netdev-wait.log"},
	{"data", "kcsan", "guest/kcsan.log"},
}

// variantLog finds "KERNEL:what" in variantLogs.
func variantLog(kind string) (v struct{ kernel, what, log string }, ok bool) {
	kernel, what, found := strings.Cut(kind, ":")
	if !found {
		return v, false
	}
	for _, v := range variantLogs {
		if v.kernel == kernel && v.what == what {
			return v, true
		}
	}
	return v, false
}

// variantKernel builds (or reuses) the kcheck boot kernel of tree with
// the variant's configuration on top.
func variantKernel(t *testing.T, tree, variant string) *kbuild.Result {
	t.Helper()
	r, err := kbuild.Build(context.Background(), kbuild.Options{Src: tree, FragmentText: kdefer.FragmentFor(tree),
		ExtraConfig: variantConfigs[variant], Targets: []string{"bzImage", "modules"}, Progress: t.Logf})
	if err != nil {
		t.Fatalf("building the %s kernel of %s: %v", variant, tree, err)
	}
	return r
}

// BenchmarkBootToVerdict measures initramfs + QEMU boot + KTAP and splat
// parsing with the kernel already built (kinit as the test program).
func BenchmarkBootToVerdict(b *testing.B) {
	tree := testkit.SeriesTree(b)
	kb := testkit.BuildKernel(b, tree)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := Run(context.Background(), Options{Tree: tree, BuildDir: kb.Dir, SkipBuild: true, Accel: "tcg",
			Timeout: 3 * time.Minute, Selftests: kinitBuilder(b), OutDir: filepath.Join(kb.Dir, "kcheck-bench")})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/verdict")
		b.ReportMetric(res.Boot.Duration.Seconds(), "s/qemu")
	}
}

// TestE2ESelftests runs the real self-tests (internal/selftest) on the
// tree with the series: both suites must report, every case must pass
// (skips only with a reason), with no splat.
func TestE2ESelftests(t *testing.T) {
	tree := testkit.SeriesTree(t)
	b := testkit.BuildKernel(t, tree)
	res, err := Run(context.Background(), Options{Tree: tree, BuildDir: b.Dir, SkipBuild: true, Accel: "tcg",
		Timeout: 5 * time.Minute, OutDir: filepath.Join(b.Dir, "kcheck-e2e", "selftests")})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	var sb strings.Builder
	r.Human(&sb)
	t.Log(sb.String())
	if r.Verdict != bootreport.Pass || !r.KTAP.Found || r.KTAP.Counts().Total() == 0 {
		t.Fatalf("verdict %s, problems %q", r.Verdict, r.Problems)
	}
	c := r.KTAP.Counts()
	if c.Fail > 0 || c.Missing > 0 || c.Pass < 25 {
		t.Fatalf("self-tests: %d passed, %d failed, %d skipped, %d never reported: want every case to pass", c.Pass, c.Fail, c.Skip, c.Missing)
	}
	suites := map[string]int{}
	r.KTAP.Walk(func(s []string, _ *ktap.Test) {
		if len(s) > 0 {
			suites[s[len(s)-1]]++
		}
	})
	for _, s := range []string{"unwind_deferred", "perf"} {
		if suites[s] == 0 {
			t.Errorf("suite %s did not report any case (suites: %v)", s, suites)
		}
	}
	var j strings.Builder
	r.JUnit(&j)
	e2e.ValidateJUnit(t, []byte(j.String()))
	t.Logf("boot-to-verdict: QEMU %s (%s)", res.Boot.Duration.Round(time.Millisecond), res.Boot.Accel)
}

// BenchmarkIncrementalRebuild touches one series file (kernel/unwind/
// deferred.c, or init/main.c on a tree without the series) and rebuilds.
func BenchmarkIncrementalRebuild(b *testing.B) {
	tree := testkit.SeriesTree(b)
	testkit.BuildKernel(b, tree)
	file := filepath.Join(tree, "kernel/unwind/deferred.c")
	if _, err := os.Stat(file); err != nil {
		file = filepath.Join(tree, "init/main.c")
	}
	for i := 0; i < b.N; i++ {
		now := time.Now()
		os.Chtimes(file, now, now)
		r := testkit.BuildKernel(b, tree)
		b.ReportMetric(r.Duration.Seconds(), "s/rebuild")
		b.ReportMetric(float64(r.Compiled), "files/rebuild")
	}
}

// TestE2EIcountCostFiguresHoldStill boots the series twice in the cost
// mode of kcheck bench --icount (QEMU -icount, one vCPU, "cost" on the
// kernel command line): only the cases that print cost figures run, and
// since guest time then counts instructions, the two boots give the
// same figures within 2% whatever the host's load, which wall-clock
// TCG figures (10-30% apart between boots) do not.
func TestE2EIcountCostFiguresHoldStill(t *testing.T) {
	tree := testkit.SeriesTree(t)
	b := testkit.BuildKernel(t, tree)
	var runs []map[string]float64
	for i := range 2 {
		o := Options{Tree: tree, BuildDir: b.Dir, SkipBuild: true, Timeout: 15 * time.Minute,
			OutDir: filepath.Join(b.Dir, "kcheck-e2e", "icount")}
		o.CostMode("shift=3,sleep=off")
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		r := res.Report
		if r.Verdict != bootreport.Pass || !r.KTAP.Found {
			t.Fatalf("boot %d: verdict %s, problems %q", i+1, r.Verdict, r.Problems)
		}
		ran := map[string]string{}
		r.KTAP.Walk(func(s []string, c *ktap.Test) {
			ran[strings.Join(append(slices.Clone(s), c.Name), "/")] = c.Directive + " " + c.Reason
		})
		for _, want := range []string{"unwind_deferred/cost_figures", "perftool/defer_overhead"} {
			if d, ok := ran[want]; !ok || strings.TrimSpace(d) != "" {
				t.Errorf("boot %d: %s: ran %v (%q), want it run and passed", i+1, want, ok, d)
			}
		}
		for _, s := range []string{"perf", "sframe"} {
			if d := ran[s]; !strings.HasPrefix(d, "SKIP cost figures only") {
				t.Errorf("boot %d: suite %s: %q, want SKIP in the cost mode", i+1, s, d)
			}
		}
		if len(ran) > 6 {
			t.Errorf("boot %d: %d results, want the cost cases only: %v", i+1, len(ran), ran)
		}
		runs = append(runs, conform.Costs(r.KTAP))
	}
	for _, k := range []string{"syscall_idle_ns", "request_task_ns", "request_nmi_ns", "nmi_null_ns", "perf_fp_ns", "perf_fp_defer_ns"} {
		a, c := runs[0][k], runs[1][k]
		if a <= 0 || c <= 0 {
			t.Errorf("%s: %v and %v, want a figure from both boots", k, a, c)
			continue
		}
		if d := math.Abs(a-c) / min(a, c); d > 0.02 {
			t.Errorf("%s: %.0f and %.0f ns, %.1f%% apart: want within 2%% under -icount", k, a, c, 100*d)
		}
		t.Logf("%s: %.0f and %.0f ns", k, a, c)
	}
}
