package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ending the context kills the grandchild too, and Wait returns at once
// although the grandchild held the output pipe.
func TestCancelKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	c := Command(ctx, "sh", "-c", "sleep 60 & echo $! >"+pidFile+"; wait")
	var out strings.Builder
	c.Stdout = &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for i := 0; i < 100 && pid == 0; i++ {
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 {
		t.Fatal("the grandchild did not start")
	}
	start := time.Now()
	cancel()
	c.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Wait took %s after the cancel", d)
	}
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(pid, 0); err == nil {
		// A zombie is already dead; only a live sleep is an error.
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(b), ") Z") {
			t.Errorf("grandchild %d survived the cancel", pid)
		}
	}
}

// Output keeps standard error for the error, which names the command,
// and the exit status stays readable through errors.As.
func TestOutputError(t *testing.T) {
	dir := t.TempDir()
	c := Command(context.Background(), "sh", "-c", "echo out; echo why >&2; exit 3")
	c.Dir = dir
	out, err := Output(c)
	var pe *Error
	if string(out) != "out\n" || !errors.As(err, &pe) || pe.ExitCode() != 3 || pe.Stderr != "why" {
		t.Fatalf("out %q, err %v", out, err)
	}
	if want := "sh -c echo out; echo why >&2; exit 3 (in " + dir + "): exit status 3: why"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if out, err := CombinedOutput(Command(context.Background(), "sh", "-c", "echo a; echo b >&2")); err != nil || string(out) != "a\nb\n" {
		t.Fatalf("combined: %q %v", out, err)
	}
}
