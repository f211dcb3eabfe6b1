// Package proc starts the external programs kdefer drives (make, QEMU,
// apt-get, dpkg-deb, git) so that they can always be stopped: each runs
// in its own process group, and ending the context kills the whole
// group, grandchildren included (make's compilers, dpkg-deb's
// decompressor, QEMU's helpers), so that a Ctrl-C or a timeout never
// leaves a process behind or a Wait hanging on a pipe a grandchild holds.
package proc

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
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

// Error is a command that failed: its command line, how it ended, and
// what it wrote on standard error.
type Error struct {
	Args   []string // the command line
	Dir    string   // where it ran ("" for the current directory)
	Err    error    // an *exec.ExitError, or why it could not start
	Stderr string   // its standard error, trimmed
}

func (e *Error) Error() string {
	msg := strings.Join(e.Args, " ")
	if e.Dir != "" {
		msg += " (in " + e.Dir + ")"
	}
	msg += ": " + e.Err.Error()
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the command's exit status (-1 when it did not start or
// was killed by a signal).
func (e *Error) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Output runs c, whose Stdout and Stderr must be unset, and returns its
// standard output. When c fails the error is an *Error, which carries
// the standard error; the output is returned all the same.
func Output(c *exec.Cmd) ([]byte, error) {
	var out, stderr bytes.Buffer
	c.Stdout, c.Stderr = &out, &stderr
	if err := c.Run(); err != nil {
		return out.Bytes(), &Error{Args: c.Args, Dir: c.Dir, Err: err, Stderr: strings.TrimSpace(stderr.String())}
	}
	return out.Bytes(), nil
}

// CombinedOutput is Output with standard output and standard error in
// one stream, which is also the *Error's Stderr.
func CombinedOutput(c *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return out.Bytes(), &Error{Args: c.Args, Dir: c.Dir, Err: err, Stderr: strings.TrimSpace(out.String())}
	}
	return out.Bytes(), nil
}
