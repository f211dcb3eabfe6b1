package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/probe"
	"github.com/kdefer/kdefer/internal/render"
)

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ce *cli.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v (%T) carries no exit code", err, err)
	}
	return ce.Code
}

// TestErrorClasses: the exit code follows the kind of the error, however
// it was wrapped, and not the words of its message.
func TestErrorClasses(t *testing.T) {
	dir := t.TempDir()
	_, notKernel := probe.ReadVersion(probe.Dir(dir))
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte("VERSION = 6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, noPatchlevel := probe.ReadVersion(probe.Dir(dir))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		got  error
		want int
	}{
		{"no Makefile", RenderErr(ctx, fmt.Errorf("%s: %w", dir, notKernel)), ExitNotKernel},
		{"no PATCHLEVEL", RenderErr(ctx, fmt.Errorf("%s: %w", dir, noPatchlevel)), ExitNotKernel},
		{"carries the series", RenderErr(ctx, fmt.Errorf("render: %w", &render.CarriedError{Patch: "p", Path: "kernel/unwind/user.c"})), ExitApplied},
		{"not git", RenderErr(ctx, fmt.Errorf("%s: %w", dir, render.ErrNotGit)), ExitNotGit},
		// The words alone no longer decide.
		{"words only", RenderErr(ctx, errors.New("anchor: not a kernel tree; seems to carry the series")), ExitRender},
		{"index.lock", ExecuteErr(dir, &gitapply.IndexLockedError{Path: dir + "/.git/index.lock", WorkTree: dir}), ExitLocked},
		{"foreign index.lock", ExecuteErr(dir, fmt.Errorf("recover: %w", &gitapply.LockError{Path: dir + "/.git/index.lock"})), ExitLocked},
		{"other execute error", ExecuteErr(dir, errors.New("index.lock exists")), cli.ExitHarness},
	} {
		if code := exitCode(t, tc.got); code != tc.want {
			t.Errorf("%s: exit %d, want %d (%v)", tc.name, code, tc.want, tc.got)
		}
	}
	if notKernel == nil || notKernel.Error() != "not a kernel tree: no top-level Makefile" {
		t.Errorf("message changed: %v", notKernel)
	}
}
