// Package qemutests embeds the sources of the in-guest self-tests (the
// test module and the static user-space driver) so that kcheck can build
// them from any working directory, including after `go install`, and
// reads their documented deviations from upstream (DEVIATIONS.md), which
// both kcheck boot (upstream's known failures) and kcheck conform use.
package qemutests

import "embed"

// FS holds every source file of the self-tests: the module (module/),
// the user-space driver (user/), the mutation patches (mutations/) and
// the perf suite (perf/, owned by the perf work) and the SFrame suite
// (sframe/, built with internal/toolchain) and the perf-tool suite
// (perftool/, with the static perf of internal/perftool), and the headers
// the user-space programs share (include/).
//
//go:embed README.md DEVIATIONS.md module user mutations perf sframe perftool include
var FS embed.FS
