package gitapply

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Lock is an exclusive lock on a repository for kgen (.git/kgen.lock,
// flock). A second kgen apply, drop or status on the same tree refuses
// at once instead of waiting: the first one finishes in well under a
// second, so a conflict means two scripts race, which the user should see.
type Lock struct{ f *os.File }

// ErrLocked is returned (wrapped) when another kgen holds the lock.
var ErrLocked = errors.New("another kgen is working on this tree")

// Acquire takes the lock of the repository whose git directory is gitDir.
func Acquire(gitDir string) (*Lock, error) {
	p := filepath.Join(gitDir, "kgen.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		data, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(data))
			return nil, fmt.Errorf("%w (pid %s holds %s)", ErrLocked, pid, p)
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f}, nil
}

// Release drops the lock (the file stays; it is harmless).
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}
