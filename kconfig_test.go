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
