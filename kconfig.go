// Package kdefer holds files of the repository root that the tools
// embed.
package kdefer

import _ "embed"

// KconfigFrag is Kconfig.frag, the options kcheck boot merges on top of
// a tinyconfig base.
//
//go:embed Kconfig.frag
var KconfigFrag string

// KASANConfig are the lines kcheck boot --kasan adds to Kconfig.frag:
// generic KASAN, which needs the full SLUB allocator (tinyconfig picks
// SLUB_TINY). They are not in Kconfig.frag itself because they roughly
// double the build and slow the TCG boot; see README.md for figures.
var KASANConfig = []string{
	"# CONFIG_SLUB_TINY is not set",
	"CONFIG_KASAN=y",
	"CONFIG_KASAN_GENERIC=y",
}
