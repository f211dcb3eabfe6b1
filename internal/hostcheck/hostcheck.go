// Package hostcheck knows every host tool the kdefer pipeline needs and
// which Debian package provides it. It is the single source of truth for
// "kcheck doctor" and scripts/setup. (Whether KVM really boots a kernel
// here is internal/accel's question.)
//
//	r := hostcheck.Run(hostcheck.Options{})
//	r.OK()              // every required tool is present
//	r.InstallCommand()  // "apt-get install -y bison flex" for what is missing
package hostcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Tool is one thing the host must provide.
type Tool struct {
	Name     string   // what the user reads: "gcc", "libelf headers"
	Binary   string   // looked up on PATH, or
	Files    []string // glob patterns of which one must exist
	Package  string   // Debian package that provides it
	Required bool     // false: optional, reported but not a failure
	Purpose  string
	// Extra names an opt-in set ("splat-logs"): tools that only
	// regenerate test data. They are reported, but installed only when
	// the set is asked for (kcheck doctor --install --with NAME): on
	// Debian bookworm gcc-multilib conflicts with the cross compilers,
	// so installing them by default would break every bookworm setup.
	Extra string `json:"extra,omitempty"`
}

// SplatLogs is the Extra set of the cross-architecture and Rust splat
// logs of internal/splat/testdata.
const SplatLogs = "splat-logs"

