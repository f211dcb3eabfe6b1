// Package cachedir names kdefer's cache: ${XDG_CACHE_HOME:-~/.cache}/kdefer
// and the per-tree directories under it. Every package that keeps
// something across runs (trees, builds, lint scratch clones, the KVM
// verdict) asks here, so the layout is decided in one place.
package cachedir

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
)

// Dir returns ${XDG_CACHE_HOME:-$HOME/.cache}/kdefer (a directory under
// the system's temporary directory when there is no home).
func Dir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "kdefer")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "kdefer")
	}
	return filepath.Join(os.TempDir(), "kdefer-cache")
}

// ForTree returns Dir()/area/<prefix><hash of the tree's absolute path>:
// one directory per tree and purpose ("lint", "builds" ...).
func ForTree(area, prefix, tree string) string {
	abs, err := filepath.Abs(tree)
	if err != nil {
		abs = tree
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(Dir(), area, prefix+hex.EncodeToString(sum[:6]))
}
