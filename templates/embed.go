// Package templates holds the deferred-unwind series as templates (see
// FORMAT.md) and embeds them so that kgen works from "go install".
package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the template tree: series.yaml, probes.yaml, files/, edits/.
//
//go:embed FORMAT.md all:files all:edits all:series.d *.yaml
var FS embed.FS

// Dir returns the template tree in dir (a --templates flag), or FS when
// dir is "". A dir without series.yaml is refused.
func Dir(dir string) (fs.FS, error) {
	if dir == "" {
		return FS, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "series.yaml")); err != nil {
		return nil, fmt.Errorf("%s is not a template directory (it has no series.yaml): %w", dir, err)
	}
	return os.DirFS(dir), nil
}
