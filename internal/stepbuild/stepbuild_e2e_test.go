package stepbuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/workspace"
)

// buildEach renders the templates in dir for the 6.12 tree and runs
// build --each in the per-tree scratch clone kcheck uses (so build
// directories stay warm between runs).
func buildEach(t testing.TB, templates string, configs []Config) (*workspace.Series, *Result) {
	t.Helper()
	tree := e2e.GitTree612(t)
	ctx := context.Background()
	s, _, err := workspace.Render(ctx, tree, os.DirFS(templates), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := workspace.OpenScratch(ctx, tree, filepath.Join(workspace.WorkDir(tree), "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	r, err := Run(ctx, s, Options{Scratch: sc, Configs: configs, Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.WriteText(&b, s, configs)
	t.Log("\n" + b.String())
	return s, r
}

// BenchmarkBuildEach builds the whole series after every patch, feature
// on and off, and prints the wall time (the target is 15 minutes on a
// 2-core machine). It needs a 6.12 tree and minutes of builds: run with
// KDEFER_E2E=1 go test -run '^$' -bench BuildEach -benchtime 1x -timeout 60m.
func BenchmarkBuildEach(b *testing.B) {
	if !e2e.On() {
		b.Skip("builds the series after every patch (minutes): set KDEFER_E2E=1")
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		s, r := buildEach(b, "../../templates", nil)
		d := time.Since(start)
		b.ReportMetric(d.Seconds(), "s/series")
		b.Logf("build --each: %d patches x 2 configurations in %s (target: 15m)", len(s.Patches), d.Round(time.Second))
		if r.Failed() {
			b.Fatalf("the series does not build cleanly after every patch: %+v", r.Breaks)
		}
	}
}

// firstBreak builds the series of the templates in dir after every
// patch, feature on, and returns the first break, which must be an error
// in file naming symbol at the patch named patch (and that patch's index).
func firstBreak(t *testing.T, dir, patch, file, symbol string) (*Result, int) {
	t.Helper()
	s, r := buildEach(t, dir, DefaultConfigs()[:1])
	want := -1
	for _, p := range s.Patches {
		if p.Name == patch {
			want = p.Index
		}
	}
	if len(r.Breaks) == 0 {
		t.Fatal("no break reported")
	}
	br := r.Breaks[0]
	if br.Patch != want || br.Kind != "error" || !strings.Contains(br.Message, symbol) || br.File != file {
		t.Fatalf("break %+v, want an error in %s naming %s at patch %d (%s)", br, file, symbol, want, patch)
	}
	return r, want
}

// A copy of the series where one patch calls a function that is only
// introduced two patches later is reported at that patch, with the
// compiler's message.
func TestBuildEachCallFromTheFuture(t *testing.T) {
	if !e2e.On() {
		t.Skip("builds the series after every patch (minutes): set KDEFER_E2E=1")
	}
	dir := e2e.CopyTemplates(t, "../../templates")
	// "used-bit", two patches before "task-exit" introduces it.
	b, err := os.ReadFile(filepath.Join(dir, "edits/kernel/exit.c.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), "- from: task-exit") != 2 {
		t.Fatalf("edits/kernel/exit.c.yaml changed shape:\n%s", b)
	}
	os.WriteFile(filepath.Join(dir, "edits/kernel/exit.c.yaml"), []byte(strings.ReplaceAll(string(b), "- from: task-exit", "- from: used-bit")), 0o644)
	firstBreak(t, dir, "used-bit", "kernel/exit.c", "unwind_deferred_task_exit")
}

// Nothing selects CONFIG_UNWIND_USER before the x86 patch, so without
// forcing it no step before that one compiles kernel/unwind/*.c. A copy
// of the series whose deferred.c stops compiling at "deferred" (patch 4)
// must be reported at that patch, from the object compiled alone.
func TestBuildEachCompilesDeferredWhereItIsAdded(t *testing.T) {
	if !e2e.On() {
		t.Skip("builds the series after every patch (minutes): set KDEFER_E2E=1")
	}
	dir := e2e.CopyTemplates(t, "../../templates")
	p := filepath.Join(dir, "files/kernel/unwind/deferred.c.tmpl")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "static DEFINE_MUTEX(callback_mutex);"
	if !strings.Contains(string(b), anchor) {
		t.Fatalf("%s changed shape: no %q", p, anchor)
	}
	os.WriteFile(p, []byte(strings.Replace(string(b), anchor, anchor+"\nstatic int kdefer_broken = kdefer_undeclared;", 1)), 0o644)
	r, want := firstBreak(t, dir, "deferred", "kernel/unwind/deferred.c", "kdefer_undeclared")
	for i := 2; i < want; i++ {
		if st := r.At("on", i); st == nil || len(st.Forced) == 0 {
			t.Errorf("patch %d: nothing compiled alone (%+v); kernel/unwind/deferred.o exists from patch 2", i, st)
		}
	}
}
