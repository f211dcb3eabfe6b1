package perftool

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/e2e"
	qemutests "github.com/kdefer/kdefer/qemu-tests"
)

func compileWorkload(t *testing.T, flags ...string) string {
	t.Helper()
	src, err := qemutests.FS.ReadFile("perftool/perf-workload.c")
	if err != nil {
		t.Fatal(err)
	}
	return compile(t, src, flags...)
}

func compile(t *testing.T, src []byte, flags ...string) string {
	t.Helper()
	e2e.Tool(t, "gcc")
	dir := t.TempDir()
	c := filepath.Join(dir, "w.c")
	os.WriteFile(c, src, 0o644)
	bin := filepath.Join(dir, "w")
	args := append(append([]string{}, flags...), "-o", bin, c)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "libc.a") || strings.Contains(string(out), "-lc") {
			t.Skipf("no static libc: %s", out)
		}
		t.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
	return bin
}

func TestWorkloadKeepsEveryFrame(t *testing.T) {
	bin := compileWorkload(t, WorkloadCFlags...)
	if err := CheckFramePointers(bin, WorkloadChain); err != nil {
		t.Fatal(err)
	}
	if err := IsStatic(bin); err != nil {
		t.Fatal(err)
	}
	// It runs: the chain is entered and left (a short spin).
	if out, err := exec.Command(bin, "20").CombinedOutput(); err != nil {
		t.Fatalf("workload: %v %s", err, out)
	}
}

func TestCheckCatchesTheOmittedLeafFrame(t *testing.T) {
	// What the issue measured: at -O1 and above GCC drops the frame of
	// a function that calls nothing, even with -fno-omit-frame-pointer
	// and (GCC 12) -mno-omit-leaf-frame-pointer; -O0 keeps it.
	src := []byte(`
__attribute__((noinline)) int wl_leaf(int x) { return x * 3 + 1; }
__attribute__((noinline)) int wl_c(int x) { return wl_leaf(x) + 1; }
int main(int argc, char **argv) { return wl_c(argc); }
`)
	chain := []string{"wl_leaf", "wl_c", "main"}
	bin := compile(t, src, "-O2", "-fno-omit-frame-pointer")
	err := CheckFramePointers(bin, chain)
	if err == nil || !strings.Contains(err.Error(), "wl_leaf") {
		t.Fatalf("want the leaf's missing frame reported, got %v", err)
	}
	bin = compile(t, src, WorkloadCFlags...)
	if err := CheckFramePointers(bin, chain); err != nil {
		t.Fatal(err)
	}
	if err := CheckFramePointers(bin, []string{"wl_nothere"}); err == nil {
		t.Fatal("a missing function passed")
	}
}

func TestIsStaticRejectsDynamic(t *testing.T) {
	bin := compileWorkload(t, "-O1")
	if err := IsStatic(bin); err == nil {
		t.Fatal("a dynamically linked program passed as static")
	}
}

func TestCheckPrologue(t *testing.T) {
	ok := [][]byte{
		{0x55, 0x48, 0x89, 0xe5, 0x90, 0x90},
		{0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5},
	}
	for _, c := range ok {
		if err := checkPrologue(append(c, make([]byte, 16)...)); err != nil {
			t.Errorf("% x: %v", c, err)
		}
	}
	bad := [][]byte{
		{0x48, 0x83, 0xec, 0x08}, // sub $8,%rsp: no frame
		{0x55, 0x53, 0x48, 0x89}, // push %rbp; push %rbx: no mov
	}
	for _, c := range bad {
		if err := checkPrologue(append(c, make([]byte, 16)...)); err == nil {
			t.Errorf("% x accepted", c)
		}
	}
}
