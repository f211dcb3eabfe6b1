// Package debroot builds a minimal Debian root with debootstrap, once,
// under a cache directory: the SFrame toolchain's trixie root
// (internal/toolchain) and the CI container's image root (internal/ghjob)
// are both made here.
//
// A root is built in DIR/SUITE.partial, finished by the caller's Finish
// (a check, or files of its own), and renamed to DIR/SUITE only then,
// under a flock on DIR/.lock: two runs at once and an interrupted run are
// safe, and a directory named after the suite is always complete.
package debroot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kdefer/kdefer/internal/aptsrc"
	"github.com/kdefer/kdefer/internal/flock"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// Options say which suite, with what, where, and how to finish it.
type Options struct {
	Dir      string   // roots are kept as Dir/SUITE
	Suite    string   // Debian suite (bookworm, trixie, ...)
	Include  []string // packages besides the minimal base
	Mirror   string   // Debian mirror URI; the machine's own (aptsrc.MachineMirror) if empty
	EtcApt   string   // where the machine's apt sources are; /etc/apt if empty
	Finish   func(tmp string) error
	Progress func(format string, args ...any)
}

// Ensure returns Dir/Suite, building it first when it does not exist;
// built says whether this call built it.
func Ensure(ctx context.Context, o Options) (root string, built bool, err error) {
	if !regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(o.Suite) {
		return "", false, fmt.Errorf("%q is not a Debian suite name", o.Suite)
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	root = filepath.Join(o.Dir, o.Suite)
	if DirExists(root) {
		return root, false, nil
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return "", false, err
	}
	lockPath := filepath.Join(o.Dir, ".lock")
	unlock, err := flock.Lock(ctx, lockPath, func() { o.Progress("waiting for another run holding %s", lockPath) })
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if DirExists(root) {
		return root, false, nil
	}
	if os.Geteuid() != 0 {
		return "", false, fmt.Errorf("building the Debian %s root in %s needs root (debootstrap, chroot); run as root", o.Suite, o.Dir)
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", false, errors.New("debootstrap is not installed: run `apt-get install -y debootstrap` (or `kcheck doctor --install`)")
	}
	mirror := o.Mirror
	if mirror == "" {
		if mirror, err = aptsrc.MachineMirror(o.EtcApt); err != nil {
			return "", false, err
		}
	}
	tmp := root + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return "", false, fmt.Errorf("removing the partial root %s: %w", tmp, err)
	}
	args := []string{"--variant=minbase"}
	if len(o.Include) > 0 {
		args = append(args, "--include="+strings.Join(o.Include, ","))
	}
	o.Progress("debootstrap %s (%s) from %s into %s", o.Suite, strings.Join(append([]string{"minbase"}, o.Include...), ","), mirror, tmp)
	log, err := proc.CombinedOutput(proc.Command(ctx, "debootstrap", append(args, o.Suite, tmp, mirror)...))
	var pe *proc.Error
	if errors.As(err, &pe) {
		logPath := root + ".debootstrap.log"
		_ = os.WriteFile(logPath, log, 0o644)
		os.RemoveAll(tmp)
		return "", false, fmt.Errorf("debootstrap %s from %s failed (%v): %s (full log: %s)",
			o.Suite, mirror, pe.Err, lines.Last(string(log), 1), logPath)
	}
	if o.Finish != nil {
		if err := o.Finish(tmp); err != nil {
			os.RemoveAll(tmp)
			return "", false, err
		}
	}
	if err := os.Rename(tmp, root); err != nil {
		os.RemoveAll(tmp)
		return "", false, fmt.Errorf("moving the root into place: %w", err)
	}
	return root, true, nil
}

// DirExists reports whether p is a directory.
func DirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
