package kerneltree

import (
	"context"
	"os/exec"

	"github.com/kdefer/kdefer/internal/proc"
)

// command runs helpers that fork helpers of their own (dpkg-deb runs a
// decompressor, apt-get its download methods, git its pack writer) in
// their own process group: see internal/proc.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return proc.Command(ctx, name, args...)
}
