package kconfig

import (
	"strings"
	"testing"
)

func TestParseMergeCompare(t *testing.T) {
	base, err := Parse("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"x\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if base.Get("A") != "y" || base.Get("CONFIG_B") != "n" || base.Get("S") != "x" || base.Get("NONE") != "n" {
		t.Fatalf("values %v", base.Values)
	}
	want, _ := Parse("CONFIG_B=y\n# CONFIG_A is not set\n")
	merged := Merge("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n", want)
	if merged != "CONFIG_C=m\nCONFIG_B=y\n# CONFIG_A is not set\n" {
		t.Fatalf("merged %q", merged)
	}
	d := Compare(base, want)
	if len(d) != 2 || d[0].Option != "CONFIG_B" || d[0].Got != "n" || d[1].Option != "CONFIG_A" {
		t.Fatalf("dropped %+v", d)
	}
	if _, err := Parse("CONFIG_A=y\nnonsense\n"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line: %v", err)
	}
}

// The fixture tree has each structure that hides an option: depends on
// (with a continuation line), a menu's depends on, an if block, a
// choice's depends on, a sourced arch file, help text that mentions
// "depends on".
func TestExplain(t *testing.T) {
	got, _ := Parse("CONFIG_PRINTK=y\nCONFIG_FOO=y\n# CONFIG_64BIT is not set\n")
	d := []Dropped{{Option: "CONFIG_DEBUG_A"}, {Option: "CONFIG_DEBUG_B"}, {Option: "CONFIG_PICK_ONE"}, {Option: "CONFIG_PRINTK"}, {Option: "CONFIG_MISSING"}, {Option: "CONFIG_DERIVED"}}
	if err := Explain("testdata/tree", "x86", got, d); err != nil {
		t.Fatal(err)
	}
	check := func(i int, dep, unmet, where string) {
		t.Helper()
		if d[i].Depends != dep || strings.Join(d[i].Unmet, ",") != unmet || (where != "" && d[i].Where != where) {
			t.Errorf("%s: depends %q unmet %q where %q; want %q, %q, %q", d[i].Option, d[i].Depends, d[i].Unmet, d[i].Where, dep, unmet, where)
		}
	}
	check(0, "(PRINTK) && (FOO && BAR)", "BAR", "Kconfig:15")
	check(1, "(PRINTK) && (64BIT) && (!NOMMU)", "64BIT", "")
	check(2, "(BAR)", "BAR", "lib/Kconfig:5")
	check(3, "", "", "Kconfig:6")
	check(5, "(BAR && FOO)", "BAR", "arch/x86/Kconfig:13")
	if !strings.Contains(d[4].Depends, "no such symbol") {
		t.Errorf("missing symbol: %+v", d[4])
	}
}
