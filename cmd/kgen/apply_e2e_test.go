package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/apply"
	"github.com/kdefer/kdefer/internal/e2e"

	"github.com/kdefer/kdefer/internal/kerneltree"
)

// The E2E tests run on a real Debian 6.12 git baseline ($KDEFER_TREE_612,
// else "kgen tree get 6.12 --git"); they need KDEFER_E2E=1.
//
// Per-test copies are cheap: a "golden" clone of the source tree is made
// once (cached under ${XDG_CACHE_HOME:-~/.cache}/kdefer/test/) with
// core.trustctime=false, and every test gets "cp -al" of it (a hard-link
// farm: no file data copied) with private copies of the small files git
// and kgen rewrite in place or that must differ (.git/index, config, HEAD,
// packed-refs, logs). Hard links are safe because git and kgen replace
// files by rename, never write them in place; linking changes the inode's
// ctime, which trustctime=false tells git to ignore.

func e2eSource(t testing.TB) string {
	t.Helper()
	if os.Getenv("KDEFER_E2E") != "1" {
		t.Skip("set KDEFER_E2E=1 to run on a real kernel tree")
	}
	if p := os.Getenv("KDEFER_TREE_612"); p != "" {
		return p
	}
	p, err := kerneltree.Get(context.Background(), kerneltree.Options{Version: "6.12", Git: true})
	if err != nil {
		t.Fatalf("kerneltree.Get: %v", err)
	}
	return p
}

func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	return e2e.Run(t, dir, nil, name, args...)
}

var goldenMu sync.Mutex

func golden(t testing.TB) string {
	t.Helper()
	src := e2eSource(t)
	goldenMu.Lock()
	defer goldenMu.Unlock()
	head := strings.TrimSpace(run(t, src, "git", "rev-parse", "HEAD"))
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "kdefer", "test", "apply-golden-"+head[:12])
	if _, err := os.Stat(filepath.Join(dir, ".git", "kgen-golden-ok")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	os.MkdirAll(filepath.Dir(dir), 0o755)
	t.Logf("making the golden copy of %s in %s (once)", src, dir)
	run(t, "/", "git", "clone", "-q", src, tmp)
	run(t, tmp, "git", "config", "core.trustctime", "false")
	run(t, tmp, "git", "config", "user.name", "Kgen E2E")
	run(t, tmp, "git", "config", "user.email", "kgen-e2e@example.org")
	run(t, tmp, "git", "remote", "remove", "origin")
	os.WriteFile(filepath.Join(tmp, ".git", "kgen-golden-ok"), nil, 0o644)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// treeCopy returns a private copy of the golden tree.
func treeCopy(t testing.TB) string {
	t.Helper()
	g := golden(t)
	dst := filepath.Join(t.TempDir(), "linux")
	run(t, "/", "cp", "-al", g, dst)
	for _, f := range []string{"index", "config", "HEAD", "packed-refs", "logs", "refs", "kgen-golden-ok"} {
		p := filepath.Join(dst, ".git", f)
		os.RemoveAll(p)
		if _, err := os.Lstat(filepath.Join(g, ".git", f)); err == nil {
			run(t, "/", "cp", "-a", filepath.Join(g, ".git", f), p)
		}
	}
	return dst
}

var (
	kgenBinOnce sync.Once
	kgenBin     string
)

// builtKgen builds the kgen binary once per test process
// ($KGEN_TEST_BIN instead names a binary to test, e.g. an older build to
// show that a test fails without a fix).
func builtKgen(t testing.TB) string {
	if b := os.Getenv("KGEN_TEST_BIN"); b != "" {
		return b
	}
	kgenBinOnce.Do(func() {
		d, err := os.MkdirTemp("", "kgen-bin")
		if err != nil {
			t.Fatal(err)
		}
		kgenBin = filepath.Join(d, "kgen")
		e2e.Run(t, "", nil, "go", "build", "-tags", "kgentest", "-o", kgenBin, ".")
	})
	return kgenBin
}

type snapshot struct {
	head, branch, tree, refs, index, status, files string
}

// touched are the files the series changes (and a neighbour it does not).
var touched = []string{"kernel/fork.c", "kernel/exit.c", "include/linux/sched.h", "arch/Kconfig", "kernel/unwind/deferred.c", "include/linux/unwind_deferred.h", "kernel/events/core.c", "include/uapi/linux/perf_event.h", "kernel/sched/core.c"}

func snap(t testing.TB, dir string) snapshot {
	t.Helper()
	g := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		out, _ := cmd.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	var files strings.Builder
	for _, p := range touched {
		data, err := os.ReadFile(filepath.Join(dir, p))
		fmt.Fprintf(&files, "%s %x %v\n", p, sha256.Sum256(data), err == nil)
	}
	refs := strings.Split(g("for-each-ref", "--format=%(refname)"), "\n")
	sort.Strings(refs)
	return snapshot{
		head:   g("rev-parse", "HEAD"),
		branch: g("symbolic-ref", "-q", "HEAD"),
		tree:   g("rev-parse", "HEAD^{tree}"),
		refs:   strings.Join(refs, " "),
		index:  fmt.Sprintf("%x", sha256.Sum256([]byte(g("ls-files", "-s")))),
		status: g("status", "--porcelain", "--untracked-files=all"),
		files:  files.String(),
	}
}

// carries says whether s holds what want holds (the branch, the tree,
// the index, the files and the refs) with a clean status; the commit ids
// may differ, their committer date being the run's.
func (s snapshot) carries(want snapshot) bool {
	return s.branch == want.branch && s.tree == want.tree && s.index == want.index && s.files == want.files && s.status == "" && s.refs == want.refs
}

// backAt says whether s is back at want: the same HEAD, index, files
// and refs, and a clean status.
func (s snapshot) backAt(want snapshot) bool {
	return s.head == want.head && s.index == want.index && s.files == want.files && s.status == "" && s.refs == want.refs
}

// killRounds is how many runs a kill test interrupts: def, or
// KDEFER_KILL_ROUNDS.
func killRounds(def int) int {
	if v, err := strconv.Atoi(os.Getenv("KDEFER_KILL_ROUNDS")); err == nil {
		return v
	}
	return def
}

// killRound says how round i of a kill test interrupts a run that takes
// full when nothing stops it: SIGKILL in even rounds, SIGINT in odd
// ones; one round in three at any moment, the others in the last
// tenths/10 of the run, where the transaction is.
func killRound(rng *rand.Rand, i int, full time.Duration, tenths int64) (syscall.Signal, time.Duration) {
	sig := syscall.SIGKILL
	if i%2 == 1 {
		sig = syscall.SIGINT
	}
	if i%3 == 0 {
		return sig, time.Duration(rng.Int63n(int64(full)))
	}
	return sig, full*time.Duration(10-tenths)/10 + time.Duration(rng.Int63n(int64(full)*tenths/10))
}

// killAt starts cmd, sends it sig after delay and returns its exit code
// and what it wrote.
func killAt(t testing.TB, cmd *exec.Cmd, sig os.Signal, delay time.Duration) (int, string) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	time.Sleep(delay)
	cmd.Process.Signal(sig)
	cmd.Wait()
	return cmd.ProcessState.ExitCode(), out.String()
}

