// Package kdefer holds files of the repository root that the tools
// embed.
package kdefer

import (
	_ "embed"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// KconfigFrag is Kconfig.frag, the options kcheck boot merges on top of
// a tinyconfig base.
//
//go:embed Kconfig.frag
var KconfigFrag string

// optional are boot options of features that only some trees have: each
// is added to the fragment (as CONFIG_SYM=y) where the tree's Kconfig file
// defines its symbol, so that one fragment serves every base (kbuild
// refuses a fragment option that the final configuration lacks).
var optional = []struct{ sym, file string }{
	// The SFrame unwinder (issue 14's patches): off on a tree without
	// them, native 7.x included.
	{"UNWIND_USER_SFRAME", "arch/Kconfig"},
}

// renamed are fragment options whose symbol a newer tree renamed: where
// file no longer defines the old symbol and defines the new one, the
// fragment asks for the new one.
var renamed = []struct{ old, new, file string }{
	// Linux 7.3 folded PROC_SYSCTL into SYSCTL (fs/proc/Kconfig), which
	// tinyconfig turns off like any other prompt.
	{"PROC_SYSCTL", "SYSCTL", "fs/proc/Kconfig"},
}

// defines reports whether Kconfig text b has a "config SYM" entry.
func defines(b []byte, sym string) bool {
	return regexp.MustCompile(`(?m)^config ` + regexp.QuoteMeta(sym) + `$`).Match(b)
}

// FragmentFor returns KconfigFrag for tree: the optional options that
// tree defines added, the renamed ones under the tree's name.
func FragmentFor(tree string) string {
	frag := KconfigFrag
	for _, r := range renamed {
		b, err := os.ReadFile(filepath.Join(tree, r.file))
		if err == nil && !defines(b, r.old) && defines(b, r.new) {
			old, new := "CONFIG_"+r.old+"=y", "CONFIG_"+r.new+"=y"
			frag = strings.Replace(frag, "\n"+old+"\n", "\n# "+r.file+" renamed "+old+"\n"+new+"\n", 1)
		}
	}
	for _, o := range optional {
		if b, err := os.ReadFile(filepath.Join(tree, o.file)); err == nil && defines(b, o.sym) {
			frag += "\n# " + o.file + " defines it\nCONFIG_" + o.sym + "=y\n"
		}
	}
	return frag
}
