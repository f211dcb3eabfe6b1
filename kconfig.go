// Package kdefer holds files of the repository root that the tools
// embed.
package kdefer

import (
	_ "embed"
	"os"
	"path/filepath"
	"regexp"
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

// FragmentFor returns KconfigFrag plus the optional options that tree
// defines.
func FragmentFor(tree string) string {
	frag := KconfigFrag
	for _, o := range optional {
		if b, err := os.ReadFile(filepath.Join(tree, o.file)); err == nil && o.def.Match(b) {
			frag += "\n# " + o.file + " defines it\n" + o.line + "\n"
		}
	}
	return frag
}
