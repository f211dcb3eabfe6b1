// Package kdefer holds files of the repository root that the tools
// embed.
package kdefer

import _ "embed"

// KconfigFrag is Kconfig.frag, the options kcheck boot merges on top of
// a tinyconfig base.
//
//go:embed Kconfig.frag
var KconfigFrag string
