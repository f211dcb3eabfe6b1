package lint

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/workspace"
)

// lintSeries renders the templates in dir for tree and lints them in the
// per-tree scratch clone (shared with kcheck, so warm after one run).
func lintSeries(t *testing.T, tree, templates string) *Result {
	t.Helper()
	if !e2e.On() {
		t.Skip("renders and lints the whole series on a kernel tree (minutes): set KDEFER_E2E=1")
	}
	ctx := context.Background()
	s, _, err := workspace.Render(ctx, tree, os.DirFS(templates), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	work := workspace.WorkDir(tree)
	sc, err := workspace.OpenScratch(ctx, tree, filepath.Join(work, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	r, err := Run(ctx, s, Options{Tree: tree, Scratch: sc, APIBuild: filepath.Join(work, "build-api"),
		ConfigOff: []string{"UNWIND_USER"}, Upstream: kerneltree.Newest("", "7."), Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.WriteText(&b)
	t.Log("\n" + b.String())
	for _, n := range r.NotRun {
		t.Errorf("not run: %s at patch %d: %s", n.Check, n.Patch, n.Reason)
	}
	return r
}

func patchIndex(t *testing.T, r *Result, name string) int {
	for _, p := range r.Series.Patches {
		if p.Name == name {
			return p.Index
		}
	}
	t.Fatalf("no patch %q in the rendered series", name)
	return 0
}

func TestLintSeriesClean(t *testing.T) {
	tree := e2e.GitTree612(t)
	r := lintSeries(t, tree, "../../templates")
	if r.Failed() {
		t.Fatal("the series has lint findings (see the log)")
	}
}

// A copy of the series with one style error, one missing Signed-off-by
// and one stub whose parameter type differs from its prototype fails with
// exactly those three findings, each at its patch.
func TestLintSeriesThreeMutations(t *testing.T) {
	tree := e2e.GitTree612(t)
	dir := e2e.CopyTemplates(t, "../../templates")
	// 1. Style: trailing whitespace on a line the "faultable" patch adds.
	e2e.Mutate(t, dir, "files/kernel/unwind/deferred.c.tmpl",
		"#include <linux/kernel.h>\n", "#include <linux/kernel.h> \n")
	// 2. No Signed-off-by from the author of the "srcu" patch: the
	// renderer signs off every patch (series.yaml maintainer:), so the
	// missing sign-off is that of an author of the patch's own.
	e2e.Mutate(t, dir, "series.yaml",
		"    subject: \"unwind deferred: Use SRCU unwind_deferred_task_work()\"\n",
		"    subject: \"unwind deferred: Use SRCU unwind_deferred_task_work()\"\n    author: \"Other Author <other@kernel.test>\"\n")
	// 3. The !CONFIG_UNWIND_USER stub of unwind_deferred_request() takes
	// a u32 * where the prototype takes a u64 * ("deferred" patch).
	e2e.Mutate(t, dir, "files/include/linux/unwind_deferred.h.tmpl",
		"  u64 *cookie)\n{", "  u32 *cookie)\n{")
	r := lintSeries(t, tree, dir)
	var got []string
	for _, f := range r.Findings {
		if f.Fails() {
			got = append(got, r.Series.Label(f.Patch)+" | "+f.Check+" "+f.Type)
		}
	}
	want := []string{
		r.Series.Label(patchIndex(t, r, "faultable")) + " | checkpatch TRAILING_WHITESPACE",
		r.Series.Label(patchIndex(t, r, "deferred")) + " | capi param-type",
		r.Series.Label(patchIndex(t, r, "srcu")) + " | commit author-signoff",
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings that fail:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range r.Findings {
		if f.Check == CheckAPI && !(strings.Contains(f.Message, `"unsigned long long *"`) && strings.Contains(f.Message, `"unsigned *"`)) {
			t.Errorf("capi message does not show the prototype's type: %s", f.Message)
		}
		if f.Check == CheckCommit && f.Also != "checkpatch NO_AUTHOR_SIGN_OFF" {
			t.Errorf("missing sign-off not merged with checkpatch's: %+v", f)
		}
	}
}

// The uapi check compares the series' perf_event.h with upstream 7.x's:
// a series whose PERF_RECORD_CALLCHAIN_DEFERRED is 23 instead of 22 fails
// with one uapi finding, at the patch that last changes the header.
func TestLintUAPIAgainstUpstream(t *testing.T) {
	tree := e2e.GitTree612(t)
	e2e.Tree(t, "7") // the upstream side of the comparison
	dir := e2e.CopyTemplates(t, "../../templates")
	e2e.Mutate(t, dir, "edits/include/uapi/linux/perf_event.h.yaml",
		"PERF_RECORD_CALLCHAIN_DEFERRED		= 22,", "PERF_RECORD_CALLCHAIN_DEFERRED		= 23,")
	r := lintSeries(t, tree, dir)
	if r.UAPICompared == 0 {
		t.Fatal("no uapi field was compared")
	}
	var got []string
	for _, f := range r.Findings {
		if f.Check == CheckUAPI {
			got = append(got, f.File+": "+f.Message)
			if !f.Fails() || !strings.Contains(f.Message, "ours 23, upstream 22") {
				t.Errorf("finding %+v", f)
			}
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "include/uapi/linux/perf_event.h: ") {
		t.Fatalf("uapi findings:\n%s", strings.Join(got, "\n"))
	}
}
