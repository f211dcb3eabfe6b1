package kdefer

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// stages is the layout of README.md: every package of the module by the
// job it does, in the order data flows through kcheck ci (tree -> probe
// -> render -> apply -> build -> check -> boot -> report). The shared
// helpers serve every stage; tests and the CLIs may import anything.
var stages = []struct {
	name     string
	packages []string
}{
	{"shared", []string{"", "internal/cli", "internal/lines", "internal/proc", "internal/flock", "internal/cachedir", "internal/printk", "internal/gitobj", "templates", "qemu-tests"}},
	{"tree", []string{"internal/kerneltree", "internal/aptsrc", "internal/debroot"}},
	{"probe", []string{"internal/probe"}},
	{"render", []string{"internal/series", "internal/edit", "internal/render", "internal/formatpatch", "internal/versions"}},
	{"apply", []string{"internal/apply", "internal/gitapply", "internal/workspace"}},
	{"build", []string{"internal/kconfig", "internal/kbuild", "internal/stepbuild", "internal/toolchain"}},
	{"check", []string{"internal/lint", "internal/checkpatch", "internal/cindent", "internal/kerneldoc", "internal/commitcheck", "internal/capi", "internal/uapicheck"}},
	{"boot", []string{"internal/accel", "internal/hostcheck", "internal/initramfs", "internal/qemu", "internal/perftool", "internal/selftest", "internal/ktap", "internal/splat", "internal/bootreport", "internal/boot"}},
	{"report", []string{"internal/ci", "internal/conform", "internal/matrix"}},
	{"workflows", []string{"internal/ghjob"}},
	{"tests", []string{"internal/e2e", "internal/testkit", "internal/testkit/mutation", "qemu-tests/perf/mutations", "cmd/kgen", "cmd/kcheck"}},
}

// TestLayout holds every package to the layout: a package imports only
// packages of its own stage, of an earlier stage, or the shared helpers,
// and every package of the module has a stage. A new package, or an
// import against the flow (boot importing the report stage's conform,
// lint reading the tree cache), fails here with the edge to remove.
func TestLayout(t *testing.T) {
	const module = "github.com/kdefer/kdefer"
	stageOf := map[string]int{}
	for i, s := range stages {
		for _, p := range s.packages {
			stageOf[strings.TrimSuffix(module+"/"+p, "/")] = i
		}
	}
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		from, ok := stageOf[p.ImportPath]
		if !ok {
			t.Errorf("%s has no stage in the layout (README.md, layout_test.go)", p.ImportPath)
			continue
		}
		if stages[from].name == "tests" {
			continue
		}
		for _, imp := range p.Imports {
			to, ok := stageOf[imp]
			if !ok || to == 0 || to <= from {
				continue
			}
			t.Errorf("%s (%s) imports %s (%s), a later stage", p.ImportPath, stages[from].name, imp, stages[to].name)
		}
	}
}
