package toolchain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/lines"
)

// The host's own binutils is the fixture: Debian 12's as writes version 1,
// which ParseSFrameVersion must read as 1 (and Inspect must refuse).
func TestParseSFrameVersionHostAssembler(t *testing.T) {
	e2e.Tool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int f(int x) { return x + 1; }\n"), 0o644)
	obj := filepath.Join(dir, "p.o")
	if out, err := exec.Command("gcc", "-c", "-O2", "-Wa,--gsframe", "-o", obj, src).CombinedOutput(); err != nil {
		t.Skipf("host assembler has no --gsframe: %v %s", err, out)
	}
	out, err := exec.Command("readelf", "--sframe", obj).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf --sframe: %v %s", err, out)
	}
	v, err := ParseSFrameVersion(string(out))
	if err != nil {
		t.Fatal(err)
	}
	asv, _ := exec.Command("as", "--version").Output()
	t.Logf("host %s writes SFrame v%d", lines.First(string(asv)), v)
	if v < 1 || v > 3 {
		t.Fatalf("version %d is not a known SFrame version", v)
	}
}

func TestParseSFrameVersionErrors(t *testing.T) {
	if _, err := ParseSFrameVersion("readelf: Error: no .sframe section\n"); err == nil {
		t.Fatal("no version line must be an error")
	}
	v, err := ParseSFrameVersion("  Header :\n\n    Version: SFRAME_VERSION_2\n    Flags: SFRAME_F_FDE_SORTED\n")
	if err != nil || v != 2 {
		t.Fatalf("got %d, %v; want 2", v, err)
	}
}

func TestEnsureRejectsBadSuite(t *testing.T) {
	if _, err := Ensure(context.Background(), Options{Suite: "../etc", CacheDir: t.TempDir()}); err == nil {
		t.Fatal("a suite with a slash must be refused")
	}
}

// TestEnsureReal builds (or reuses) the real root and compiles a program
// whose SFrame section is version 2 and which runs on the host.
func TestEnsureReal(t *testing.T) {
	e2e.Need(t, "debootstraps a Debian root and compiles with it")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	tc, err := Ensure(ctx, Options{Progress: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Ensure took %s: %s, %s, SFrame v%d", time.Since(start).Round(time.Millisecond), tc.GCCVersion, tc.ASVersion, tc.SFrameVersion)
	if tc.SFrameVersion < 2 {
		t.Fatalf("SFrame version %d", tc.SFrameVersion)
	}
	bin, err := tc.Compile(ctx, "hello", SFrameFlags, map[string][]byte{
		"hello.c": []byte("#include <stdio.h>\nint main(void) { puts(\"sframe\"); return 0; }\n"),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(p, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p).Output()
	if err != nil || string(out) != "sframe\n" {
		t.Fatalf("running the program: %v %q", err, out)
	}
	hdr, err := exec.Command("readelf", "-lW", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexpGNUSFrame.Match(hdr) {
		t.Fatalf("no PT_GNU_SFRAME program header in the program:\n%s", hdr)
	}
}

var regexpGNUSFrame = regexp.MustCompile(`(?m)^\s*GNU_SFRAME\s`)
