package hostcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingToolsAndInstallLine(t *testing.T) {
	// A PATH with only git: every other binary tool is missing, and the
	// install line names their packages once each, sorted.
	dir := t.TempDir()
	os.Symlink("/bin/true", filepath.Join(dir, "git"))
	r := Run(Options{Path: dir})
	if r.OK() {
		t.Fatal("report is OK with almost nothing on PATH")
	}
	line := r.InstallCommand(false)
	for _, p := range []string{"bison", "flex", "qemu-system-x86", "xz-utils"} {
		if !strings.Contains(line, " "+p) {
			t.Errorf("install line %q lacks %s", line, p)
		}
	}
	if strings.Contains(line, " git") || strings.Contains(line, "ccache") {
		t.Errorf("install line %q names a present or optional tool", line)
	}
	if !strings.Contains(r.InstallCommand(true), "ccache") {
		t.Error("the line with optional packages lacks ccache")
	}
	if !strings.HasPrefix(line, "apt-get install -y ") {
		t.Errorf("install line %q", line)
	}
	for _, m := range r.Missing(false) {
		if m.Name == "git" {
			t.Error("git reported missing")
		}
	}
}

func TestEveryToolHasAPackage(t *testing.T) {
	seen := map[string]bool{}
	for _, tl := range Tools {
		if tl.Package == "" || (tl.Binary == "" && len(tl.Files) == 0) || seen[tl.Name] {
			t.Errorf("bad tool entry %+v", tl)
		}
		seen[tl.Name] = true
	}
	for _, want := range []string{"gcc", "make", "flex", "bison", "bc", "perl", "libelf headers", "openssl headers", "qemu-system-x86_64", "apt-get", "dpkg-deb", "git", "xz", "static glibc", "gcc-multilib", "ccache"} {
		if !seen[want] {
			t.Errorf("tool list lacks %s", want)
		}
	}
}

func TestStaticPerfPackagesAreListed(t *testing.T) {
	// internal/perftool links perf with -static: libelf.a and what it
	// needs must be installable by kcheck doctor --install.
	want := map[string]string{"static libelf": "libelf-dev", "static zlib": "zlib1g-dev",
		"static libzstd": "libzstd-dev", "flex": "flex", "bison": "bison"}
	for _, tl := range Tools {
		if pkg, ok := want[tl.Name]; ok {
			if tl.Package != pkg {
				t.Errorf("%s: package %s, want %s", tl.Name, tl.Package, pkg)
			}
			delete(want, tl.Name)
		}
	}
	for name := range want {
		t.Errorf("tool list lacks %s", name)
	}
}

func TestSplatLogToolsAreOptIn(t *testing.T) {
	// The cross compilers conflict with gcc-multilib on bookworm: the
	// default install line must never name them, the opt-in one must.
	r := Run(Options{Path: t.TempDir()})
	for _, line := range []string{r.InstallCommand(false), r.InstallCommand(true)} {
		for _, p := range []string{"gcc-aarch64-linux-gnu", "gcc-riscv64-linux-gnu", "qemu-system-arm", "gcc-arm-linux-gnueabihf", "gcc-powerpc64le-linux-gnu", "libc6-dev-ppc64el-cross", "qemu-system-ppc"} {
			if strings.Contains(line, p) {
				t.Errorf("default install line %q names opt-in package %s", line, p)
			}
		}
	}
	with := r.InstallCommand(true, SplatLogs)
	for _, p := range []string{"gcc-aarch64-linux-gnu", "gcc-riscv64-linux-gnu", "qemu-system-arm", "qemu-system-misc",
		"gcc-arm-linux-gnueabihf", "gcc-powerpc64le-linux-gnu", "qemu-system-ppc"} {
		if !strings.Contains(with, p) {
			t.Errorf("install line with %s %q lacks %s", SplatLogs, with, p)
		}
	}
	for _, m := range r.Missing(false) {
		if m.Extra != "" {
			t.Errorf("Missing without extras reports %s of set %s", m.Name, m.Extra)
		}
	}
}
