package flock

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Another process (flock(1) from util-linux) holds the lock: TryLock
// says busy, Lock waits and says so once, and gets the lock when the
// holder exits.
func TestLockAgainstAnotherProcess(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	p := filepath.Join(t.TempDir(), "x.lock")
	holder := exec.Command("flock", p, "sleep", "1")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	time.Sleep(300 * time.Millisecond)
	if _, err := TryLock(p); !errors.Is(err, ErrBusy) {
		t.Fatalf("TryLock while held: %v", err)
	}
	waits := 0
	start := time.Now()
	unlock, err := Lock(context.Background(), p, func() { waits++ })
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if waits != 1 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("waits %d after %s", waits, time.Since(start))
	}
}

func TestLockCancel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// flock locks belong to the open file: a second open in this process
	// conflicts like another process would.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, p, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock: %v", err)
	}
}
