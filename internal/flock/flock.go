// Package flock is the one advisory file lock kdefer takes around its
// shared caches (the tree cache, a kernel build directory, a lint
// scratch clone, a repository kgen writes): an exclusive flock(2) on a
// lock file, waited for with a progress line, cancelled with the
// context. The kernel drops the lock when the holder dies, so a killed
// run never leaves a stale lock behind.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Poll is how often a waiting Lock retries.
var Poll = 200 * time.Millisecond

// ErrBusy is returned by TryLock when another process holds the lock.
var ErrBusy = errors.New("locked by another process")

// Lock takes the exclusive lock on path (created if need be), waiting
// while another process holds it; wait, when not nil, is called once
// when the wait begins. The returned function releases the lock.
func Lock(ctx context.Context, path string, wait func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file: %w", err)
	}
	for said := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !said && wait != nil {
			wait()
		}
		said = true
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(Poll):
		}
	}
}

// TryLock is Lock without the wait: ErrBusy when another process holds
// the lock.
func TryLock(path string) (unlock func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	unlock, err = Lock(ctx, path, nil)
	if errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("%s: %w", path, ErrBusy)
	}
	return unlock, err
}
