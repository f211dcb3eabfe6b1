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
	"github.com/kdefer/kdefer/internal/initramfs"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/qemu"
)

// arm64Config is the arm64 kernel of the arm64 splat logs: tinyconfig
// with a PL011 console (QEMU's virt machine), an initramfs, modules,
// SMP (the RCU stall detector is Tree RCU's), the soft lockup and hung
// task detectors and lockdep.
var arm64Config = []string{
	"CONFIG_PRINTK=y",
	"CONFIG_PRINTK_TIME=y",
	"CONFIG_BUG=y",
	"CONFIG_TTY=y",
	"CONFIG_SERIAL_AMBA_PL011=y",
	"CONFIG_SERIAL_AMBA_PL011_CONSOLE=y",
	"CONFIG_BLK_DEV_INITRD=y",
	"CONFIG_BINFMT_ELF=y",
	"CONFIG_DEVTMPFS=y",
	"CONFIG_PROC_FS=y",
	"CONFIG_PROC_SYSCTL=y",
	"CONFIG_SYSFS=y",
	"CONFIG_FUTEX=y",
	"CONFIG_SMP=y",
	"CONFIG_MODULES=y",
	"CONFIG_MODULE_UNLOAD=y",
	"CONFIG_KALLSYMS=y",
	"CONFIG_DEBUG_KERNEL=y",
	"CONFIG_DETECT_HUNG_TASK=y",
	"CONFIG_SOFTLOCKUP_DETECTOR=y",
	"CONFIG_RCU_CPU_STALL_TIMEOUT=21",
	"CONFIG_PROVE_LOCKING=y",
}

// arm64Logs are the triggers booted on the arm64 kernel and the log each
// makes in ../splat/testdata/guest-arm64.
var arm64Logs = []string{"", "bug", "null", "gpf", "rcu-stall", "warn", "lockup"}

// TestRegenerateArm64SplatLogs cross-builds the arm64 kernel of
// arm64Config from a 6.12 tree (KDEFER_TREE_612, or Debian's 6.12), boots
// it in qemu-system-aarch64 (virt, cortex-a57, TCG) with kinit and the
// trigger module once per trigger, and stores each console as
// ../splat/testdata/guest-arm64/<kind>.log (without a trigger:
// ../splat/testdata/clean/kinit-arm64-6.12.log).
// It only runs when asked; KDEFER_REGEN_ONLY=kind,... picks some:
// KDEFER_E2E=1 KDEFER_REGEN_SPLATS=1 go test -run RegenerateArm64SplatLogs ./internal/boot
func TestRegenerateArm64SplatLogs(t *testing.T) {
	e2e.Need(t, "a kernel tree, an arm64 cross compiler and qemu-system-aarch64")
	if os.Getenv("KDEFER_REGEN_SPLATS") != "1" {
		t.Skip("set KDEFER_REGEN_SPLATS=1 to regenerate ../splat/testdata/guest-arm64/*.log")
	}
	for _, tool := range []string{"aarch64-linux-gnu-gcc", "qemu-system-aarch64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-system-arm (kcheck doctor --install lists them as optional)", tool)
		}
	}
	tree := os.Getenv("KDEFER_TREE_612")
	if tree == "" {
		tree = e2e.Tree(t, "6.12")
	}
	b, err := kbuild.Build(context.Background(), kbuild.Options{Src: tree, Arch: "arm64", ExtraConfig: arm64Config,
		Targets: []string{"Image", "modules"}, Progress: t.Logf})
	if err != nil {
		t.Fatalf("building the arm64 kernel of %s: %v", tree, err)
	}
	arts, err := buildKinit(t, b.Dir, "aarch64-linux-gnu-")
	if err != nil {
		t.Fatal(err)
	}
	arc := initramfs.New()
	for _, a := range arts {
		if err := arc.AddFile(a.Name, a.Mode, a.Data); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp"} {
		arc.AddDir(d, 0o755)
	}
	out := filepath.Join(b.Dir, "kcheck-e2e")
	os.MkdirAll(out, 0o755)
	initrd := filepath.Join(out, "initrd.cpio")
	if err := arc.WriteFile(initrd); err != nil {
		t.Fatal(err)
	}
	kinds := arm64Logs
	if k := os.Getenv("KDEFER_REGEN_ONLY"); k != "" {
		kinds = strings.Split(k, ",")
	}
	dir := filepath.Join("..", "splat", "testdata", "guest-arm64")
	os.MkdirAll(dir, 0o755)
	for _, what := range kinds {
		app, dst := "console=ttyAMA0", filepath.Join(dir, "..", "clean", "kinit-arm64-6.12.log")
		if what != "" {
			app += " splat=" + what + " " + splatArgs[what]
			dst = filepath.Join(dir, what+".log")
		}
		console := filepath.Join(out, "console-"+what+".log")
		r, err := qemu.Run(context.Background(), qemu.Options{QEMU: "qemu-system-aarch64", Kernel: b.Image, Initrd: initrd,
			Append: app, Accel: qemu.TCG, Timeout: 4 * time.Minute, ConsoleLog: console,
			ExtraArgs: []string{"-M", "virt", "-cpu", "cortex-a57"}})
		if err != nil {
			t.Fatalf("booting the arm64 kernel with %q: %v", app, err)
		}
		data, err := os.ReadFile(console)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s, %d console lines, %s", dst, r.Outcome, strings.Count(string(data), "\n"), r.Duration.Round(time.Millisecond))
	}
}
