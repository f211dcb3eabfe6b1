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
