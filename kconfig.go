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

// renamed are fragment options whose symbol a newer tree renamed: where
// file no longer defines the old symbol and defines the new one, the
// fragment asks for the new one.
var renamed = []struct {
	old, new, file string
	def            *regexp.Regexp
}{
	// Linux 7.3 folded PROC_SYSCTL into SYSCTL (fs/proc/Kconfig), which
	// tinyconfig turns off like any other prompt.
	{"CONFIG_PROC_SYSCTL=y", "CONFIG_SYSCTL=y", "fs/proc/Kconfig", regexp.MustCompile(`(?m)^config PROC_SYSCTL$`)},
}

// FragmentFor returns KconfigFrag for tree: the optional options that
// tree defines added, the renamed ones under the tree's name.
func FragmentFor(tree string) string {
	frag := KconfigFrag
	for _, r := range renamed {
		b, err := os.ReadFile(filepath.Join(tree, r.file))
		newSym := regexp.MustCompile(`(?m)^config ` + regexp.QuoteMeta(strings.TrimSuffix(strings.TrimPrefix(r.new, "CONFIG_"), "=y")) + `$`)
		if err == nil && !r.def.Match(b) && newSym.Match(b) {
			frag = strings.Replace(frag, "\n"+r.old+"\n", "\n# "+r.file+" renamed "+r.old+"\n"+r.new+"\n", 1)
		}
	}
	for _, o := range optional {
		if b, err := os.ReadFile(filepath.Join(tree, o.file)); err == nil && o.def.Match(b) {
			frag += "\n# " + o.file + " defines it\n" + o.line + "\n"
		}
	}
	return frag
}
