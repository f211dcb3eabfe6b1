// Package templates holds the deferred-unwind series as templates (see
// FORMAT.md) and embeds them so that kgen works from "go install".
package templates

import "embed"

// FS is the template tree: series.yaml, probes.yaml, files/, edits/.
//
//go:embed FORMAT.md all:files all:edits all:series.d *.yaml
var FS embed.FS