// baseBranch is the branch the golden copy has checked out.
func baseBranch(t testing.TB, dir string) string {
	return strings.TrimSpace(run(t, dir, "git", "symbolic-ref", "--short", "HEAD"))
}

// patchFiles returns the absolute paths of the patches (not the cover
// letter) in patches/, or in its kept version dir (patches/vN) when
// given.
func patchFiles(t testing.TB, version ...string) []string {
	dir := filepath.Join(append([]string{"../../patches"}, version...)...)
	ps, _ := filepath.Glob(filepath.Join(dir, "*.patch"))
	var out []string
	for _, p := range ps {
		if !strings.HasSuffix(p, "0000-cover-letter.patch") {
			abs, _ := filepath.Abs(p)
			out = append(out, abs)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no patches in %s", dir)
	}
	return out
}

// TestE2EApplyMatchesGitAm: kgen apply on the real tree, then real git:
// fsck clean, status clean, and the tree equals what git am makes of
// patches/ on the same base.
func TestE2EApplyMatchesGitAm(t *testing.T) {
	dir := treeCopy(t)
	base := strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD"))
	mb := baseBranch(t, dir)
	bin := builtKgen(t)
	out := run(t, dir, bin, "apply", dir)
	t.Log(out)
	if s := run(t, dir, "git", "status", "--porcelain", "--untracked-files=all"); s != "" {
		t.Fatalf("git status after kgen apply:\n%s", s)
	}
	if s := run(t, dir, "git", "diff-files", "--name-only"); s != "" {
		t.Fatalf("stale index stat data:\n%s", s)
	}
	run(t, dir, "git", "fsck", "--strict", "--no-dangling")
	n := strings.Count(run(t, dir, "git", "rev-list", base+"..HEAD"), "\n")
	if n < 12 {
		t.Fatalf("%d commits, want 12+", n)
	}
	kgenTree := strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD^{tree}"))
	run(t, dir, "git", "switch", "-q", "-c", "am-check", base)
	run(t, dir, "git", append([]string{"am", "-q"}, patchFiles(t)...)...)
	amTree := strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD^{tree}"))
	if kgenTree != amTree {
		t.Fatalf("kgen apply made tree %s, git am made %s", kgenTree, amTree)
	}
	t.Logf("%d commits; kgen apply tree = git am tree = %s", n, kgenTree)
	run(t, dir, "git", "switch", "-q", "unwind-deferred")
	run(t, dir, bin, "status", dir)
	run(t, dir, bin, "drop", dir)
	if s := snap(t, dir); s.head != base || s.status != "" || s.branch != "refs/heads/"+mb {
		t.Fatalf("after drop: %+v", s)
	}
}

// TestE2EDirtyRefused: a local change in a file the series touches.
func TestE2EDirtyRefused(t *testing.T) {
	dir := treeCopy(t)
	p := filepath.Join(dir, "kernel/exit.c")
	data, _ := os.ReadFile(p)
	os.Remove(p) // never write a hard-linked file in place
	os.WriteFile(p, append(data, "/* local */\n"...), 0o644)
	before := snap(t, dir)
	cmd := exec.Command(builtKgen(t), "apply", dir)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != apply.ExitDirty || !strings.Contains(string(out), "kernel/exit.c") {
		t.Fatalf("want exit %d naming kernel/exit.c, got %v:\n%s", apply.ExitDirty, err, out)
	}
	if after := snap(t, dir); after != before {
		t.Fatalf("tree changed:\n%+v\n%+v", before, after)
	}
}

// TestE2EKill kills kgen apply (the binary) at random moments with SIGKILL
// and SIGINT, many times. After SIGINT the tree must be untouched or fully
// applied at once; after SIGKILL, once kgen recover has recovered the
// journal. KGEN_TEST_PAUSE_MS stretches the transaction so that the kills
// also land between its steps.
func TestE2EKill(t *testing.T) {
	dir := treeCopy(t)
	bin := builtKgen(t)
	mb := baseBranch(t, dir)
	base := snap(t, dir)
	k := killTest{
		dir: dir,
		cmd: func() *exec.Cmd {
			cmd := exec.Command(bin, "apply", dir)
			cmd.Env = append(os.Environ(), "KGEN_TEST_PAUSE_MS=40")
			return cmd
		},
		undo: func() {
			run(t, dir, bin, "drop", dir, "--to", mb)
			if s := snap(t, dir); !s.backAt(base) {
				t.Fatalf("drop did not restore the base: %+v", s)
			}
		},
		rounds: killRounds(24),
		tenths: 4,
	}
	applied := k.start(t) // the applied state, from a whole run
	k.killed = func(i int, sig syscall.Signal, delay time.Duration, code int, out string) {
		if sig != syscall.SIGINT {
			return
		}
		// No recovery needed: untouched or complete, right now.
		s := snap(t, dir)
		if s != base && s.branch != applied.branch {
			t.Fatalf("round %d: SIGINT after %v (exit %d) left a partial state:\n%+v\n%s", i, delay, code, s, out)
		}
		if _, err := os.Stat(filepath.Join(dir, ".git", "kgen-journal")); err == nil {
			t.Fatalf("round %d: SIGINT left a journal", i)
		}
	}
	nBase, nApplied, nRecovered := k.run(t)
	t.Logf("%d rounds (a paused run takes %v): %d untouched, %d fully applied, %d recovered from a journal", k.rounds, k.full, nBase, nApplied, nRecovered)
}

// killTest is the loop of a kill test: rounds of a run of cmd killed at
// a random moment (killRound), each followed by kgen recover, after
// which the tree must be where it was (from) or carry what a whole run
// makes of it (to), never a mix; undo takes it from to back to from.
type killTest struct {
	dir      string
	cmd      func() *exec.Cmd // a run, stretched by KGEN_TEST_PAUSE_MS
	undo     func()
	rounds   int
	tenths   int64 // killRound's: where in the run most kills land
	from, to snapshot
	full     time.Duration // how long a run takes when nothing stops it
	// killed, when set, looks at a round's tree right after the kill,
	// before kgen recover.
	killed func(round int, sig syscall.Signal, delay time.Duration, code int, out string)
}

// start runs cmd once to its end, from the tree as it is: it sets from,
// to and full, undoes the run and returns to.
func (k *killTest) start(t *testing.T) snapshot {
	t.Helper()
	k.from = snap(t, k.dir)
	t0 := time.Now()
	if out, err := k.cmd().CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	k.full = time.Since(t0)
	k.to = snap(t, k.dir)
	k.undo()
	return k.to
}

// run runs the rounds, then git fsck; it returns how many rounds left
// the tree at from, how many at to, and in how many kgen recover found
// an interrupted transaction.
func (k *killTest) run(t *testing.T) (untouched, done, recovered int) {
	t.Helper()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < k.rounds; i++ {
		sig, delay := killRound(rng, i, k.full, k.tenths)
		code, out := killAt(t, k.cmd(), sig, delay)
		if k.killed != nil {
			k.killed(i, sig, delay, code, out)
		}
		_, so := kgen(t, k.dir, nil, "recover", k.dir)
		if strings.Contains(so, "interrupted kgen") {
			recovered++
		}
		s := snap(t, k.dir)
		switch {
		case s == k.from:
			untouched++
		case s.carries(k.to):
			done++
			k.undo()
		default:
			t.Fatalf("round %d: %v after %v (exit %d) left a mix:\nbefore %+v\nafter  %+v\nnow    %+v\nkgen: %s\nrecover: %s", i, sig, delay, code, k.from, k.to, s, out, so)
		}
		if _, err := os.Stat(filepath.Join(k.dir, ".git", "index.lock")); err == nil {
			t.Fatalf("round %d: index.lock left after recovery", i)
		}
	}
	run(t, k.dir, "git", "fsck", "--no-dangling")
	return untouched, done, recovered
}

// measure runs name in dir, failing t when it fails, and returns its
// wall time and resource usage (getrusage of the child).
func measure(t testing.TB, dir string, name string, args ...string) (time.Duration, *syscall.Rusage) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return d, cmd.ProcessState.SysUsage().(*syscall.Rusage)
}

