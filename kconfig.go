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
// is added to the fragment where the tree's Kconfig defines its symbol,
// so that one fragment serves every base (kbuild refuses a fragment
// option that the final configuration lacks).
var optional = []struct {
	line, file string
	def        *regexp.Regexp
}{
	// The SFrame unwinder (issue 14's patches): off on a tree without
	// them, native 7.x included.
	{"CONFIG_UNWIND_USER_SFRAME=y", "arch/Kconfig", regexp.MustCompile(`(?m)^config UNWIND_USER_SFRAME$`)},
}

// gone are options of Kconfig.frag that newer trees no longer have:
// where the tree's Kconfig file exists but does not define the symbol,
// the line is left out (Linux 7.x has no PROC_SYSCTL: /proc/sys comes
// with PROC_FS). A tree that defines it gets Kconfig.frag unchanged.
var gone = []struct {
	line, file string
	def        *regexp.Regexp
}{
	{"CONFIG_PROC_SYSCTL=y", "fs/proc/Kconfig", regexp.MustCompile(`(?m)^config PROC_SYSCTL$`)},
}

// FragmentFor returns KconfigFrag, without the options the tree no
// longer has, plus the optional options that tree defines.
func FragmentFor(tree string) string {
	frag := KconfigFrag
	for _, g := range gone {
		if b, err := os.ReadFile(filepath.Join(tree, g.file)); err == nil && !g.def.Match(b) {
			frag = strings.Replace(frag, "\n"+g.line+"\n", "\n# "+g.line+": "+g.file+" does not define it\n", 1)
		}
	}
	for _, o := range optional {
		if b, err := os.ReadFile(filepath.Join(tree, o.file)); err == nil && o.def.Match(b) {
			frag += "\n# " + o.file + " defines it\n" + o.line + "\n"
		}
	}
	return frag
}
