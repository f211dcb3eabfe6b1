//go:build kgentest

package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/kdefer/kdefer/internal/gitapply"
	"github.com/kdefer/kdefer/internal/render"
)

// The end-to-end tests build kgen with -tags kgentest to reach the
// transaction's windows: KGEN_TEST_PAUSE_MS widens the gaps between its
// steps, KGEN_TEST_KILL_AT=POINT makes the process SIGKILL itself at that
// point, KGEN_TEST_RENDER_PAUSE_MS pauses a rendering (after its probes,
// before its templates run) and says so on stderr. Release builds have
// no such hook and read no such variable.
func init() {
	if ms := os.Getenv("KGEN_TEST_RENDER_PAUSE_MS"); ms != "" {
		d, _ := time.ParseDuration(ms + "ms")
		render.Hook = func(p string) {
			fmt.Fprintf(os.Stderr, "kgen-test: paused at %s\n", p)
			time.Sleep(d)
		}
	}
	ms, at := os.Getenv("KGEN_TEST_PAUSE_MS"), os.Getenv("KGEN_TEST_KILL_AT")
	if ms == "" && at == "" {
		return
	}
	d, _ := time.ParseDuration(ms + "ms")
	gitapply.Hook = func(p string) error {
		if p == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		time.Sleep(d)
		return nil
	}
}
