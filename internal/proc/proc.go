// Package proc starts the external programs kdefer drives (make, QEMU,
// apt-get, dpkg-deb, git) so that they can always be stopped: each runs
// in its own process group, and ending the context kills the whole
// group, grandchildren included (make's compilers, dpkg-deb's
// decompressor, QEMU's helpers), so that a Ctrl-C or a timeout never
// leaves a process behind or a Wait hanging on a pipe a grandchild holds.
package proc

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// WaitDelay bounds how long Wait waits for the output pipes after the
// group was killed.
const WaitDelay = 2 * time.Second

// Command is exec.CommandContext with the process-group rules above.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return KillGroup(c) }
	c.WaitDelay = WaitDelay
	return c
}

// KillGroup kills the process group of a started command (a no-op
// before Start).
func KillGroup(c *exec.Cmd) error {
	if c.Process == nil {
		return nil
	}
	return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
}
