// Package workspace is where kcheck works on a series without touching
// the user's tree: the series rendered for a tree and read back as
// patches (Series, Render, ReadSeries, FindBase), and a private scratch
// clone of the tree in which the series is committed patch by patch
// (Scratch), per tree under ${XDG_CACHE_HOME:-~/.cache}/kdefer/lint
// (WorkDir). kcheck lint, build --each and ci all work here.
package workspace

import "github.com/kdefer/kdefer/internal/cachedir"

// WorkDir is the per-tree work directory of lint, build --each and ci:
// ${XDG_CACHE_HOME:-~/.cache}/kdefer/lint/<hash of the tree path>.
func WorkDir(tree string) string { return cachedir.ForTree("lint", "", tree) }
