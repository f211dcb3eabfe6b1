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

// Linux 7.3 renamed PROC_SYSCTL to SYSCTL: the fragment follows the tree.
func TestFragmentForRenamed(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "fs", "proc"), 0o755)
	if !strings.Contains(KconfigFrag, "\nCONFIG_PROC_SYSCTL=y\n") {
		t.Fatal("Kconfig.frag no longer asks for CONFIG_PROC_SYSCTL: update the renamed table")
	}
	os.WriteFile(filepath.Join(dir, "fs", "proc", "Kconfig"), []byte("config PROC_SYSCTL\n\tbool \"x\"\nconfig SYSCTL\n\tbool\n"), 0o644)
	if f := FragmentFor(dir); !strings.Contains(f, "\nCONFIG_PROC_SYSCTL=y\n") || strings.Contains(f, "\nCONFIG_SYSCTL=y\n") {
		t.Fatalf("6.12 layout: want CONFIG_PROC_SYSCTL=y kept:\n%s", f)
	}
	os.WriteFile(filepath.Join(dir, "fs", "proc", "Kconfig"), []byte("config SYSCTL\n\tbool \"Sysctl support (/proc/sys)\" if EXPERT\n"), 0o644)
	if f := FragmentFor(dir); strings.Contains(f, "\nCONFIG_PROC_SYSCTL=y\n") || !strings.Contains(f, "\nCONFIG_SYSCTL=y\n") {
		t.Fatalf("7.3 layout: want CONFIG_SYSCTL=y instead:\n%s", f)
	}
}
