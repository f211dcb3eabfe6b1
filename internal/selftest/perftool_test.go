package selftest

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
)

// Without perf (here: KDEFER_PERFTOOL=0) the suite still goes into the
// initramfs, with the reason it prints in its SKIP line.
func TestPerfToolSkippedWithAReason(t *testing.T) {
	e2e.Tool(t, "gcc")
	t.Setenv("KDEFER_PERFTOOL", "0")
	work := t.TempDir()
	src := filepath.Join(work, "src")
	if err := prepareSources(src, ""); err != nil {
		t.Fatal(err)
	}
	arts := buildPerfTool(context.Background(), Options{Work: work, CC: "gcc"}, src)
	got := map[string]string{}
	for _, a := range arts {
		got[a.Name] = string(a.Data)
	}
	if _, ok := got[PerfToolName]; !ok {
		t.Fatalf("no suite program: %v", slices.Sorted(maps.Keys(got)))
	}
	if _, ok := got[PerfBinName]; ok {
		t.Fatal("perf shipped although KDEFER_PERFTOOL=0")
	}
	if why := got[PerfToolWhy]; !strings.Contains(why, "KDEFER_PERFTOOL=0") {
		t.Fatalf("reason %q", why)
	}
}
