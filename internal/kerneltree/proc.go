package kerneltree

import (
	"context"
	"os/exec"
	"syscall"
	"time"
)

// command is exec.CommandContext for helpers that fork helpers of their
// own (dpkg-deb runs a decompressor, apt-get its download methods, git
// its pack writer): the command runs in its own process group, the whole
// group is killed when ctx ends, and Wait does not hang on a pipe a
// grandchild still holds.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error {
		if c.Process == nil {
			return nil
		}
		return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	c.WaitDelay = 2 * time.Second
	return c
}
