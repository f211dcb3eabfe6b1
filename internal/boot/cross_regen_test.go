package boot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/initramfs"
	"github.com/kdefer/kdefer/internal/kbuild"
	"github.com/kdefer/kdefer/internal/qemu"
)

// smallGuest is a small kernel for kinit and the trigger module:
// tinyconfig with printk and its times, BUG, a tty, an initramfs, ELF,
// devtmpfs, /proc and /sys, futexes, modules and kallsyms, and more.
func smallGuest(more ...string) []string {
	return append([]string{"CONFIG_PRINTK=y", "CONFIG_PRINTK_TIME=y", "CONFIG_BUG=y", "CONFIG_TTY=y",
		"CONFIG_BLK_DEV_INITRD=y", "CONFIG_BINFMT_ELF=y", "CONFIG_DEVTMPFS=y", "CONFIG_PROC_FS=y", "CONFIG_SYSFS=y",
		"CONFIG_FUTEX=y", "CONFIG_MODULES=y", "CONFIG_MODULE_UNLOAD=y", "CONFIG_KALLSYMS=y"}, more...)
}

// detectors are the options of a guest whose stall and lockup triggers
// report: SMP (the RCU stall detector is Tree RCU's), the soft lockup
// and hung task detectors, and the sysctls that tune them.
var detectors = []string{
	"CONFIG_PROC_SYSCTL=y",
	"CONFIG_SMP=y",
	"CONFIG_DEBUG_KERNEL=y",
	"CONFIG_DETECT_HUNG_TASK=y",
	"CONFIG_SOFTLOCKUP_DETECTOR=y",
	"CONFIG_RCU_CPU_STALL_TIMEOUT=21",
}

// arm64Config is the arm64 kernel of the arm64 splat logs: tinyconfig
// with a PL011 console (QEMU's virt machine), an initramfs, modules,
// the detectors and lockdep.
var arm64Config = smallGuest(slices.Concat([]string{
	"CONFIG_SERIAL_AMBA_PL011=y",
	"CONFIG_SERIAL_AMBA_PL011_CONSOLE=y",
}, detectors, []string{
	"CONFIG_PROVE_LOCKING=y",
})...)

// riscvConfig is the riscv64 kernel of the riscv splat logs: tinyconfig
// with QEMU's virt machine (ARCH_VIRT), its 16550 console and the rest
// as arm64Config.
var riscvConfig = smallGuest(
	"CONFIG_ARCH_VIRT=y",
	// QEMU's device tree has riscv,isa only: without it every CPU is
	// invalid and smpboot.c BUGs
	"CONFIG_RISCV_ISA_FALLBACK=y",
	// gcc's rv64gc user space (kinit) uses the FPU: SIGILL without it
	"CONFIG_FPU=y",
	"CONFIG_SERIAL_8250=y",
	"CONFIG_SERIAL_8250_CONSOLE=y",
	"CONFIG_SERIAL_OF_PLATFORM=y",
	"CONFIG_SMP=y",
	"CONFIG_DEBUG_KERNEL=y",
)

// armConfig is the 32-bit ARM kernel of the arm splat logs: tinyconfig
// (which is a no-MMU Cortex-M kernel on arm) turned into an ARMv7
// multiplatform kernel for QEMU's virt machine, in ARM (not Thumb-2)
// mode, with the VFP that Debian's armhf user space (kinit) needs, a
// PL011 console and the detectors.
var armConfig = smallGuest(append([]string{
	"CONFIG_MMU=y",
	"CONFIG_ARCH_MULTIPLATFORM=y",
	"CONFIG_ARCH_MULTI_V7=y",
	"CONFIG_ARCH_VIRT=y",
	"# CONFIG_THUMB2_KERNEL is not set",
	"CONFIG_VFP=y",
	"CONFIG_VFPv3=y",
	"CONFIG_SERIAL_AMBA_PL011=y",
	"CONFIG_SERIAL_AMBA_PL011_CONSOLE=y",
}, detectors...)...)

// powerpcConfig is the ppc64le kernel of the powerpc splat logs:
// tinyconfig (a 32-bit big-endian kernel on powerpc) turned into a
// little-endian Book3S 64-bit kernel for QEMU's pseries machine, whose
// console is the hypervisor's (hvc0), and the detectors. SLOF starts
// the kernel through the Open Firmware client interface, which only
// prom_init (PPC_OF_BOOT_TRAMPOLINE, off in tinyconfig) speaks:
// without it SLOF reported a program exception at the kernel's entry.
// Debian's ppc64el user space (kinit) is built for POWER8 and stores
// with VSX instructions: without ALTIVEC and VSX init died of an
// illegal instruction (VSX unavailable). The bare-metal platform
// (PowerNV) is left out.
var powerpcConfig = smallGuest(append([]string{
	"CONFIG_PPC64=y",
	"CONFIG_PPC_BOOK3S_64=y",
	"CONFIG_CPU_LITTLE_ENDIAN=y",
	"CONFIG_PPC_PSERIES=y",
	"CONFIG_PPC_OF_BOOT_TRAMPOLINE=y",
	"CONFIG_ALTIVEC=y",
	"CONFIG_VSX=y",
	"# CONFIG_PPC_POWERNV is not set",
	"CONFIG_HVC_CONSOLE=y",
}, detectors...)...)