// Tools is the list of everything the pipeline and its self-tests use.
var Tools = []Tool{
	{Name: "gcc", Binary: "gcc", Package: "gcc", Required: true, Purpose: "kernel and self-test builds"},
	{Name: "make", Binary: "make", Package: "make", Required: true, Purpose: "kernel builds"},
	{Name: "flex", Binary: "flex", Package: "flex", Required: true, Purpose: "kernel Kconfig/dtc parsers"},
	{Name: "bison", Binary: "bison", Package: "bison", Required: true, Purpose: "kernel Kconfig/dtc parsers"},
	{Name: "bc", Binary: "bc", Package: "bc", Required: true, Purpose: "kernel build (timeconst)"},
	{Name: "perl", Binary: "perl", Package: "perl", Required: true, Purpose: "checkpatch.pl, kernel-doc, build scripts"},
	{Name: "python3", Binary: "python3", Package: "python3", Required: true, Purpose: "kernel-doc of 6.13+ trees"},
	{Name: "libelf headers", Files: []string{"/usr/include/libelf.h", "/usr/include/*/libelf.h"}, Package: "libelf-dev", Required: true, Purpose: "objtool"},
	{Name: "openssl headers", Files: []string{"/usr/include/openssl/ssl.h", "/usr/include/*/openssl/ssl.h"}, Package: "libssl-dev", Required: true, Purpose: "kernel sign-file and certs"},
	{Name: "qemu-system-x86_64", Binary: "qemu-system-x86_64", Package: "qemu-system-x86", Required: true, Purpose: "kcheck boot"},
	{Name: "apt-get", Binary: "apt-get", Package: "apt", Required: true, Purpose: "kgen tree get"},
	{Name: "dpkg-deb", Binary: "dpkg-deb", Package: "dpkg", Required: true, Purpose: "kgen tree get"},
	{Name: "xz", Binary: "xz", Package: "xz-utils", Required: true, Purpose: "kgen tree get (fast decompression)"},
	{Name: "git", Binary: "git", Package: "git", Required: true, Purpose: "tree baselines, kgen apply checks"},
	{Name: "static glibc", Files: []string{"/usr/lib/x86_64-linux-gnu/libc.a", "/usr/lib/*/libc.a"}, Package: "libc6-dev", Required: true, Purpose: "the static self-test program (/init)"},
	{Name: "gcc-multilib", Files: []string{"/usr/lib/gcc/x86_64-linux-gnu/*/32/crtbegin.o"}, Package: "gcc-multilib", Required: true, Purpose: "32-bit compat self-test"},
	{Name: "xmllint", Binary: "xmllint", Package: "libxml2-utils", Required: true, Purpose: "JUnit schema validation (kcheck ci/boot --junit tests)"},
	{Name: "patch", Binary: "patch", Package: "patch", Required: true, Purpose: "patch --dry-run check of the rendered series (tests)"},
	{Name: "ccache", Binary: "ccache", Package: "ccache", Required: false, Purpose: "faster rebuilds (optional)"},
	// The static perf of the perftool suite (internal/perftool): libelf
	// resolves user symbols; Debian's libelf.a needs zlib and zstd.
	// Optional: without them that suite is skipped.
	{Name: "static libelf", Files: []string{"/usr/lib/*/libelf.a"}, Package: "libelf-dev", Required: false, Purpose: "static perf for the perftool self-tests (internal/perftool; optional)"},
	{Name: "static zlib", Files: []string{"/usr/lib/*/libz.a"}, Package: "zlib1g-dev", Required: false, Purpose: "static perf for the perftool self-tests (libelf needs it; optional)"},
	{Name: "static libzstd", Files: []string{"/usr/lib/*/libzstd.a"}, Package: "libzstd-dev", Required: false, Purpose: "static perf for the perftool self-tests (libelf needs it; optional)"},
	{Name: "pkg-config", Binary: "pkg-config", Package: "pkg-config", Required: false, Purpose: "perf's feature detection (perftool self-tests; optional)"},
	{Name: "debootstrap", Binary: "debootstrap", Package: "debootstrap", Required: false, Purpose: "the SFrame v2 toolchain of the sframe self-tests (internal/toolchain; optional: without it that suite is skipped)"},
	// The arm64 and riscv splat logs of internal/splat/testdata (their
	// kernels booted with the trigger module:
	// TestRegenerateCrossSplatLogs). Optional: nothing else uses them.
	{Name: "aarch64-linux-gnu-gcc", Binary: "aarch64-linux-gnu-gcc", Package: "gcc-aarch64-linux-gnu", Required: false, Purpose: "the arm64 kernel of the arm64 splat logs (optional)", Extra: SplatLogs},
	{Name: "static arm64 glibc", Files: []string{"/usr/aarch64-linux-gnu/lib/libc.a"}, Package: "libc6-dev-arm64-cross", Required: false, Purpose: "the arm64 /init of the arm64 splat logs (optional)", Extra: SplatLogs},
	{Name: "qemu-system-aarch64", Binary: "qemu-system-aarch64", Package: "qemu-system-arm", Required: false, Purpose: "boots the arm64 kernel of the arm64 splat logs (optional)", Extra: SplatLogs},
	{Name: "riscv64-linux-gnu-gcc", Binary: "riscv64-linux-gnu-gcc", Package: "gcc-riscv64-linux-gnu", Required: false, Purpose: "the riscv kernel of the riscv splat logs (optional)", Extra: SplatLogs},
	{Name: "static riscv64 glibc", Files: []string{"/usr/riscv64-linux-gnu/lib/libc.a"}, Package: "libc6-dev-riscv64-cross", Required: false, Purpose: "the riscv /init of the riscv splat logs (optional)", Extra: SplatLogs},
	{Name: "qemu-system-riscv64", Binary: "qemu-system-riscv64", Package: "qemu-system-misc", Required: false, Purpose: "boots the riscv kernel of the riscv splat logs (optional)", Extra: SplatLogs},
	{Name: "OpenSBI", Files: []string{"/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin"}, Package: "opensbi", Required: false, Purpose: "the firmware of QEMU's riscv virt machine (riscv splat logs; optional)", Extra: SplatLogs},
	// The 32-bit ARM (armhf, QEMU's virt machine) and powerpc (ppc64le,
	// QEMU's pseries machine, booted by SLOF) splat logs, the same way.
	{Name: "arm-linux-gnueabihf-gcc", Binary: "arm-linux-gnueabihf-gcc", Package: "gcc-arm-linux-gnueabihf", Required: false, Purpose: "the 32-bit ARM kernel of the arm splat logs (optional)", Extra: SplatLogs},
	{Name: "static armhf glibc", Files: []string{"/usr/arm-linux-gnueabihf/lib/libc.a"}, Package: "libc6-dev-armhf-cross", Required: false, Purpose: "the armhf /init of the arm splat logs (optional)", Extra: SplatLogs},
	{Name: "qemu-system-arm", Binary: "qemu-system-arm", Package: "qemu-system-arm", Required: false, Purpose: "boots the 32-bit ARM kernel of the arm splat logs (optional)", Extra: SplatLogs},
	{Name: "powerpc64le-linux-gnu-gcc", Binary: "powerpc64le-linux-gnu-gcc", Package: "gcc-powerpc64le-linux-gnu", Required: false, Purpose: "the ppc64le kernel of the powerpc splat logs (optional)", Extra: SplatLogs},
	{Name: "static ppc64el glibc", Files: []string{"/usr/powerpc64le-linux-gnu/lib/libc.a"}, Package: "libc6-dev-ppc64el-cross", Required: false, Purpose: "the ppc64le /init of the powerpc splat logs (optional)", Extra: SplatLogs},
	{Name: "qemu-system-ppc64", Binary: "qemu-system-ppc64", Package: "qemu-system-ppc", Required: false, Purpose: "boots the ppc64le kernel of the powerpc splat logs (optional)", Extra: SplatLogs},
	{Name: "SLOF", Files: []string{"/usr/share/qemu/slof.bin"}, Package: "qemu-system-data", Required: false, Purpose: "the firmware of QEMU's pseries machine (powerpc splat logs; optional)", Extra: SplatLogs},
	// The Rust panic log (Linux 6.1 with Rust support:
	// TestRegenerateRustSplatLogs). Debian's rustc is looked for in
	// /usr/bin: a rustup toolchain earlier in PATH is another compiler.
	{Name: "Debian rustc", Files: []string{"/usr/bin/rustc"}, Package: "rustc", Required: false, Purpose: "the Rust panic splat log of Linux 6.1 (optional)", Extra: SplatLogs},
	{Name: "Rust library sources", Files: []string{"/usr/lib/rustlib/src/rust/library/core/src/lib.rs"}, Package: "rust-src", Required: false, Purpose: "the kernel's core and alloc crates (Rust panic splat log; optional)", Extra: SplatLogs},
	{Name: "bindgen", Files: []string{"/usr/bin/bindgen"}, Package: "bindgen", Required: false, Purpose: "the kernel's Rust bindings (Rust panic splat log; optional)", Extra: SplatLogs},
	{Name: "libclang", Files: []string{"/usr/lib/llvm-*/lib/libclang.so*", "/usr/lib/*/libclang-*.so*"}, Package: "libclang-dev", Required: false, Purpose: "bindgen's C parser (Rust panic splat log; optional)", Extra: SplatLogs},
}

