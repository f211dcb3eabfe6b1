package mutations_test

// Mutation testing of the perf self-test: each patch in
// qemu-tests/perf/mutations/ puts one bug into the perf part of the series
// (kernel/events/). Applied to a copy of a tree carrying the series, built
// and booted, the cases listed below must fail in the "perf" suite.
//
//	KDEFER_E2E=1 KDEFER_SERIES_TREE=/path/to/linux-with-series \
//	    go test ./qemu-tests/perf/mutations -run TestPerfMutationsCaught -v -timeout 90m
//
// The copy is the git worktree of the tree's HEAD that the mutation
// tests share, under ${XDG_CACHE_HOME:-~/.cache}/kdefer/mutation/ (kept:
// the first run builds a whole kernel, later ones only kernel/events/),
// booted as kcheck boot boots (internal/testkit/mutation); the user's tree
// is never written to.

import (
	"testing"

	"github.com/kdefer/kdefer/internal/testkit/mutation"
)

var mutations = []mutation.Mutation{
	{Patch: "perf/mutations/wrong-cpu.patch", Fail: []string{"percpu_record_on_return_cpu"}},
	{Patch: "perf/mutations/drop-cookie.patch", Fail: []string{"task_event_cookies", "percpu_cookies_every_cpu", "two_profilers_both_get_records"}},
}

func TestPerfMutationsCaught(t *testing.T) {
	mutation.Suite(t, "perf", "kernel/events/core.c", "perf_callchain_deferred_output", mutations)
}
