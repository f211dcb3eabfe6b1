package kconfig

import (
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/e2e"
)

// On Debian's real 6.12 tree: every Kconfig file for x86 reads without
// error, and the options a tinyconfig base drops are explained with
// their real dependencies.
func TestE2EExplainReal612(t *testing.T) {
	src := e2e.Tree(t, "6.12")
	start := time.Now()
	tr, err := Load(src, "x86")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d Kconfig files, %d symbols in %s", tr.Files, len(tr.Symbols), time.Since(start).Round(time.Millisecond))
	if tr.Files < 1000 || len(tr.Symbols) < 10000 {
		t.Fatalf("read only %d files, %d symbols", tr.Files, len(tr.Symbols))
	}
	// KASAN needs HAVE_ARCH_KASAN and a compiler that supports it;
	// PROVE_RCU depends on PROVE_LOCKING; DEBUG_ATOMIC_SLEEP sits in the
	// "Kernel hacking" menus that need DEBUG_KERNEL.
	got, _ := Parse("CONFIG_64BIT=y\nCONFIG_X86_64=y\n# CONFIG_PROVE_LOCKING is not set\n# CONFIG_DEBUG_KERNEL is not set\n")
	d := []Dropped{{Option: "CONFIG_PROVE_RCU"}, {Option: "CONFIG_DEBUG_ATOMIC_SLEEP"}}
	if err := Explain(src, "x86", got, d); err != nil {
		t.Fatal(err)
	}
	for _, x := range d {
		t.Logf("%s (%s): depends on %s; not set: %v", x.Option, x.Where, x.Depends, x.Unmet)
	}
	if !strings.Contains(d[0].Depends, "PROVE_LOCKING") || !contains(d[0].Unmet, "PROVE_LOCKING") || !strings.HasPrefix(d[0].Where, "kernel/rcu/Kconfig.debug") && !strings.HasPrefix(d[0].Where, "lib/Kconfig.debug") {
		t.Errorf("PROVE_RCU: %+v", d[0])
	}
	if !contains(d[1].Unmet, "DEBUG_KERNEL") {
		t.Errorf("DEBUG_ATOMIC_SLEEP: %+v", d[1])
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
