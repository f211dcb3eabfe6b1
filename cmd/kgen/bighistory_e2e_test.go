package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
)

// Issue 18, must show 4 and 5: memory that does not grow with history.
//
// bigHistory builds (once, cached) a repository whose baseline commit
// has the real 6.12 tree on top of a synthetic history made with git
// fast-import: commits each changing one file four directories deep
// (16 entries a level, so trees stay small), 7 objects per commit (the
// commit, the blob, 5 trees), in one pack. The 6.12 objects come
// from the golden copy through objects/info/alternates (as "git clone
// --shared" makes). The work tree is a hard-link farm of the golden one
// with its index (same inodes, so git status is clean at once).
func bigHistory(t testing.TB, objects int) string {
	t.Helper()
	g := golden(t)
	head := strings.TrimSpace(run(t, g, "git", "rev-parse", "HEAD"))
	baseTree := strings.TrimSpace(run(t, g, "git", "rev-parse", "HEAD^{tree}"))
	cache := filepath.Dir(g)
	dir := filepath.Join(cache, fmt.Sprintf("bighist-%d-%s", objects, head[:12]))
	if _, err := os.Stat(filepath.Join(dir, ".git", "kgen-big-ok")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	t.Logf("building %s: %d synthetic objects under the 6.12 baseline (once)", dir, objects)
	start := time.Now()
	run(t, "/", "git", "init", "-q", "-b", "main", dir)
	os.WriteFile(filepath.Join(dir, ".git/objects/info/alternates"), []byte(filepath.Join(g, ".git/objects")+"\n"), 0o644)
	for _, kv := range [][2]string{{"user.name", "Kgen E2E"}, {"user.email", "kgen-e2e@example.org"}, {"core.trustctime", "false"}} {
		run(t, dir, "git", "config", kv[0], kv[1])
	}
	fi := exec.Command("git", "fast-import", "--quiet", "--done")
	fi.Dir = dir
	stdin, _ := fi.StdinPipe()
	fi.Stdout, fi.Stderr = os.Stderr, os.Stderr
	if err := fi.Start(); err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	commits := objects / 7
	when := int64(1000000000)
	for i := 0; i < commits; i++ {
		p := fmt.Sprintf("synthetic/%x/%x/%x/f%x", i%16, (i/16)%16, (i/256)%16, (i/4096)%64)
		body := fmt.Sprintf("synthetic history, commit %d\npath %s\nvalue %d\n", i, p, i*7919%100003)
		msg := fmt.Sprintf("synthetic %d\n", i)
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Synth <synth@example.org> %d +0000\ndata %d\n%s", when+int64(i), len(msg), msg)
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", p, len(body), body)
	}
	// The baseline: the 6.12 tree, on top of the synthetic history.
	var ents []string
	for _, l := range strings.Split(strings.TrimSpace(run(t, g, "git", "ls-tree", baseTree)), "\n") {
		meta, name, _ := strings.Cut(l, "\t")
		f := strings.Fields(meta)
		ents = append(ents, fmt.Sprintf("M %s %s %s\n", f[0], f[2], name))
	}
	msg := "Linux 6.12 baseline over synthetic history\n"
	fmt.Fprintf(w, "commit refs/heads/main\ncommitter Synth <synth@example.org> %d +0000\ndata %d\n%sdeleteall\n%s\ndone\n", when+int64(commits), len(msg), msg, strings.Join(ents, ""))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := fi.Wait(); err != nil {
		t.Fatalf("git fast-import: %v", err)
	}
	if got := strings.TrimSpace(run(t, dir, "git", "rev-parse", "HEAD^{tree}")); got != baseTree {
		t.Fatalf("baseline tree %s, want %s", got, baseTree)
	}
	ents2, _ := os.ReadDir(g)
	for _, e := range ents2 {
		if e.Name() != ".git" {
			run(t, "/", "cp", "-al", filepath.Join(g, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	run(t, "/", "cp", filepath.Join(g, ".git/index"), filepath.Join(dir, ".git/index"))
	if st := run(t, dir, "git", "status", "--porcelain"); st != "" {
		t.Fatalf("big repository not clean:\n%.2000s", st)
	}
	os.WriteFile(filepath.Join(dir, ".git", "kgen-big-ok"), nil, 0o644)
	t.Logf("built in %v", time.Since(start).Round(time.Second))
	return dir
}

// bigCopy is a private copy of the big repository (hard links, with the
// files git and kgen rewrite copied).
func bigCopy(t testing.TB, src string) string {
	dst := filepath.Join(t.TempDir(), "big")
	run(t, "/", "cp", "-al", src, dst)
	for _, f := range []string{"index", "config", "HEAD", "packed-refs", "logs", "refs"} {
		p := filepath.Join(dst, ".git", f)
		os.RemoveAll(p)
		if _, err := os.Lstat(filepath.Join(src, ".git", f)); err == nil {
			run(t, "/", "cp", "-a", filepath.Join(src, ".git", f), p)
		}
	}
	return dst
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestE2EBigHistoryMemory: kgen apply and git am on the big repository,
// 3 runs each: peak RSS (getrusage of the child) and wall time. Set
// KDEFER_BIG_OBJECTS (default 2,000,000; 0 measures the plain baseline,
// for the time ratio); KGEN_OLD_BIN names an older
// kgen binary to measure beside (for the before/after figure);
// KDEFER_BIG_SKIP_GC=1 skips the final git fsck and gc (minutes on ten
// million objects).
func TestE2EBigHistoryMemory(t *testing.T) {
	e2e.Long(t, "kgen apply and git am on a repository of millions of objects")
	objects := 2000000
	if v, err := strconv.Atoi(os.Getenv("KDEFER_BIG_OBJECTS")); err == nil {
		objects = v
	}
	newCopy := func() string { return treeCopy(t) }
	if objects > 0 {
		src := bigHistory(t, objects)
		if out, err := exec.Command("sh", "-c", "du -sh "+src+"/.git/objects/pack; git -C "+src+" count-objects -v").CombinedOutput(); err == nil {
			t.Logf("repository:\n%s", out)
		}
		newCopy = func() string { return bigCopy(t, src) }
	}
	bin := builtKgen(t)
	patches := patchFiles(t)
	timed := func(dir string, name string, args ...string) (time.Duration, int64) {
		d, ru := measure(t, dir, name, args...)
		return d, ru.Maxrss
	}
	var kT, aT, oT []time.Duration
	var kRSS, aRSS, oRSS int64
	old := os.Getenv("KGEN_OLD_BIN")
	last := ""
	for i := 0; i < 3; i++ {
		dir := newCopy()
		mb := baseBranch(t, dir)
		d, rss := timed(dir, bin, "apply", dir)
		kT, kRSS = append(kT, d), max(kRSS, rss)
		if st := run(t, dir, "git", "status", "--porcelain"); st != "" {
			t.Fatalf("git status after kgen apply:\n%s", st)
		}
		run(t, dir, bin, "drop", dir)
		run(t, dir, "git", "switch", "-q", "-c", "am-bench")
		d, rss = timed(dir, "git", append([]string{"am", "-q"}, patches...)...)
		aT, aRSS = append(aT, d), max(aRSS, rss)
		if old != "" {
			run(t, dir, "git", "switch", "-q", mb)
			d, rss = timed(dir, old, "apply", dir, "--branch", "old-kgen")
			oT, oRSS = append(oT, d), max(oRSS, rss)
		}
		if i < 2 {
			os.RemoveAll(dir)
		} else {
			last = dir
		}
	}
	t.Logf("%d synthetic objects: kgen apply median %v (runs %v), peak RSS %d MB; git am median %v (runs %v), peak RSS %d MB; ratio %.2f",
		objects, median(kT), kT, kRSS/1024, median(aT), aT, aRSS/1024, float64(median(kT))/float64(median(aT)))
	if old != "" {
		t.Logf("before the fix (%s): median %v (runs %v), peak RSS %d MB", old, median(oT), oT, oRSS/1024)
	}
	if kRSS/1024 >= 300 {
		t.Errorf("kgen apply peak RSS %d MB, want < 300 MB", kRSS/1024)
	}
	if median(kT) > median(aT) {
		t.Errorf("kgen apply (%v) slower than git am (%v)", median(kT), median(aT))
	}
	if os.Getenv("KDEFER_BIG_SKIP_GC") == "" {
		healthy(t, last) // minutes on millions of objects
	}
}