// BenchmarkApplyVsGitAm times kgen apply (the built binary) and git am of
// patches/ side by side on the same full tree, with peak RSS of each
// (getrusage of the child). Run with:
//
//	KDEFER_E2E=1 go test ./cmd/kgen -run '^$' -bench ApplyVsGitAm -benchtime 5x
func BenchmarkApplyVsGitAm(b *testing.B) {
	dir := treeCopy(b)
	bin := builtKgen(b)
	patches := patchFiles(b)
	base := strings.TrimSpace(run(b, dir, "git", "rev-parse", "HEAD"))
	mb := baseBranch(b, dir)
	var kCPU, aCPU time.Duration
	timed := func(name string, args ...string) (time.Duration, int64) {
		d, ru := measure(b, dir, name, args...)
		if name == "git" {
			aCPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		} else {
			kCPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		return d, ru.Maxrss
	}
	var kT, aT time.Duration
	var kRSS, aRSS int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, rss := timed(bin, "apply", dir)
		kT += d
		kRSS = max(kRSS, rss)
		run(b, dir, bin, "drop", dir, "--to", mb)

		run(b, dir, "git", "switch", "-q", "-c", "am-bench", base)
		d, rss = timed("git", append([]string{"am", "-q"}, patches...)...)
		aT += d
		aRSS = max(aRSS, rss)
		run(b, dir, "git", "switch", "-q", mb)
		run(b, dir, "git", "branch", "-q", "-D", "am-bench")
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(kT.Milliseconds())/n, "kgen-ms")
	b.ReportMetric(float64(aT.Milliseconds())/n, "gitam-ms")
	b.ReportMetric(float64(kT)/float64(aT), "kgen/gitam")
	b.ReportMetric(float64(kRSS)/1024, "kgen-maxrss-MB")
	b.ReportMetric(float64(aRSS)/1024, "gitam-maxrss-MB")
	b.ReportMetric(float64(kCPU.Milliseconds())/n, "kgen-cpu-ms")
	b.ReportMetric(float64(aCPU.Milliseconds())/n, "gitam-cpu-ms")
	fmt.Fprintf(os.Stderr, "kgen apply %.0f ms wall, %.0f ms CPU, peak RSS %.0f MB; git am %.0f ms wall, %.0f ms CPU, peak RSS %.0f MB; wall ratio %.2f over %d runs\n",
		float64(kT.Milliseconds())/n, float64(kCPU.Milliseconds())/n, float64(kRSS)/1024,
		float64(aT.Milliseconds())/n, float64(aCPU.Milliseconds())/n, float64(aRSS)/1024, float64(kT)/float64(aT), b.N)
}
