package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kdefer/kdefer/internal/boot"
	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/e2e"
	"github.com/kdefer/kdefer/internal/selftest"
	"github.com/kdefer/kdefer/internal/testkit"
)

// hangInit starts a KTAP document, reports one case and then waits for
// ever: a guest that hangs in the middle of the self-tests.
const hangInit = `#include <stdio.h>
#include <unistd.h>
int main(void)
{
	printf("KTAP version 1\n1..2\nok 1 first_case\n# init: waiting for ever\n");
	fflush(stdout);
	for (;;)
		pause();
}
`

// A guest that hangs in kcheck conform's (and bench's) boot ends the
// run with exit 1 and the cause, as kcheck boot does, not with a
// comparison of the half document (the cases it never reported would
// count as differences) or a harness error without the reason. The real
// kernel of the test kit, the real QEMU, an /init that never ends.
func TestE2EConformBootHang(t *testing.T) {
	e2e.Need(t, "a kernel build and QEMU")
	tree, build := testkit.Kernel(t)
	init := e2e.StaticInit(t, hangInit)
	start := time.Now()
	_, _, err := bootKTAP(context.Background(), boot.Options{Tree: tree, BuildDir: build.Dir, SkipBuild: true, Accel: "tcg",
		Timeout: 30 * time.Second, OutDir: filepath.Join(t.TempDir(), "run"), Progress: t.Logf,
		Selftests: func(context.Context, selftest.Options) ([]selftest.Artifact, error) {
			return []selftest.Artifact{{Name: "init", Mode: 0o755, Data: init}}, nil
		}})
	t.Logf("after %s: %v", time.Since(start).Round(time.Second), err)
	var ce *cli.Error
	if !errors.As(err, &ce) || ce.Code != cli.ExitFail {
		t.Fatalf("want exit %d for a hung guest, got %v", cli.ExitFail, err)
	}
	for _, want := range []string{"ended with timeout", "(hang): killed after the timeout", "init: waiting for ever"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q", want)
		}
	}
}
