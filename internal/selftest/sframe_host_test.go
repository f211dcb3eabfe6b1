package selftest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/render"
	"github.com/kdefer/kdefer/internal/toolchain"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
	"github.com/kdefer/kdefer/templates"
)

// The kernel headers that the rendered reader includes, each a shim.
var sframeShims = []string{"bits", "hardirq", "kernel", "mm_types", "rculist", "sched", "sizes",
	"slab", "spinlock", "types", "uaccess", "unaligned", "sched/signal", "sched/task_stack"}

// TestSFrameReaderOnHost renders the series for the cached 6.12 tree,
// compiles its kernel/unwind/sframe.c in user space with ASan and UBSan,
// with the toolchains of Debian trixie (binutils 2.44, SFrame version 2)
// and unstable (2.47, version 3), and runs testdata/sframe-host/harness.c:
// walks of the program's own stack must be exact, and 20,000 mutated
// sections must be refused or walked without a sanitizer report.
func TestSFrameReaderOnHost(t *testing.T) {
	e2e.Need(t, "renders the series for Debian's 6.12 tree and compiles with the SFrame v2 toolchain")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	tree := e2e.Tree(t, "6.12")
	res, err := render.Render(ctx, render.Options{Templates: templates.FS, Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	final := map[string][]byte{}
	for _, p := range res.Patches {
		for _, c := range p.Changes {
			final[c.Path] = c.After
		}
	}
	for suite, version := range map[string]int{"trixie": 2, "unstable": 3} {
		t.Run(suite, func(t *testing.T) {
			tc, err := toolchain.Ensure(ctx, toolchain.Options{Suite: suite, Progress: t.Logf})
			if err != nil {
				t.Skipf("no %s toolchain: %v", suite, err)
			}
			if tc.SFrameVersion != version {
				t.Logf("%s writes SFrame version %d now (was %d)", suite, tc.SFrameVersion, version)
			}
			hostHarness(ctx, t, tc, final)
		})
	}
}

func hostHarness(ctx context.Context, t *testing.T, tc *toolchain.Toolchain, final map[string][]byte) {
	work, err := os.MkdirTemp(filepath.Join(tc.Root, "tmp"), "sframe-host-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	files := map[string][]byte{
		"sframe.c":                       final["kernel/unwind/sframe.c"],
		"sframe.h":                       final["kernel/unwind/sframe.h"],
		"shim/linux/sframe.h":            final["include/linux/sframe.h"],
		"shim/linux/unwind_user_types.h": final["include/linux/unwind_user_types.h"],
		"shim/linux/errno.h":             []byte("#include <asm/errno.h>\n#include \"../kshim.h\"\n"),
		"harness.c":                      nil,
		"shim/kshim.h":                   nil,
	}
	if files["chain.h"], err = qemutests.FS.ReadFile(SharedHeader); err != nil {
		t.Fatal(err)
	}
	for _, h := range sframeShims {
		files["shim/linux/"+h+".h"] = []byte("#include \"" + strings.Repeat("../", strings.Count(h, "/")+1) + "kshim.h\"\n")
	}
	for name, data := range files {
		if data == nil {
			if data, err = os.ReadFile(filepath.Join("testdata/sframe-host", name)); err != nil {
				t.Fatal(err)
			}
		}
		if len(data) == 0 {
			t.Fatalf("the rendered series has no %s", name)
		}
		p := filepath.Join(work, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := "/tmp/" + filepath.Base(work)
	cc := exec.CommandContext(ctx, "chroot", tc.Root, "gcc", "-O2", "-g", "-fomit-frame-pointer", "-Wa,--gsframe",
		"-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-Wall", "-Werror",
		"-Wno-unused-function", "-I", in+"/shim", "-o", in+"/harness", in+"/harness.c", in+"/sframe.c")
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("compiling the reader on the host: %v\n%s", err, out)
	}
	// It runs in the root (its C library); the leak check needs /proc
	// there, so it is off.
	run := exec.CommandContext(ctx, "chroot", tc.Root, "env", "ASAN_OPTIONS=detect_leaks=0",
		"UBSAN_OPTIONS=print_stacktrace=1", in+"/harness", "20000")
	out, err := run.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	m := regexp.MustCompile(`fuzz: (\d+) sections, (\d+) refused, (\d+) accepted`).FindStringSubmatch(string(out))
	if m == nil || m[1] != "20000" || m[3] == "0" {
		t.Fatalf("the fuzz part did not run or accepted nothing:\n%s", out)
	}
	if strings.Contains(string(out), "runtime error") || strings.Contains(string(out), "AddressSanitizer") {
		t.Fatalf("sanitizer report:\n%s", out)
	}
}
