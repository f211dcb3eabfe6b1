package kbuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMake stands in for the kernel's make: it understands the config
// targets and "bzImage", and prints kbuild-style output.
const fakeMake = `#!/bin/sh
O=; SRC=; T=
while [ $# -gt 0 ]; do
  case "$1" in
    -C) SRC=$2; shift;;
    O=*) O=${1#O=};;
    -j*|ARCH=*|W=*|CC=*) ;;
    *) T="$T $1";;
  esac
  shift
done
for t in $T; do
  case $t in
    tinyconfig) printf 'CONFIG_CC_VERSION_TEXT="gcc"\n# CONFIG_64BIT is not set\n# CONFIG_PRINTK is not set\n' > $O/.config;;
    olddefconfig) grep -v '^CONFIG_NEEDS_FOO=' $O/.config > $O/.config.new; mv $O/.config.new $O/.config;;
    bzImage)
      echo "  CC      kernel/a.o"
      echo "$SRC/kernel/a.c:3:5: warning: unused variable 'x' [-Wunused-variable]"
      echo "  CC      kernel/b.o"
      if [ -n "$FAKE_FAIL" ]; then
        echo "$SRC/kernel/b.c: In function 'f':"
        echo "$SRC/kernel/b.c:7:2: error: 'y' undeclared (first use in this function)"
        echo "    7 |  y = 1;"
        echo "make[3]: *** [scripts/Makefile.build:229: kernel/b.o] Error 1"
        exit 2
      fi
      echo "  LD      vmlinux"
      echo "  BUILD   arch/x86/boot/bzImage"
      mkdir -p $O/arch/x86/boot; echo image > $O/arch/x86/boot/bzImage;;
  esac
done
`

func setup(t *testing.T) (Options, string) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "kernel"), 0o755)
	os.WriteFile(filepath.Join(src, "Makefile"), nil, 0o644)
	os.WriteFile(filepath.Join(src, "Kconfig"), []byte("source \"kernel/Kconfig.foo\"\n"), 0o644)
	os.WriteFile(filepath.Join(src, "kernel", "Kconfig.foo"), []byte("config NEEDS_FOO\n\tbool \"x\"\n\tdepends on FOO && PRINTK\n"), 0o644)
	mk := filepath.Join(dir, "make")
	os.WriteFile(mk, []byte(fakeMake), 0o755)
	frag := filepath.Join(dir, "frag")
	os.WriteFile(frag, []byte("# comment\nCONFIG_PRINTK=y\n"), 0o644)
	return Options{Src: src, Dir: filepath.Join(dir, "build"), Fragment: frag, Make: mk, Nice: -1, Jobs: 2}, dir
}

func TestBuildIncrementalAndWarnings(t *testing.T) {
	o, _ := setup(t)
	var lines []string
	o.Progress = func(f string, a ...any) { lines = append(lines, f) }
	r, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Image == "" || r.Compiled != 2 || !r.Reconfig {
		t.Fatalf("result %+v", r)
	}
	if len(r.Warnings) != 1 || r.Warnings[0].File != "kernel/a.c" || r.Warnings[0].Line != 3 || r.Warnings[0].Flag != "-Wunused-variable" {
		t.Fatalf("warnings %+v", r.Warnings)
	}
	if len(r.WarningsByFile()["kernel/a.c"]) != 1 {
		t.Fatal("WarningsByFile")
	}
	cfg, _ := os.ReadFile(r.Config)
	if !strings.Contains(string(cfg), "CONFIG_64BIT=y") || !strings.Contains(string(cfg), "CONFIG_PRINTK=y") {
		t.Fatalf(".config not merged:\n%s", cfg)
	}
	log, _ := os.ReadFile(r.LogPath)
	if !strings.Contains(string(log), "BUILD   arch/x86/boot/bzImage") {
		t.Fatal("log does not hold the make output")
	}
	r2, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Reconfig {
		t.Fatal("unchanged configuration was regenerated")
	}
}

func TestKeyAndDefaultDir(t *testing.T) {
	o, dir := setup(t)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	o.Dir = ""
	k1, _ := Key(o)
	o.ExtraConfig = []string{"CONFIG_FOO=y"}
	k2, _ := Key(o)
	o.ExtraConfig = nil
	o.W1 = true
	k3, _ := Key(o)
	if k1 == k2 || k1 == k3 || len(k1) != 16 {
		t.Fatalf("keys %s %s %s", k1, k2, k3)
	}
	o.W1 = false
	r, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// One level below the tree, so that kbuild's srctree is "..".
	if want := filepath.Join(o.Src, ".kdefer-build-"+k1); r.Dir != want {
		t.Fatalf("dir %s, want %s", r.Dir, want)
	}
	// Another clone of the same sources: the same key, its own directory.
	o2 := o
	o2.Src = filepath.Join(dir, "clone")
	if k, _ := Key(o2); k != k1 {
		t.Fatalf("the key depends on the tree's path: %s vs %s", k, k1)
	}
	// A tree that cannot be written builds in the cache.
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		os.Chmod(ro, 0o555)
		if d := DefaultDir(ro, k1); !strings.HasPrefix(d, filepath.Join(dir, "cache", "kdefer", "builds", k1+"-")) {
			t.Fatalf("read-only tree builds in %s", d)
		}
	}
}

