//go:build kgentest

package main

import (
	"os"
	"syscall"
	"time"

	"github.com/kdefer/kdefer/internal/gitapply"
)

// The end-to-end tests build kgen with -tags kgentest to reach the
// transaction's windows: KGEN_TEST_PAUSE_MS widens the gaps between its
// steps, KGEN_TEST_KILL_AT=POINT makes the process SIGKILL itself at that
// point. Release builds have no such hook and read no such variable.
func init() {
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
