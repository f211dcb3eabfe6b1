package boot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/selftest"
)

// rustConfig is the kernel of the Rust panic log: tinyconfig with a
// serial console, an initramfs, modules and Rust support. Debian 12's
// rustc is 1.63 and its bindgen 0.60: Linux 6.1 asks for 1.62 and 0.56
// ("too new, may or may not work"), 6.12 for 1.78, 7.3 for 1.85, so 6.1
// is the one tree here it can build. Its libclang (14) refuses gcc's
// -ftrivial-auto-var-init=zero when bindgen reads the kernel's C flags:
// no automatic stack initialisation.
var rustConfig = smallGuest(
	"CONFIG_SERIAL_8250=y",
	"CONFIG_SERIAL_8250_CONSOLE=y",
	"CONFIG_ACPI=y",
	"CONFIG_RUST=y",
	"CONFIG_INIT_STACK_NONE=y",
)

// TestRegenerateRustSplatLogs builds Linux 6.1 (KDEFER_TREE_61, or
// Debian's 6.1) with rustConfig and Debian's rustc (/usr/bin first in
// PATH: a rustup toolchain earlier in PATH is not Debian's), boots it
// with kinit and splat=rust-panic (trigger_rust.ko) and stores the
// console as ../splat/testdata/guest-6.1/rust-panic.log. It only runs
// when asked:
// KDEFER_E2E=1 KDEFER_REGEN_SPLATS=1 go test -run RegenerateRustSplatLogs ./internal/boot
func TestRegenerateRustSplatLogs(t *testing.T) {
	e2e.Need(t, "a Linux 6.1 tree, Debian's rustc, bindgen and libclang, and QEMU")
	if os.Getenv("KDEFER_REGEN_SPLATS") != "1" {
		t.Skip("set KDEFER_REGEN_SPLATS=1 to regenerate ../splat/testdata/guest-6.1/rust-panic.log")
	}
	for _, tool := range []string{"/usr/bin/rustc", "/usr/bin/bindgen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: as root, kcheck doctor --install --with splat-logs", tool)
		}
	}
	t.Setenv("PATH", "/usr/bin"+string(os.PathListSeparator)+os.Getenv("PATH"))
	tree := os.Getenv("KDEFER_TREE_61")
	if tree == "" {
		tree = e2e.Tree(t, "6.1")
	}
	b, err := kbuild.Build(context.Background(), kbuild.Options{Src: tree, ExtraConfig: rustConfig,
		Targets: []string{"bzImage", "modules"}, Progress: t.Logf})
	if err != nil {
		t.Fatalf("building the Rust kernel of %s: %v", tree, err)
	}
	dir := filepath.Join("..", "splat", "testdata", "guest-6.1")
	os.MkdirAll(dir, 0o755)
	kinds := []string{"rust-panic"}
	if k := os.Getenv("KDEFER_REGEN_ONLY"); k != "" {
		kinds = strings.Split(k, ",")
	}
	for _, what := range kinds {
		res := bootKinit(t, tree, b, what)
		data, err := os.ReadFile(res.Report.ConsoleLog)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, what+".log")
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s, %d splats, %s", dst, res.Report.Outcome, len(res.Report.Splats), res.Boot.Duration.Round(time.Millisecond))
	}
}

// TestRegenerateRustSplatLogsTrixie boots Debian's 6.12.118 with
// rustConfig, built in a Debian trixie root by its rustc 1.85 (bindgen
// 0.71, libclang 19, gcc 14), which Debian 12's rustc cannot build, with
// kinit and splat=rust-panic, and stores the console as
// ../splat/testdata/guest-6.12-rust/rust-panic.log: the two-line panic
// of rustc 1.73 on. The kernel and the module are built in the root
// first (testdata/README.md, row guest-6.12-rust/, gives the commands):
// KDEFER_RUST_BUILD names that build directory, which holds
// arch/x86/boot/bzImage and kcheck-kinit/trigger_rust.ko (built from
// trigger/trigger_rust_612.rs). It only runs when asked:
// KDEFER_E2E=1 KDEFER_REGEN_SPLATS=1 KDEFER_RUST_BUILD=DIR go test -run RegenerateRustSplatLogsTrixie ./internal/boot
func TestRegenerateRustSplatLogsTrixie(t *testing.T) {
	e2e.Need(t, "a Rust-enabled 6.12 build made in a trixie root, and QEMU")
	build := os.Getenv("KDEFER_RUST_BUILD")
	if os.Getenv("KDEFER_REGEN_SPLATS") != "1" || build == "" {
		t.Skip("set KDEFER_REGEN_SPLATS=1 and KDEFER_RUST_BUILD to regenerate ../splat/testdata/guest-6.12-rust/rust-panic.log")
	}
	ko, err := os.ReadFile(filepath.Join(build, "kcheck-kinit", "trigger_rust.ko"))
	if err != nil {
		t.Fatalf("%v: build trigger_rust_612.rs in the root first", err)
	}
	work := t.TempDir()
	src, _ := filepath.Abs("../splat/testdata/trigger/kinit.c")
	e2e.Run(t, "", nil, "gcc", "-static", "-O2", "-Wall", "-o", filepath.Join(work, "init"), src)
	init, err := os.ReadFile(filepath.Join(work, "init"))
	if err != nil {
		t.Fatal(err)
	}
	arts := []selftest.Artifact{{Name: "init", Mode: 0o755, Data: init}, {Name: "trigger_rust.ko", Mode: 0o644, Data: ko}}
	tree := os.Getenv("KDEFER_TREE_612")
	if tree == "" {
		tree = e2e.Tree(t, "6.12")
	}
	res, err := Run(context.Background(), Options{Tree: tree, BuildDir: build, SkipBuild: true, Accel: "tcg",
		Timeout: 3 * time.Minute, Append: "splat=rust-panic",
		Selftests: func(context.Context, selftest.Options) ([]selftest.Artifact, error) { return arts, nil },
		OutDir:    filepath.Join(work, "run")})
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	data, err := os.ReadFile(res.Report.ConsoleLog)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "splat", "testdata", "guest-6.12-rust")
	os.MkdirAll(dir, 0o755)
	dst := filepath.Join(dir, "rust-panic.log")
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s, %d splats, %s", dst, res.Report.Outcome, len(res.Report.Splats), res.Boot.Duration.Round(time.Millisecond))
}