func TestDroppedOption(t *testing.T) {
	o, _ := setup(t)
	o.ExtraConfig = []string{"CONFIG_NEEDS_FOO=y"}
	_, err := Build(context.Background(), o)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want *ConfigError", err)
	}
	if len(ce.Dropped) != 1 || ce.Dropped[0].Option != "CONFIG_NEEDS_FOO" || ce.Dropped[0].Depends != "(FOO && PRINTK)" ||
		strings.Join(ce.Dropped[0].Unmet, ",") != "FOO" {
		t.Fatalf("dropped %+v", ce.Dropped)
	}
	if !strings.Contains(err.Error(), "CONFIG_NEEDS_FOO: wanted y, got n (kernel/Kconfig.foo:1); depends on (FOO && PRINTK); not set: FOO") {
		t.Fatalf("message: %v", err)
	}
}

func TestBuildFailure(t *testing.T) {
	o, _ := setup(t)
	t.Setenv("FAKE_FAIL", "1")
	_, err := Build(context.Background(), o)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("error %v, want *BuildError", err)
	}
	if !strings.Contains(be.FirstError, "In function 'f'") || !strings.Contains(be.FirstError, "error: 'y' undeclared") ||
		!strings.Contains(be.FirstError, "y = 1;") || strings.Contains(be.FirstError, "make[3]") {
		t.Fatalf("first error:\n%s", be.FirstError)
	}
	if be.LogPath == "" || !strings.Contains(err.Error(), "full log: "+be.LogPath) {
		t.Fatalf("log path missing: %v", err)
	}
}

// The progress line names only compiled files as "last", and shows the
// estimate only while it can still hold.
func TestMonitorProgress(t *testing.T) {
	var lines []string
	m := &monitor{progress: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) },
		estimate: 2, stage: "prepare", seen: map[string]bool{}}
	m.line("  CC      kernel/unwind/deferred.o")
	m.line("  CALL    ../scripts/checksyscalls.sh")
	m.report()
	m.line("  CC      kernel/fork.o")
	m.line("  CC      kernel/exit.o")
	m.report()
	want := []string{
		"build: compile: 1/~2 files compiled (last: kernel/unwind/deferred.o)",
		"build: compile: 3 files compiled (last: kernel/exit.o)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("progress:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// With the build directory inside the tree the compiler names files
// "../kernel/exit.c"; errors and warnings must name "kernel/exit.c".
func TestSrcRelative(t *testing.T) {
	fix := srcRelative("/src/linux", "/src/linux/.kdefer-build-1")
	for in, want := range map[string]string{
		"../kernel/exit.c:947:9: error: implicit declaration of function 'f'": "kernel/exit.c:947:9: error: implicit declaration of function 'f'",
		"In file included from ../include/linux/sched.h:12,":                  "In file included from include/linux/sched.h:12,",
		"  CC      kernel/exit.o":                                             "  CC      kernel/exit.o",
		"../../outside.c:1:1: error: x":                                       "../../outside.c:1:1: error: x",
		"a/../b.c:1:1: warning: w":                                            "a/../b.c:1:1: warning: w",
	} {
		if got := fix(in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
	same := srcRelative("/src/linux", "/cache/build")
	if l := "/src/linux/kernel/exit.c:1:1: error: x"; same(l) != l {
		t.Errorf("build dir outside the tree: %q rewritten to %q", l, same(l))
	}
	deeper := srcRelative("/src/linux", "/src/linux/a/b")
	if got := deeper("../../kernel/fork.c:3:1: warning: w"); got != "kernel/fork.c:3:1: warning: w" {
		t.Errorf("two levels down: %q", got)
	}
}

// TestImagePath checks where each architecture's image target is
// looked for: a cross build of arm or powerpc that looked in
// arch/ARCH/boot/Image would fail after make succeeded.
func TestImagePath(t *testing.T) {
	for _, c := range []struct{ arch, target, want string }{
		{"x86_64", "bzImage", "arch/x86/boot/bzImage"},
		{"i386", "all", "arch/x86/boot/bzImage"},
		{"arm64", "Image", "arch/arm64/boot/Image"},
		{"riscv", "all", "arch/riscv/boot/Image"},
		{"arm", "zImage", "arch/arm/boot/zImage"},
		{"arm", "all", "arch/arm/boot/zImage"},
		{"powerpc", "vmlinux", "vmlinux"},
		{"powerpc", "all", "vmlinux"},
		{"x86_64", "modules", ""},
	} {
		got := imagePath(Options{Arch: c.arch, Dir: "/b"}, c.target)
		want := ""
		if c.want != "" {
			want = "/b/" + c.want
		}
		if got != want {
			t.Errorf("%s %s: %q, want %q", c.arch, c.target, got, want)
		}
	}
}
