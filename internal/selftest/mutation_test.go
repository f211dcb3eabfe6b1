package selftest_test

// Mutation testing of the self-tests: each patch in qemu-tests/mutations/
// injects one bug into kernel/unwind/deferred.c (or a hook of the
// series, such as the exit hook in kernel/exit.c). Applied to a copy of a
// tree that carries the series, built and booted, the cases the patch
// names must fail — otherwise the self-tests would not catch that bug.
//
// Run (about 15 minutes the first time: one full tinyconfig build; then
// about a minute per mutation, only deferred.c is rebuilt):
//
//	KDEFER_E2E=1 KDEFER_SERIES_TREE=/path/to/linux-with-series \
//	    [KDEFER_SERIES_REF=branch] \
//	    go test ./internal/selftest -run TestMutationsCaught -v -timeout 60m
//
// The copy is a git worktree of the tree's HEAD under
// ${XDG_CACHE_HOME:-~/.cache}/kdefer/mutation/ (kept, so later runs are
// incremental); the user's tree is never written to. To reuse a scratch
// worktree and its build directory instead, set KDEFER_MUTATION_WORKTREE
// and KDEFER_MUTATION_BUILD_DIR (both are modified, deferred.c restored).

import (
	"testing"

	"github.com/kdefer/kdefer/internal/testkit/mutation"
)

// mutations lists each patch with the cases it must make fail.
var mutations = []mutation.Mutation{
	{Patch: "mutations/nmi-callback-skipped.patch", Fail: []string{"nmi_request", "cookie_same_within_entry"}},
	{Patch: "mutations/cookie-reused.patch", Fail: []string{"cookie_new_each_entry"}},
	{Patch: "mutations/exit-hook-dropped.patch", Fail: []string{"exit_with_request_pending"}},
	{Patch: "mutations/cookie-order-7.2.patch", Fail: []string{"reset_window_nmi_request"}},
	{Patch: "mutations/twaf-no-alloc-dropped.patch", Fail: []string{"task_work_add_no_alloc"}},
}

func TestMutationsCaught(t *testing.T) {
	mutation.Suite(t, "unwind_deferred", "kernel/unwind/deferred.c", "", mutations)
}
