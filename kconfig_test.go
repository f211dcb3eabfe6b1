package kdefer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFragmentFor(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "arch"), 0o755)
	if f := FragmentFor(dir); f != KconfigFrag {
		t.Fatal("a tree without arch/Kconfig got optional options")
	}
	os.WriteFile(filepath.Join(dir, "arch", "Kconfig"), []byte("config UNWIND_USER\n\tbool\n"), 0o644)
	if strings.Contains(FragmentFor(dir), "SFRAME") {
		t.Fatal("SFrame option on a tree without it")
	}
	os.WriteFile(filepath.Join(dir, "arch", "Kconfig"), []byte("config UNWIND_USER_SFRAME\n\tbool \"x\"\n"), 0o644)
	if !strings.Contains(FragmentFor(dir), "\nCONFIG_UNWIND_USER_SFRAME=y\n") {
		t.Fatal("SFrame option missing on a tree that defines it")
	}
}

func TestFragmentForDropsGoneOptions(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "fs", "proc"), 0o755)
	os.WriteFile(filepath.Join(dir, "fs", "proc", "Kconfig"), []byte("config PROC_SYSCTL\n\tbool \"Sysctl support (/proc/sys)\" if EXPERT\n"), 0o644)
	if f := FragmentFor(dir); f != KconfigFrag {
		t.Fatal("a tree that defines PROC_SYSCTL did not get Kconfig.frag unchanged")
	}
	os.WriteFile(filepath.Join(dir, "fs", "proc", "Kconfig"), []byte("config PROC_FS\n\tbool\n"), 0o644)
	f := FragmentFor(dir)
	if strings.Contains(f, "\nCONFIG_PROC_SYSCTL=y\n") || !strings.Contains(f, "\n# CONFIG_PROC_SYSCTL=y: fs/proc/Kconfig does not define it\n") {
		t.Fatalf("PROC_SYSCTL kept on a tree without it:\n%s", f)
	}
}
