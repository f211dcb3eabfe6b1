package ghjob

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kdefer/kdefer/internal/flock"
	"github.com/kdefer/kdefer/internal/kerneltree"
	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// ImageOptions say which image to build and where.
type ImageOptions struct {
	Image    string // "debian:SUITE", the only kind of image built here
	Dir      string // where roots are kept: Dir/SUITE
	Mirror   string // what debootstrap downloads from; the machine's Debian mirror if empty
	Progress func(format string, args ...any)
}

// imageFiles are the files by which Docker Hub's debian:SUITE image
// differs from a plain `debootstrap --variant=minbase` root: its apt
// sources in deb822 form on deb.debian.org (the suite, its -updates and
// its -security suite), the apt and dpkg settings its build tool
// (debuerreotype) writes for small images, and the file by which
// programs (debootstrap among them) know they run under Docker. %[1]s is
// the suite.
var imageFiles = map[string]string{
	"etc/apt/sources.list.d/debian.sources": `Types: deb
URIs: http://deb.debian.org/debian
Suites: %[1]s %[1]s-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: %[1]s-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`,
	"etc/apt/apt.conf.d/docker-clean": `DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
`,
	"etc/apt/apt.conf.d/docker-gzip-indexes":        "Acquire::GzipIndexes \"true\";\n",
	"etc/apt/apt.conf.d/docker-no-languages":        "Acquire::Languages \"none\";\n",
	"etc/apt/apt.conf.d/docker-autoremove-suggests": "Apt::AutoRemove::SuggestsImportant \"false\";\n",
	"etc/dpkg/dpkg.cfg.d/docker-apt-speedup":        "force-unsafe-io\n",
	".dockerenv":                                    "",
}

// Image returns the root directory of o.Image, building it first when
// o.Dir has none: debootstrap --variant=minbase of the suite, then the
// image's own files (imageFiles), with the package lists and caches
// emptied as in the published image (whose first `apt-get install` needs
// an `apt-get update`). The root is built in SUITE.partial and renamed
// into place under a lock, so a directory named after the suite is
// always complete. Needs root and debootstrap.
func Image(ctx context.Context, o ImageOptions) (string, error) {
	suite, ok := strings.CutPrefix(o.Image, "debian:")
	if !ok || !regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(suite) {
		return "", fmt.Errorf("ghjob: image %q: only debian:SUITE images are built here (with debootstrap)", o.Image)
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	root := filepath.Join(o.Dir, suite)
	if dirExists(root) {
		return root, nil
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return "", fmt.Errorf("ghjob: %w", err)
	}
	lockPath := filepath.Join(o.Dir, ".lock")
	unlock, err := flock.Lock(ctx, lockPath, func() { o.Progress("ghjob: waiting for another run holding %s", lockPath) })
	if err != nil {
		return "", err
	}
	defer unlock()
	if dirExists(root) {
		return root, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("ghjob: building the image root needs root (debootstrap); run as root")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", errors.New("ghjob: debootstrap is not installed: run `apt-get install -y debootstrap`")
	}
	mirror := o.Mirror
	if mirror == "" {
		if mirror, err = kerneltree.MachineMirror(""); err != nil {
			return "", fmt.Errorf("ghjob: %w", err)
		}
	}
	tmp := root + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("ghjob: removing the partial root %s: %w", tmp, err)
	}
	start := time.Now()
	o.Progress("ghjob: debootstrap --variant=minbase %s from %s into %s", suite, mirror, tmp)
	out, err := proc.CombinedOutput(proc.Command(ctx, "debootstrap", "--variant=minbase", suite, tmp, mirror))
	if err != nil {
		logPath := root + ".debootstrap.log"
		_ = os.WriteFile(logPath, out, 0o644)
		os.RemoveAll(tmp)
		return "", fmt.Errorf("ghjob: debootstrap %s from %s failed: %v: %s (full log: %s)", suite, mirror, err, lines.Last(string(out), 1), logPath)
	}
	if err := imageLike(tmp, suite); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, root); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("ghjob: moving the root into place: %w", err)
	}
	o.Progress("ghjob: %s ready in %s: %s", o.Image, time.Since(start).Round(time.Second), root)
	return root, nil
}

// imageLike turns a debootstrap root into the published image's layout.
func imageLike(root, suite string) error {
	for _, p := range []string{"etc/apt/sources.list", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"} {
		if err := os.Remove(filepath.Join(root, p)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("ghjob: %w", err)
		}
	}
	for _, glob := range []string{"var/lib/apt/lists/*", "var/cache/apt/archives/*.deb"} {
		ms, _ := filepath.Glob(filepath.Join(root, glob))
		for _, m := range ms {
			if filepath.Base(m) == "partial" || filepath.Base(m) == "lock" {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("ghjob: %w", err)
			}
		}
	}
	for p, text := range imageFiles {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("ghjob: %w", err)
		}
		if strings.Contains(text, "%[1]s") {
			text = fmt.Sprintf(text, suite)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			return fmt.Errorf("ghjob: %w", err)
		}
	}
	return nil
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
