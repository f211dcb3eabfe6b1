package stepbuild

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInConfig(t *testing.T) {
	tree := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(tree, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(text), 0o644)
	}
	write("kernel/Makefile", "obj-y     = fork.o exec_domain.o \\\n\t    exit.o\nobj-y += unwind/\nobj-$(CONFIG_BPF) += bpf/\n")
	write("kernel/unwind/Makefile", "obj-$(CONFIG_UNWIND_USER) += user.o deferred.o\n")
	write("kernel/bpf/Makefile", "obj-y += core.o\n")
	write("arch/x86/Kbuild", "obj-y += entry/\n")
	write("arch/x86/entry/Makefile", "obj-y := common.o\n")
	cfg := map[string]string{"CONFIG_UNWIND_USER": "y"}
	for f, want := range map[string]bool{
		"kernel/fork.c":            true,
		"kernel/exit.c":            true,
		"kernel/nope.c":            false,
		"kernel/unwind/deferred.c": true,
		"kernel/bpf/core.c":        false,
		"arch/x86/entry/common.c":  true,
	} {
		if got := inConfig(tree, cfg, f); got != want {
			t.Errorf("%s: got %v, want %v", f, got, want)
		}
	}
	if inConfig(tree, map[string]string{}, "kernel/unwind/user.c") {
		t.Error("user.c built without CONFIG_UNWIND_USER")
	}
}