// crossGuests are the other architectures' kernels: how each is built
// (cross compiler prefix, make target of the image QEMU boots) and
// booted, and the triggers booted on it ("" is the boot without one,
// stored as ../splat/testdata/clean/kinit-ARCH-6.12.log).
var crossGuests = map[string]struct {
	cross, image, qemu, console string
	machine, config             []string
	logs                        []string
}{
	"arm64": {"aarch64-linux-gnu-", "Image", "qemu-system-aarch64", "ttyAMA0", []string{"-M", "virt", "-cpu", "cortex-a57"}, arm64Config,
		[]string{"", "bug", "null", "gpf", "rcu-stall", "warn", "lockup", "bus"}},
	"riscv": {"riscv64-linux-gnu-", "Image", "qemu-system-riscv64", "ttyS0", []string{"-M", "virt"}, riscvConfig,
		[]string{"", "null", "bug", "warn"}},
	"arm": {"arm-linux-gnueabihf-", "zImage", "qemu-system-arm", "ttyAMA0", []string{"-M", "virt", "-cpu", "cortex-a15"}, armConfig,
		[]string{"", "bug", "null", "gpf", "bus", "warn", "rcu-stall", "lockup"}},
	"powerpc": {"powerpc64le-linux-gnu-", "vmlinux", "qemu-system-ppc64", "hvc0", []string{"-M", "pseries"}, powerpcConfig,
		[]string{"", "bug", "null", "gpf", "warn", "rcu-stall", "lockup"}},
}

// TestRegenerateCrossSplatLogs cross-builds the kernel of each of
// crossGuests (KDEFER_CROSS_ARCH=arm64,riscv,arm,powerpc picks some) from a 6.12
// tree (KDEFER_TREE_612, or Debian's 6.12), boots it in QEMU's virt
// machine (TCG) with kinit and the trigger module once per trigger, and
// stores each console as ../splat/testdata/guest-ARCH/<kind>.log. It
// only runs when asked; KDEFER_REGEN_ONLY=kind,... picks the triggers:
// KDEFER_E2E=1 KDEFER_REGEN_SPLATS=1 go test -run RegenerateCrossSplatLogs ./internal/boot
func TestRegenerateCrossSplatLogs(t *testing.T) {
	e2e.Need(t, "a kernel tree, Debian's cross compilers and QEMU")
	if os.Getenv("KDEFER_REGEN_SPLATS") != "1" {
		t.Skip("set KDEFER_REGEN_SPLATS=1 to regenerate ../splat/testdata/guest-ARCH/*.log")
	}
	tree := os.Getenv("KDEFER_TREE_612")
	if tree == "" {
		tree = e2e.Tree(t, "6.12")
	}
	arches := []string{"arm64", "riscv", "arm", "powerpc"}
	if a := os.Getenv("KDEFER_CROSS_ARCH"); a != "" {
		arches = strings.Split(a, ",")
	}
	for _, arch := range arches {
		g, ok := crossGuests[arch]
		if !ok {
			t.Fatalf("KDEFER_CROSS_ARCH: no guest %q (crossGuests)", arch)
		}
		for _, tool := range []string{g.cross + "gcc", g.qemu} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Fatalf("%s not found: as root, kcheck doctor --install --with splat-logs", tool)
			}
		}
		b, err := kbuild.Build(context.Background(), kbuild.Options{Src: tree, Arch: arch, ExtraConfig: g.config,
			Targets: []string{g.image, "modules"}, Progress: t.Logf})
		if err != nil {
			t.Fatalf("building the %s kernel of %s: %v", arch, tree, err)
		}
		arts, err := buildKinit(t, b.Dir, arch, g.cross)
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
		kinds := g.logs
		if k := os.Getenv("KDEFER_REGEN_ONLY"); k != "" {
			kinds = strings.Split(k, ",")
		}
		dir := filepath.Join("..", "splat", "testdata", "guest-"+arch)
		os.MkdirAll(dir, 0o755)
		for _, what := range kinds {
			app, dst := "console="+g.console, filepath.Join(dir, "..", "clean", "kinit-"+arch+"-6.12.log")
			if what != "" {
				app += " splat=" + what + " " + splatArgs[what]
				dst = filepath.Join(dir, what+".log")
			}
			console := filepath.Join(out, "console-"+what+".log")
			r, err := qemu.Run(context.Background(), qemu.Options{QEMU: g.qemu, Kernel: b.Image, Initrd: initrd,
				Append: app, Accel: qemu.TCG, Timeout: 4 * time.Minute, ConsoleLog: console, ExtraArgs: g.machine})
			if err != nil {
				t.Fatalf("booting the %s kernel with %q: %v", arch, app, err)
			}
			if what == "" && r.Outcome != qemu.PowerOff {
				// every trigger would wait out its timeout the same way
				t.Fatalf("the %s kernel's boot without a trigger ended %s, not powered off: see %s", arch, r.Outcome, console)
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
}
