package uapicheck

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/templates"
)

// The trees are KDEFER_TREE_7 / KDEFER_TREE_612 when set, else the
// cached Debian trees (fetched under KDEFER_E2E=1, see internal/e2e);
// otherwise the tests skip.
// KDEFER_TEMPLATES=DIR renders another template tree instead of the
// embedded one.

func tree(t *testing.T, env, version string) string {
	t.Helper()
	if d := os.Getenv(env); d != "" {
		return d
	}
	return e2e.Tree(t, version)
}

func upstreamTree(t *testing.T) string {
	return tree(t, "KDEFER_TREE_7", "7")
}

func baseTree(t *testing.T) string {
	return tree(t, "KDEFER_TREE_612", "6.12")
}

func parseFile(t *testing.T, path string) *Header {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h
}

// renderedHeaders renders the series on the 6.12 base and returns the
// last state of each uapi header the series changes.
func renderedHeaders(t *testing.T, base string) map[string][]byte {
	t.Helper()
	var tpl fs.FS = templates.FS
	if d := os.Getenv("KDEFER_TEMPLATES"); d != "" {
		tpl = os.DirFS(d) // like kgen --templates DIR
	}
	res, err := render.Render(context.Background(), render.Options{Templates: tpl, Tree: base})
	if err != nil {
		t.Fatalf("rendering the series on %s: %v", base, err)
	}
	out := map[string][]byte{}
	for _, p := range res.Patches {
		for _, c := range p.Changes {
			if filepath.Base(c.Path) == "perf_event.h" && c.After != nil {
				out[c.Path] = c.After
			}
		}
	}
	return out
}

// TestSeriesMatchesUpstream compares, field by field, the perf uapi header
// of the rendered series (and its tools copy) with upstream 7.x's.
func TestSeriesMatchesUpstream(t *testing.T) {
	up7 := upstreamTree(t)
	base := baseTree(t)
	hdrs := renderedHeaders(t, base)
	for _, path := range []string{"include/uapi/linux/perf_event.h", "tools/include/uapi/linux/perf_event.h"} {
		t.Run(path, func(t *testing.T) {
			src, ok := hdrs[path]
			if !ok {
				t.Fatalf("the series does not change %s", path)
			}
			ours, err := Parse(src)
			if err != nil {
				t.Fatalf("rendered %s: %v", path, err)
			}
			upstream := parseFile(t, filepath.Join(up7, path))
			for _, it := range Compare(ours, upstream) {
				if it.Match() {
					t.Logf("%v", it)
				} else {
					t.Errorf("%v", it)
				}
			}
		})
	}
}

// TestBaseRejectsDeferBits checks that the unpatched 6.12 base rejects
// defer_callchain and defer_output like any unknown bit: both upstream
// positions lie in its __reserved_1, which perf_copy_attr() refuses with
// -EINVAL.
func TestBaseRejectsDeferBits(t *testing.T) {
	base := baseTree(t)
	up := parseFile(t, filepath.Join(upstreamTree(t), "include/uapi/linux/perf_event.h"))
	h := parseFile(t, filepath.Join(base, "include/uapi/linux/perf_event.h"))
	res, ok := h.Bits["__reserved_1"]
	if !ok {
		t.Fatal("the base has no __reserved_1 in the perf_event_attr flags word")
	}
	for _, n := range []string{"defer_callchain", "defer_output"} {
		if _, has := h.Bits[n]; has {
			t.Fatalf("the base already has %s", n)
		}
		b := up.Bits[n]
		if b.Pos < res.Pos || b.Pos+b.Width > res.Pos+res.Width {
			t.Errorf("upstream %s (bit %d) is outside the base's __reserved_1 (bits %d..%d)", n, b.Pos, res.Pos, res.Pos+res.Width-1)
		}
	}
	core, err := os.ReadFile(filepath.Join(base, "kernel/events/core.c"))
	if err != nil {
		t.Fatal(err)
	}
	check := regexp.MustCompile(`if \(attr->__reserved_1 \|\| attr->__reserved_2 \|\|\s*attr->__reserved_3\)\s*return -EINVAL;`)
	if !check.Match(core) {
		t.Error("the base's kernel/events/core.c does not refuse a set __reserved_1 with -EINVAL")
	}
}