// Package returns the Debian package that provides binary, or binary
// itself when the list does not know it.
func Package(binary string) string {
	for _, t := range Tools {
		if t.Binary == binary {
			return t.Package
		}
	}
	return binary
}

// ToolResult is the state of one tool.
type ToolResult struct {
	Tool
	Found bool   `json:"found"`
	Path  string `json:"path,omitempty"`
}

// Report is the result of a host check.
type Report struct {
	Tools []ToolResult `json:"tools"`
}

// Options tune Run.
type Options struct {
	// Path overrides $PATH for the tool look-up (tests).
	Path string
}

// Run checks every tool.
func Run(o Options) Report {
	var r Report
	for _, t := range Tools {
		r.Tools = append(r.Tools, check(t, o.Path))
	}
	return r
}

// Path returns where the named tool was found ("" when it was not).
func (r Report) Path(name string) string {
	for _, t := range r.Tools {
		if t.Name == name && t.Found {
			return t.Path
		}
	}
	return ""
}

func check(t Tool, path string) ToolResult {
	res := ToolResult{Tool: t}
	if t.Binary != "" {
		if p, ok := lookPath(t.Binary, path); ok {
			res.Found, res.Path = true, p
		}
		return res
	}
	for _, g := range t.Files {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			res.Found, res.Path = true, m[0]
			break
		}
	}
	return res
}

func lookPath(bin, path string) (string, bool) {
	if path == "" {
		p, err := exec.LookPath(bin)
		return p, err == nil
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, bin)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// Missing returns the tools that were not found; required only when
// requiredOnly is set. Tools of an Extra set count only when the set is
// named in extras.
func (r Report) Missing(requiredOnly bool, extras ...string) []ToolResult {
	var m []ToolResult
	for _, t := range r.Tools {
		if t.Extra != "" && !slices.Contains(extras, t.Extra) {
			continue
		}
		if !t.Found && (t.Required || !requiredOnly) {
			m = append(m, t)
		}
	}
	return m
}

// OK reports whether every required tool is present. KVM is not
// required: without it kcheck boot uses TCG.
func (r Report) OK() bool { return len(r.Missing(true)) == 0 }

// Packages returns the sorted Debian packages that provide the missing
// tools (required and, with optional set, optional ones too, and the
// tools of the named Extra sets).
func (r Report) Packages(optional bool, extras ...string) []string {
	set := map[string]bool{}
	for _, t := range r.Missing(!optional, extras...) {
		set[t.Package] = true
	}
	pkgs := make([]string, 0, len(set))
	for p := range set {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	return pkgs
}

// InstallCommand returns the exact apt-get line that installs the missing
// packages ("" when nothing is missing).
func (r Report) InstallCommand(optional bool, extras ...string) string {
	p := r.Packages(optional, extras...)
	if len(p) == 0 {
		return ""
	}
	return "apt-get install -y " + strings.Join(p, " ")
}
